/**
 * Telling JetStream what became of a delivered job: `+ACK`, `-NAK` (with a delay) or `+TERM`, sent
 * to the delivery's reply subject.
 *
 * Acks are plain publishes, not confirmed one by one, because a lost ack costs nothing but a
 * redelivery: every job's outcome is committed in PostgreSQL before it is acked, and every consumer
 * is idempotent against PostgreSQL (a delivery already final is acked without a send, a message
 * already fanned out creates nothing), so an ack the server never saw hands the job out again after
 * ack_wait and that claim finds the work done. Confirming each ack (the "double ack") cost a
 * request/reply and its timer per job, the largest JetStream cost of a worker. One PING per batch
 * still tells the caller the server has them (or that the connection failed), and keeps a worker
 * from queuing acks faster than the socket drains.
 *
 * Naks and terms stay confirmed: they are rare (a retry, a dead letter), and a retry's nak must be
 * in effect before the next claim looks (a retry without delay is handed out at once).
 */
import type { NatsConnection } from '@nats-io/transport-node';

/** The body of a nak that asks for redelivery after `delayMs` (nats-server 2.7.1+). */
export function nakBody(delayMs: number): string {
  const ms = Math.max(0, Math.round(delayMs));
  return ms > 0 ? `-NAK ${JSON.stringify({ delay: ms * 1_000_000 })}` : '-NAK';
}

/**
 * Sends `+ACK` to each reply subject, then waits (up to `timeoutMs`) for one PING/PONG: the server
 * has read every ack before it answers. Rejects when the connection fails or the server does not
 * answer in time; the acks the server did not get are handed out again after ack_wait.
 */
export async function ackAll(nc: NatsConnection, replies: string[], timeoutMs: number): Promise<void> {
  if (!replies.length) return;
  for (const reply of replies) nc.publish(reply, '+ACK');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    const answered = await Promise.race([nc.flush().then(() => true), late]);
    if (!answered) throw new Error(`the NATS server did not answer within ${timeoutMs} ms after ${replies.length} acks`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends `-NAK…` or `+TERM` and waits for the server's empty reply, so the caller knows it was
 * applied: a retry's nak is in place before the next claim looks.
 */
export async function confirm(nc: NatsConnection, reply: string, body: string, timeoutMs: number): Promise<void> {
  await nc.request(reply, body, { timeout: timeoutMs });
}
