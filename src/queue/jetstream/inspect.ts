/**
 * A one-off look at the job stream for `herald doctor`: connects once (no retries, unlike the
 * link a running process keeps), reads the stream's configuration and cluster, and closes.
 */
import { connect } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { jobNames } from './names.js';
import { streamSafetyProblems } from './streams.js';

export interface JobStreamFacts {
  serverVersion: string;
  stream: string;
  /** undefined: no such stream. */
  replicas?: number;
  problems?: string[];
}

export async function inspectJobStream(o: { natsUrl: string[]; prefix: string; timeoutMs?: number }): Promise<JobStreamFacts> {
  const names = jobNames(o.prefix);
  const nc = await connect({ servers: o.natsUrl, name: 'herald doctor', timeout: o.timeoutMs ?? 3_000, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc, { timeout: o.timeoutMs ?? 3_000 });
    const facts: JobStreamFacts = { serverVersion: nc.info?.version ?? 'unknown', stream: names.stream };
    try {
      const info = await jsm.streams.info(names.stream);
      facts.replicas = info.config.num_replicas;
      facts.problems = streamSafetyProblems(info.config);
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    }
    return facts;
  } finally {
    await nc.close();
  }
}
