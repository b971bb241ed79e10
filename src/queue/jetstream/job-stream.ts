/**
 * A process's link to the job stream: the NATS connection (link.ts) plus the stream checked or
 * created after every (re)connect. The queue and a relay running on its own share it.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { startNatsLink, type NatsConn, type NatsLink } from './link.js';
import { jobNames, type JobNames } from './names.js';
import { checkStreamSettings, defaultStreamSettings, ensureJobStream, jobStreamConfig } from './streams.js';

export interface JobStreamOptions {
  /** One URL or a cluster's seed list. */
  natsUrl: string | string[];
  /** Stream `<prefix>_jobs`, subjects `<prefix>.jobs.<topic>`; default "herald". */
  streamPrefix?: string;
  /** Stream replicas: 1 (default) on one server, 3 on a 3-node cluster. */
  replicas?: number;
  /** JetStream's de-duplication window (streams.ts says why 10 minutes); at least 2 minutes. */
  duplicateWindowMs?: number;
  /** Stream size cap in bytes; -1 (default) for none. */
  maxBytes?: number;
  /** How long start waits for NATS before going on without it (jobs then wait in the outbox); default 2 s. */
  connectWaitMs?: number;
  /** Timeout of a publish, an ack confirmation and other requests; default 5 s. */
  requestTimeoutMs?: number;
}

export interface JobStream {
  link: NatsLink;
  names: JobNames;
  timeoutMs: number;
}

/**
 * Starts the link and waits up to connectWaitMs for it. Rejects with a JetStreamConfigError when
 * the stream exists with a configuration that would lose jobs; starts without NATS (and says so)
 * when NATS does not answer in time. `onSetup` runs after the stream is in place, on every
 * (re)connect, before the link reports ready.
 */
export async function openJobStream(
  o: JobStreamOptions, log: Logger, onSetup: (c: NatsConn) => Promise<void> | void = () => {},
): Promise<JobStream> {
  const names = jobNames(o.streamPrefix ?? 'herald');
  const settings = {
    replicas: o.replicas ?? defaultStreamSettings.replicas,
    duplicateWindowMs: o.duplicateWindowMs ?? defaultStreamSettings.duplicateWindowMs,
    maxBytes: o.maxBytes ?? defaultStreamSettings.maxBytes,
  };
  checkStreamSettings(settings);
  const timeoutMs = o.requestTimeoutMs ?? 5_000;
  let seen = false;
  const link = startNatsLink({
    servers: o.natsUrl,
    log,
    name: `herald ${hostname()} ${process.pid}`,
    requestTimeoutMs: timeoutMs,
    setup: async (c) => {
      const created = await ensureJobStream(c.jsm, jobStreamConfig(names, settings, c.features), log);
      if (created && seen) {
        // The server lost its state (or someone removed the stream): what was relayed and not yet
        // done went with it. PostgreSQL still has the state those jobs were for.
        log.error({ stream: names.stream }, 'the JetStream job stream had vanished and was created again: jobs relayed to it and not yet done are lost');
      }
      seen = true;
      await onSetup(c);
    },
  });
  try {
    if (!(await link.ready(o.connectWaitMs ?? 2_000))) {
      log.warn({ servers: o.natsUrl }, 'starting without NATS: jobs wait in the PostgreSQL outbox until it answers');
    }
  } catch (err) {
    await link.close();
    throw err;
  }
  return { link, names, timeoutMs };
}
