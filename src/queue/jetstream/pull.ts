/**
 * Pull requests at the protocol level (acks are in acks.ts), because a claim needs what nats.js's
 * `fetch` does not offer: waits under its 1 s floor (a 0 ms or 300 ms claim), returning as soon as
 * the first jobs are there, and an abort that cannot strand a job in an inbox nobody reads.
 *
 * A claim sends one request `{batch: max, no_wait: true, expires: waitMs}` to
 * `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`. With both flags the server waits up to `expires`
 * for the first message, then delivers what is available and ends the request with a status
 * (408 on 2.9.10, 404 on newer servers); a full batch ends it without one. On abort we drain the
 * inbox subscription: the server drops a waiting request whose reply subject lost its interest,
 * and whatever it sent before our UNSUB still arrives and is returned, so nothing sits unread until
 * ack_wait (checked on 2.9.10 in queue.test.ts).
 */
import { createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { sleep } from './link.js';

export interface DeliveryInfo {
  stream: string;
  consumer: string;
  /** How many times the server handed this message out, 1 the first time. */
  deliveryCount: number;
  streamSeq: number;
  /** Stream time of the message, ms since the epoch. */
  timestampMs: number;
}

/** Reads the ack subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`, or
 *  the newer form with `<domain>.<account hash>` after `ACK` and a random token at the end. */
export function parseAckSubject(reply: string): DeliveryInfo {
  const t = reply.split('.');
  if (t.length === 9) t.splice(2, 0, '_', '');
  if (t.length < 11 || t[0] !== '$JS' || t[1] !== 'ACK') throw new Error(`not a JetStream ack subject: ${reply}`);
  return {
    stream: t[4]!,
    consumer: t[5]!,
    deliveryCount: Number(t[6]),
    streamSeq: Number(t[7]),
    timestampMs: Math.floor(Number(BigInt(t[9]!) / 1_000_000n)),
  };
}

/** Why a pull ended early with an error the caller should act on. */
export class PullError extends Error {
  override name = 'PullError';
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

export interface PullOptions {
  max: number;
  waitMs: number;
  signal?: AbortSignal | undefined;
  /** The connection's own "lost" signal: a pull ends when its connection drops. */
  lost?: AbortSignal | undefined;
  /** Past the server's own expiry, how long we wait for its closing status before draining. */
  graceMs?: number;
}

/** Up to `max` messages, waiting up to `waitMs` for the first. */
export function pull(nc: NatsConnection, stream: string, consumer: string, o: PullOptions): Promise<Msg[]> {
  const got: Msg[] = [];
  return new Promise<Msg[]>((resolve, reject) => {
    let finished = false;
    let draining = false;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', stop);
      o.lost?.removeEventListener('abort', stop);
      if (!sub.isClosed() && !draining) sub.unsubscribe();
      if (err && !got.length) reject(err);
      else resolve(got);
    };
    const stop = () => {
      if (finished || draining) return;
      draining = true;
      // UNSUB then a PING/PONG: messages the server sent before it saw the UNSUB still land here.
      void Promise.race([sub.drain(), sleep(2_000)])
        .catch(() => undefined)
        .finally(() => {
          if (!sub.isClosed()) sub.unsubscribe();
          finish();
        });
    };
    const inbox = createInbox();
    const sub = nc.subscribe(inbox, {
      callback: (err, m) => {
        if (err) return finish(err);
        const code = m.headers?.code ?? 0;
        if (code === 0) {
          got.push(m);
          if (got.length >= o.max) finish();
        } else if (code === 100) {
          // idle heartbeat or flow control: not requested, harmless
        } else if (code === 404 || code === 408) {
          finish();
        } else {
          // 409 (consumer deleted, max waiting exceeded, leadership change…), 503 (no responders:
          // no such consumer or stream, or JetStream down).
          finish(new PullError(`JetStream pull ${stream}/${consumer} ended with ${code} ${m.headers?.description ?? ''}`.trim(), code));
        }
      },
    });
    const timer = setTimeout(stop, o.waitMs + (o.graceMs ?? 2_000));
    o.signal?.addEventListener('abort', stop, { once: true });
    o.lost?.addEventListener('abort', stop, { once: true });
    if (o.signal?.aborted || o.lost?.aborted) return finish();
    const request: Record<string, unknown> = { batch: o.max, no_wait: true };
    if (o.waitMs > 0) request.expires = Math.round(o.waitMs * 1_000_000);
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, JSON.stringify(request), { reply: inbox });
  });
}
