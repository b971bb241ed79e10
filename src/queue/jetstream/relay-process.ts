/**
 * The outbox relay on its own, for the `relay` process role: its own NATS link and stream checks,
 * the JetStream publisher, and the relay loop. Queues in other processes then run with
 * `relay: false`.
 */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { openJobStream, type JobStreamOptions } from './job-stream.js';
import { jetStreamPublisher } from './publisher.js';
import { createOutboxRelay, type OutboxRelayOptions } from '../../relay/outbox-relay.js';

export interface JetStreamRelayOptions extends JobStreamOptions {
  sql: Sql;
  log: Logger;
  relayOptions?: Pick<OutboxRelayOptions, 'batchSize' | 'afterPublish' | 'clock'>;
}

export async function startJetStreamRelay(o: JetStreamRelayOptions): Promise<{ close(): Promise<void> }> {
  const log = o.log.child({ part: 'relay' });
  const { link, names, timeoutMs } = await openJobStream(o, log);
  const relay = createOutboxRelay({ sql: o.sql, log, publisher: jetStreamPublisher(link, names, timeoutMs), ...o.relayOptions });
  relay.start();
  return {
    close: async () => {
      await relay.close();
      await link.close();
    },
  };
}
