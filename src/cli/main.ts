/**
 * The `herald` command.
 *   herald start [--role R] [--sandbox | --sandbox-url URL] [--port N] [--data-dir D]
 *   herald sandbox [--sandbox-port N]
 *   herald project create --name NAME
 * Every command takes --data-dir / HERALD_DATA_DIR and --database-url / DATABASE_URL; start and
 * project create take --master-key / HERALD_MASTER_KEY (else the data folder's master.key).
 */
import { parseArgs } from 'node:util';
import { loadConfig, ConfigError, type Config } from '../config.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { startHerald } from '../server.js';
import { openDatabase } from '../store/database.js';
import { createProject } from '../store/projects.js';
import { startSandbox } from '../sandbox/index.js';
import { openKeyring } from '../store/master-key.js';
import { guardDeferredWriteCrash } from '../store/driver-guard.js';

const usage = `usage:
  herald start [--role all|api|worker|relay|scheduler] [--sandbox | --sandbox-url URL]
               [--host H] [--port N] [--data-dir DIR] [--database-url URL] [--nats-url URL[,URL...]]
               [--master-key KEY (better: HERALD_MASTER_KEY)] [--shutdown-grace-seconds N]
  herald sandbox [--sandbox-host H] [--sandbox-port N]
  herald project create --name NAME [--data-dir DIR] [--database-url URL]`;

const options = {
  'master-key': { type: 'string' },
  role: { type: 'string' }, sandbox: { type: 'boolean' }, 'sandbox-url': { type: 'string' },
  'sandbox-port': { type: 'string' }, 'sandbox-host': { type: 'string' }, host: { type: 'string' },
  port: { type: 'string' }, 'data-dir': { type: 'string' }, 'database-url': { type: 'string' },
  'log-level': { type: 'string' }, 'worker-concurrency': { type: 'string' }, 'max-attempts': { type: 'string' },
  'nats-url': { type: 'string' }, 'nats-replicas': { type: 'string' }, 'nats-stream-prefix': { type: 'string' },
  'reconcile-after': { type: 'string' }, 'shutdown-grace-seconds': { type: 'string' }, 'public-url': { type: 'string' }, 'callback-url': { type: 'string' },
  name: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

function flagsOf(values: Record<string, string | boolean | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v === undefined ? undefined : String(v)]));
}

/**
 * Stops on SIGTERM/SIGINT/SIGHUP, or when `failure` settles (exit code 1): `stop` gets the grace
 * period and says whether everything stopped in time (exit 0) or work was abandoned (exit 1). A
 * second signal, or a stop still running 5 s after the grace period, forces the exit.
 */
function onShutdown(log: Logger, graceSeconds: number, stop: (graceMs: number) => Promise<boolean | void>, failure?: Promise<Error>): void {
  let stopping = false;
  const shutDown = (why: Record<string, unknown>, failed: boolean) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ ...why, graceSeconds }, 'stopping: no new requests, finishing the work in hand');
    setTimeout(() => { log.error('still stopping after the grace period; exiting'); process.exit(1); }, graceSeconds * 1000 + 5_000).unref();
    stop(graceSeconds * 1000).then(
      (inTime) => process.exit(failed || inTime === false ? 1 : 0),
      (err) => { log.error({ err }, 'unclean stop'); process.exit(1); },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => shutDown({ signal }, false));
  void failure?.then((err) => shutDown({ reason: err.message }, true));
}

async function start(config: Config, log: Logger): Promise<void> {
  guardDeferredWriteCrash(log);
  const herald = await startHerald(config, log);
  onShutdown(log, config.shutdownGraceSeconds, (graceMs) => herald.close({ graceMs }), herald.failed);
  if (herald.sandbox) {
    const channels = Object.entries(herald.sandbox.endpoints).map(([c, url]) => `${c} ${url}`).join(', ');
    process.stderr.write(`sandbox: inspection API ${herald.sandbox.inspectionUrl}; ${channels}\n`);
  }
  if (herald.url) process.stderr.write(`Herald is listening on ${herald.url} (API reference: ${herald.url}/docs)\n`);
}

async function sandbox(config: Config, log: Logger): Promise<void> {
  const s = await startSandbox({ host: config.sandboxHost, port: config.sandboxPort, log });
  onShutdown(log, config.shutdownGraceSeconds, s.close);
  process.stderr.write(`sandbox inspection API: ${s.inspectionUrl}\n`);
  for (const [channel, url] of Object.entries(s.endpoints)) process.stderr.write(`  ${channel}: ${url}\n`);
}

async function projectCreate(config: Config, log: Logger, name: string | undefined): Promise<void> {
  if (!name) throw new ConfigError('project create needs --name NAME');
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log, max: 2 });
  try {
    const keyring = await openKeyring({ masterKey: config.masterKey, dataDir: config.dataDir, sql: db.sql, log,
      shared: config.databaseUrl !== undefined });
    process.stdout.write(JSON.stringify(await createProject(db.sql, name, keyring)) + '\n');
  } finally {
    await db.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help || positionals.length === 0) {
    process.stdout.write(usage + '\n');
    return;
  }
  const config = loadConfig(flagsOf(values));
  const log = createLogger(config.logLevel);
  const cmd = positionals.join(' ');
  if (cmd === 'start') return start(config, log);
  if (cmd === 'sandbox') return sandbox(config, log);
  if (cmd === 'project create') return projectCreate(config, createLogger(values['log-level'] ?? 'warn', { toStderr: true }), values.name);
  throw new ConfigError(`unknown command "${cmd}"\n${usage}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`herald: ${(err as Error).message}\n`);
    process.exit(2);
  }
  process.stderr.write(`herald: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
