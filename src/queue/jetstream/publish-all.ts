/**
 * A batch of JetStream publishes, pipelined on one connection: every message goes out at once with
 * its own reply subject under one inbox, and the PubAcks are matched back by that subject.
 *
 * Why not nats.js's `js.publish` per message: each is a full request (a mux entry, a timer, and an
 * Error object built when it is cleaned up, even after a success), which made the relay's CPU per
 * job several times what the publish itself costs. Here a batch costs one subscription and one timer.
 *
 * Each message's result is its own: a refusal (a full `discard: new` stream, a mismatched stream),
 * no responders (no stream captures the subject, or JetStream is down) or no PubAck in time fails
 * that message only. A message without a PubAck may still have been stored; the caller publishes it
 * again with the same `Nats-Msg-Id` and the stream drops the copy.
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { JetStreamApiError, type ApiError } from '@nats-io/jetstream';

export interface OutgoingMessage {
  subject: string;
  payload: string;
  headers: MsgHdrs;
}

export type PubAckResult =
  | { ok: true; stream: string; seq: number; duplicate: boolean }
  | { ok: false; error: Error; noResponders: boolean };

/** The PubAck (or the refusal) in a reply. */
export function readPubAck(m: Msg): PubAckResult {
  if (m.data.length === 0) {
    const code = m.headers?.code ?? 0;
    const error = new Error(`JetStream answered the publish with status ${code} ${m.headers?.description ?? ''}`.trim());
    return { ok: false, error, noResponders: code === 503 };
  }
  try {
    const v = m.json<{ error?: ApiError; stream?: string; seq?: number; duplicate?: boolean }>();
    if (v.error) return { ok: false, error: new JetStreamApiError(v.error), noResponders: false };
    if (!v.stream) return { ok: false, error: new Error('JetStream sent a PubAck without a stream'), noResponders: false };
    return { ok: true, stream: v.stream, seq: v.seq ?? 0, duplicate: v.duplicate === true };
  } catch (err) {
    return { ok: false, error: new Error('JetStream sent an unreadable PubAck', { cause: err }), noResponders: false };
  }
}

/**
 * Publishes every message and resolves with one result per message, in order, once each has its
 * PubAck, after `timeoutMs`, or when `lost` aborts (the connection dropped). Never rejects.
 */
export function publishAll(nc: NatsConnection, msgs: OutgoingMessage[], timeoutMs: number, lost?: AbortSignal): Promise<PubAckResult[]> {
  const results: (PubAckResult | undefined)[] = new Array<PubAckResult | undefined>(msgs.length);
  const failAll = (error: Error) => Array.from(results, (r) => r ?? { ok: false as const, error, noResponders: false });
  if (!msgs.length) return Promise.resolve([]);
  return new Promise((resolve) => {
    const inbox = createInbox();
    let waiting = msgs.length;
    let finished = false;
    let sub: Subscription | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (why?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      lost?.removeEventListener('abort', onLost);
      if (sub && !sub.isClosed()) sub.unsubscribe();
      resolve(failAll(why ?? new Error(`no PubAck within ${timeoutMs} ms`)));
    };
    const onLost = () => finish(new Error('the NATS connection dropped before the PubAck'));
    const settle = (i: number, r: PubAckResult) => {
      if (results[i] || finished) return;
      results[i] = r;
      if (--waiting === 0) finish();
    };
    try {
      sub = nc.subscribe(`${inbox}.*`, {
        callback: (err, m) => {
          if (err) return finish(err);
          const i = Number(m.subject.slice(inbox.length + 1));
          if (Number.isInteger(i) && i >= 0 && i < msgs.length) settle(i, readPubAck(m));
        },
      });
    } catch (err) {
      return finish(err as Error); // the connection is closed or closing
    }
    timer = setTimeout(() => finish(), timeoutMs);
    if (lost?.aborted) return onLost();
    lost?.addEventListener('abort', onLost, { once: true });
    // The subscription goes out first on this connection, so no PubAck can beat it to the server.
    for (const [i, m] of msgs.entries()) {
      try {
        nc.publish(m.subject, m.payload, { reply: `${inbox}.${i}`, headers: m.headers });
      } catch (err) {
        // Too large for the server, or the connection is closing: this message only.
        settle(i, { ok: false, error: err as Error, noResponders: false });
      }
    }
  });
}
