/**
 * The relay's JetStream side: publishes outbox rows to `<prefix>.jobs.<topic>` with `msgID` = the job
 * id (the `Nats-Msg-Id` header JetStream de-duplicates on) and waits for each PubAck.
 */
import { headers } from '@nats-io/transport-node';
import type { OutboxPublisher, PublishResult } from '../../relay/outbox-relay.js';
import type { OutboxRow } from '../../relay/outbox.js';
import type { NatsLink } from './link.js';
import { createdAtHeader, type JobNames } from './names.js';

export function jetStreamPublisher(link: NatsLink, names: JobNames, publishTimeoutMs: number): OutboxPublisher {
  return {
    ready: () => link.current() !== undefined,
    onReady: (cb) => link.onReady(cb),
    async publish(rows: OutboxRow[]): Promise<PublishResult[]> {
      const conn = link.current();
      if (!conn) return rows.map((r) => ({ id: r.id, ok: false, error: new Error('NATS is not connected') }));
      // All at once: the requests pipeline on one connection and land in the stream in this order.
      const settled = await Promise.allSettled(rows.map((r) => {
        const h = headers();
        h.set(createdAtHeader, String(r.createdAt.getTime()));
        return conn.js.publish(names.subject(r.topic), r.payload, {
          msgID: r.id,
          headers: h,
          timeout: publishTimeoutMs,
          // Only our stream may take it: another stream capturing the subject would be a misconfiguration.
          expect: { streamName: names.stream },
        });
      }));
      const results = settled.map((s, i): PublishResult =>
        s.status === 'fulfilled'
          ? { id: rows[i]!.id, ok: true, duplicate: s.value.duplicate }
          : { id: rows[i]!.id, ok: false, error: s.reason });
      // No responders (nats.js names it JetStreamNotEnabled, a class it does not export): our stream is
      // gone, from a server that lost its state or an operator. Set it up again.
      if (settled.some((s) => s.status === 'rejected' && (s.reason as Error)?.name === 'JetStreamNotEnabled')) link.recheck();
      return results;
    },
  };
}
