/**
 * The relay's JetStream side: publishes a batch of outbox rows to `<prefix>.jobs.<topic>` with
 * `Nats-Msg-Id` = the job id (JetStream de-duplicates on it), all at once (publish-all.ts), and
 * reports each row's PubAck. A row without one stays in the outbox for the relay's next pass.
 */
import { headers } from '@nats-io/transport-node';
import { PubHeaders } from '@nats-io/jetstream';
import type { OutboxPublisher, PublishResult } from '../../relay/outbox-relay.js';
import type { OutboxRow } from '../../relay/outbox.js';
import type { NatsLink } from './link.js';
import { createdAtHeader, msgIdHeader, type JobNames } from './names.js';
import { publishAll } from './publish-all.js';

export function jetStreamPublisher(link: NatsLink, names: JobNames, publishTimeoutMs: number): OutboxPublisher {
  return {
    ready: () => link.current() !== undefined,
    onReady: (cb) => link.onReady(cb),
    async publish(rows: OutboxRow[]): Promise<PublishResult[]> {
      const conn = link.current();
      if (!conn) return rows.map((r) => ({ id: r.id, ok: false, error: new Error('NATS is not connected') }));
      const acks = await publishAll(conn.nc, rows.map((r) => {
        const h = headers();
        h.set(msgIdHeader, r.id);
        h.set(createdAtHeader, String(r.createdAt.getTime()));
        // Only our stream may take it: another stream capturing the subject would be a misconfiguration.
        h.set(PubHeaders.ExpectedStreamHdr, names.stream);
        return { subject: names.subject(r.topic), payload: r.payload, headers: h };
      }), publishTimeoutMs, conn.lost);
      // No responders: no stream captures the subject any more, from a server that lost its state
      // or an operator. Set it up again.
      if (acks.some((a) => !a.ok && a.noResponders)) link.recheck();
      return acks.map((a, i): PublishResult => (a.ok
        ? { id: rows[i]!.id, ok: true, duplicate: a.duplicate }
        : { id: rows[i]!.id, ok: false, error: a.error }));
    },
  };
}
