/**
 * A whole Herald deployment for chaos tests, every part a process of its own on loopback: a fresh
 * PostgreSQL database, a 3-node NATS cluster, the sandbox, N API processes (each also runs the
 * outbox relay) and M worker processes, all on the JetStream queue with 3 replicas.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres, { type Sql } from 'postgres';
import { freePort } from '../support/process.js';
import { startNatsCluster, killOnExit, type NatsCluster } from './nats-cluster.js';
import { heraldCli, httpReady, logReady, managedProcess, type ManagedProcess } from './processes.js';

export interface HeraldApi extends ManagedProcess {
  url: string;
}

export interface DatabaseState {
  messages: number;
  notFannedOut: number;
  queued: number;
  sent: number;
  /** Deliveries that ended otherwise (failed, invalidated, expired): none are expected here. */
  otherFinal: number;
  outbox: number;
  deadJobs: number;
}

export interface Deployment {
  databaseName: string;
  databaseUrl: string;
  /** A small pool on the run's database, for the test's own queries. */
  sql: Sql;
  nats: NatsCluster;
  /** The JetStream stream prefix of this run, and its job stream. */
  prefix: string;
  stream: string;
  sandbox: ManagedProcess;
  sandboxUrl: string;
  apis: HeraldApi[];
  workers: ManagedProcess[];
  restKey: string;
  state(): Promise<DatabaseState>;
  /** Stops everything; drops the database and the NATS stores unless `keep` (evidence of a failure). */
  close(o?: { keep?: boolean }): Promise<void>;
}

export interface DeploymentOptions {
  logDir: string;
  apis: number;
  workers: number;
  /** Environment for every Herald process (settings the test needs). */
  env: Record<string, string>;
  /** A PostgreSQL server URL to create the run's database on. */
  serverUrl: string;
}

const run = promisify(execFile);

export async function deployHerald(o: DeploymentOptions): Promise<Deployment> {
  const cleanups: (() => Promise<void>)[] = [];
  const databaseName = 'herald_chaos_' + randomBytes(6).toString('hex');
  const admin = postgres(o.serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${databaseName}`);
  await admin.end();
  const u = new URL(o.serverUrl);
  u.pathname = '/' + databaseName;
  const databaseUrl = u.toString();
  let keepDatabase = false;
  cleanups.push(async () => {
    if (keepDatabase) return;
    const a = postgres(o.serverUrl, { max: 1, onnotice: () => {} });
    await a.unsafe(`drop database if exists ${databaseName} with (force)`);
    await a.end();
  });

  try {
    // `project create` migrates the new database and prints the keys (README, "A first push").
    const created = await run(process.execPath, [heraldCli, 'project', 'create', '--name', 'chaos', '--database-url', databaseUrl]);
    const project = JSON.parse(created.stdout) as { rest_key: string };
    const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
    cleanups.push(() => sql.end({ timeout: 5 }));

    const nats = await startNatsCluster({ logDir: o.logDir });
    killOnExit(nats);
    let keepStores = false;
    cleanups.push(() => nats.close({ keepStores }));

    const sandboxPort = await freePort();
    const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
    const sandbox = managedProcess({
      name: 'sandbox', args: ['sandbox', '--sandbox-port', String(sandboxPort)], env: { HERALD_LOG_LEVEL: 'warn' },
      logPath: join(o.logDir, 'sandbox.log'),
      ready: () => fetch(sandboxUrl + '/_sandbox/endpoints').then((r) => r.ok, () => false),
    });
    await sandbox.start();
    cleanups.push(() => sandbox.stop());

    const prefix = 'chaos_' + randomBytes(4).toString('hex');
    const common = [
      '--database-url', databaseUrl, '--sandbox-url', sandboxUrl, '--nats-url', nats.urls.join(','),
      '--nats-replicas', '3', '--nats-stream-prefix', prefix,
    ];
    const apis: HeraldApi[] = [];
    for (let i = 1; i <= o.apis; i++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      apis.push({
        ...managedProcess({
          name: `api-${i}`, args: ['start', '--role', 'api', '--port', String(port), ...common], env: o.env,
          logPath: join(o.logDir, `api-${i}.log`), ready: httpReady(url),
        }),
        url,
      });
    }
    const workers = Array.from({ length: o.workers }, (_, i) => managedProcess({
      name: `worker-${i + 1}`, args: ['start', '--role', 'worker', ...common], env: o.env,
      logPath: join(o.logDir, `worker-${i + 1}.log`),
      // Logged just before the consumers start (src/server.ts).
      ready: logReady('using an external sandbox'),
    }));
    // Upkeep and the reconciler, which re-enqueues work whose job a cluster killed at once forgot.
    const scheduler = managedProcess({
      name: 'scheduler', args: ['start', '--role', 'scheduler', ...common], env: o.env,
      logPath: join(o.logDir, 'scheduler.log'), ready: logReady('scheduler running'),
    });
    cleanups.push(() => Promise.all([...apis, ...workers, scheduler].map((p) => p.stop())).then(() => undefined));
    // The first API creates the R3 stream; the others then find it.
    await apis[0]!.start();
    await Promise.all([...apis.slice(1), ...workers, scheduler].map((p) => p.start()));

    return {
      databaseName, databaseUrl, sql, nats, prefix, stream: `${prefix}_jobs`, sandbox, sandboxUrl, apis, workers,
      restKey: project.rest_key,
      async state() {
        const [s] = await sql<DatabaseState[]>`
          select (select count(*)::int from messages) as "messages",
                 (select count(*)::int from messages where fanned_out_at is null) as "notFannedOut",
                 (select count(*)::int from deliveries where status = 'queued') as "queued",
                 (select count(*)::int from deliveries where status = 'sent') as "sent",
                 (select count(*)::int from deliveries where status not in ('queued', 'sent')) as "otherFinal",
                 (select count(*)::int from job_outbox) as "outbox",
                 (select count(*)::int from dead_jobs) as "deadJobs"`;
        return s!;
      },
      async close(c = {}) {
        keepDatabase = keepStores = Boolean(c.keep);
        for (const f of cleanups.reverse()) await f().catch((err: unknown) => process.stderr.write(`cleanup: ${String(err)}\n`));
      },
    };
  } catch (err) {
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
    throw err;
  }
}
