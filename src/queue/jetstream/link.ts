/**
 * The NATS connection of one queue (or relay) process, kept up for as long as the process runs.
 *
 * Herald must start and keep accepting work while NATS is down (jobs wait in the PostgreSQL outbox),
 * so the first connection is retried in the background like every later one, and nothing blocks on
 * it except what needs NATS (claims, the relay). After each (re)connect `setup` runs (stream checks)
 * before the link reports ready; a configuration Herald refuses (JetStreamConfigError) stops the link
 * for good, and `ready()` then rejects with it.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { retryDelayMs } from '../../domain/retry.js';
import { serverFeatures, type ServerFeatures } from './features.js';
import { JetStreamConfigError } from './streams.js';

export interface NatsConn {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  features: ServerFeatures;
  /** Aborted when this connection drops, so pulls in flight end at once instead of at their expiry. */
  lost: AbortSignal;
}

export interface NatsLinkOptions {
  servers: string | string[];
  log: Logger;
  /** The client name the server shows (`nats server report connections`). */
  name: string;
  /** Runs after every (re)connect before the link reports ready. */
  setup(conn: NatsConn): Promise<void>;
  /** Timeout of JetStream API requests and of each connect attempt. */
  requestTimeoutMs?: number;
}

export interface NatsLink {
  /** The connection while connected and set up, else undefined. */
  current(): NatsConn | undefined;
  /** Waits up to `ms` for the link to be ready; undefined if it is not by then. Rejects with the
   *  configuration error that stopped the link. */
  ready(ms: number, signal?: AbortSignal): Promise<NatsConn | undefined>;
  /** Called each time the link becomes ready (first connect and every reconnect). */
  onReady(cb: () => void): () => void;
  /** Runs setup again (a publish found no stream: the server lost its state or someone removed it). */
  recheck(): void;
  close(): Promise<void>;
}

/** Reconnect attempts back off 250 ms doubling to 5 s: fast enough to catch a restart, quiet in an outage. */
const reconnectBackoff = { baseMs: 250, maxMs: 5_000 };
/** A server that vanished without closing the socket is noticed within 3 pings × 10 s, not nats.js's
 *  default 2 × 2 minutes. */
const pingIntervalMs = 10_000;
const maxPingOut = 3;

export function startNatsLink(o: NatsLinkOptions): NatsLink {
  const timeout = o.requestTimeoutMs ?? 5_000;
  const closing = new AbortController();
  const readyCallbacks = new Set<() => void>();
  const waiters = new Set<() => void>();
  let conn: NatsConn | undefined;
  let fatal: Error | undefined;
  let nc: NatsConnection | undefined;
  let lost = new AbortController();
  let epoch = 0;
  let lastRecheck = 0;
  let warnedVersion = '';

  const changed = () => {
    for (const w of [...waiters]) w();
  };

  const bringUp = async (c: NatsConnection, js: JetStreamClient, jsm: JetStreamManager): Promise<void> => {
    const mine = ++epoch;
    for (let failures = 0; !closing.signal.aborted && !c.isClosed() && mine === epoch; ) {
      try {
        // Mid-reconnect the connection may not have the server's INFO yet: that is transient (retried
        // below), never a reason to refuse NATS for good.
        const version = c.info?.version;
        if (!version) throw new Error('the NATS server has not told its version yet');
        let features: ServerFeatures;
        try {
          features = serverFeatures(version);
        } catch (err) {
          throw new JetStreamConfigError((err as Error).message);
        }
        if (features.version !== warnedVersion) {
          warnedVersion = features.version;
          // https://jepsen.io/analyses/nats-2.12.1: below 2.10.23 NATS is a transport only.
          o.log[features.fsyncBeforeAckPossible ? 'info' : 'warn'](
            { version: features.version },
            features.fsyncBeforeAckPossible
              ? 'connected to nats-server; PostgreSQL stays the record of truth'
              : 'connected to nats-server, which acks before fsync (no sync_interval: always before 2.10): ' +
                  'PostgreSQL stays the record of truth and JetStream is only the transport',
          );
        }
        const candidate: NatsConn = { nc: c, js, jsm, features, lost: lost.signal };
        await o.setup(candidate);
        if (mine !== epoch || c.isClosed()) return;
        conn = candidate;
        changed();
        for (const cb of readyCallbacks) cb();
        return;
      } catch (err) {
        if (err instanceof JetStreamConfigError) {
          fatal = err;
          o.log.error({ err }, 'JetStream configuration refused; this process will not use NATS');
          const closed = c.close().catch(() => undefined);
          changed();
          await closed;
          return;
        }
        failures++;
        o.log.warn({ err, failures }, 'JetStream setup failed; retrying');
        await sleep(retryDelayMs(failures, undefined, reconnectBackoff), closing.signal);
      }
    }
  };

  const serve = async (c: NatsConnection): Promise<void> => {
    const js = jetstream(c, { timeout });
    const jsm = await jetstreamManager(c, { timeout, checkAPI: false });
    void (async () => {
      for await (const s of c.status()) {
        if (s.type === 'disconnect') {
          conn = undefined;
          lost.abort();
          o.log.warn({ server: s.server }, 'NATS disconnected; jobs wait in the PostgreSQL outbox until it is back');
          changed();
        } else if (s.type === 'reconnect') {
          lost = new AbortController();
          o.log.info({ server: s.server }, 'NATS reconnected');
          void bringUp(c, js, jsm);
        }
      }
    })();
    await bringUp(c, js, jsm);
    await c.closed();
    conn = undefined;
    lost.abort();
    changed();
  };

  const running = (async () => {
    for (let failures = 0; !closing.signal.aborted && !fatal; ) {
      let c: NatsConnection;
      try {
        c = await connect({
          servers: o.servers, name: o.name, timeout,
          // After the first connect nats.js reconnects by itself, for ever.
          maxReconnectAttempts: -1, reconnectTimeWait: 500, pingInterval: pingIntervalMs, maxPingOut,
          // By default nats.js builds two Error objects (each capturing a stack) for every request
          // up front, in case it fails; with a request per job (a retry's nak) that is garbage for
          // nothing. A failed request still rejects with an error; it lacks only our frames in its
          // stack, and our callers say what they were doing.
          noAsyncTraces: true,
        });
      } catch (err) {
        failures++;
        if (failures === 1) o.log.warn({ err, servers: o.servers }, 'NATS unreachable; jobs wait in the PostgreSQL outbox until it answers');
        await sleep(retryDelayMs(failures, undefined, reconnectBackoff), closing.signal);
        continue;
      }
      if (closing.signal.aborted) {
        await c.close();
        break;
      }
      failures = 0;
      nc = c;
      lost = new AbortController();
      await serve(c);
      nc = undefined;
      if (!closing.signal.aborted && !fatal) o.log.error('NATS connection closed; connecting again');
    }
  })();

  return {
    current: () => conn,
    ready(ms, signal) {
      if (fatal) return Promise.reject(fatal);
      if (conn || ms <= 0 || closing.signal.aborted || signal?.aborted) return Promise.resolve(conn);
      return new Promise<NatsConn | undefined>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          signal?.removeEventListener('abort', done);
          if (fatal) reject(fatal);
          else resolve(conn);
        };
        const check = () => {
          if (fatal || conn || closing.signal.aborted) done();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener('abort', done, { once: true });
        waiters.add(check);
      });
    },
    onReady(cb) {
      readyCallbacks.add(cb);
      return () => readyCallbacks.delete(cb);
    },
    recheck() {
      const c = conn;
      // Real time: this paces requests to the server, it decides nothing about jobs.
      if (!c || Date.now() - lastRecheck < 1_000) return;
      lastRecheck = Date.now();
      void bringUp(c.nc, c.js, c.jsm);
    },
    async close() {
      closing.abort();
      lost.abort(); // pulls in flight end now rather than at their expiry
      changed();
      const c = nc;
      if (c && !c.isClosed() && !fatal) {
        // Drain flushes our last acks and naks; bounded, since a dead server never answers.
        await Promise.race([c.drain().catch(() => undefined), sleep(2_000)]);
        await c.close().catch(() => undefined);
      }
      await running;
    },
  };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
