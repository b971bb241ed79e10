/**
 * The `herald` command.
 *   herald start [--role R] [--sandbox | --sandbox-url URL] [--port N] [--data-dir D]
 *   herald sandbox [--sandbox-port N]
 *   herald project create --name NAME
 *   herald backup FILE | herald restore FILE
 * Every command takes --data-dir / HERALD_DATA_DIR and --database-url / DATABASE_URL; start and
 * project create take --master-key / HERALD_MASTER_KEY (else the data folder's master.key).
 */
import { parseArgs } from 'node:util';
import { configFlags, loadConfig, ConfigError, type Config } from '../config.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { startHerald } from '../server.js';
import { openDatabase } from '../store/database.js';
import { createProject } from '../store/projects.js';
import { startSandbox } from '../sandbox/index.js';
import { openKeyring } from '../store/master-key.js';
import { backupCommand, restoreCommand } from './backup.js';

const usage = `usage:
  herald start [--role all|api|worker|relay|scheduler] [--sandbox | --sandbox-url URL]
               [--host H] [--port N] [--data-dir DIR] [--database-url URL] [--nats-url URL[,URL...]]
               [--master-key KEY (better: HERALD_MASTER_KEY)]
  herald sandbox [--sandbox-host H] [--sandbox-port N]
  herald project create --name NAME [--data-dir DIR] [--database-url URL]
  herald backup FILE|- [--data-dir DIR] [--database-url URL]
  herald restore FILE|- [--data-dir DIR] [--database-url URL] [--master-key KEY (better: HERALD_MASTER_KEY)]`;

// The config's flags come from its schema (src/config.ts); these belong to commands.
const options = {
  ...configFlags(),
  name: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

/** Stops cleanly on SIGTERM/SIGINT: a second signal forces the exit. */
function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'stopping: no new requests, finishing the work in hand');
    stop().then(() => process.exit(0), (err) => { log.error({ err }, 'unclean stop'); process.exit(1); });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  process.on('SIGHUP', handler);
}

async function start(config: Config, log: Logger): Promise<void> {
  const herald = await startHerald(config, log);
  onShutdown(log, herald.close);
  if (herald.sandbox) {
    const channels = Object.entries(herald.sandbox.endpoints).map(([c, url]) => `${c} ${url}`).join(', ');
    process.stderr.write(`sandbox: inspection API ${herald.sandbox.inspectionUrl}; ${channels}\n`);
  }
  if (herald.url) process.stderr.write(`Herald is listening on ${herald.url} (API reference: ${herald.url}/docs)\n`);
}

async function sandbox(config: Config, log: Logger): Promise<void> {
  const s = await startSandbox({ host: config.sandboxHost, port: config.sandboxPort, log });
  onShutdown(log, s.close);
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
  const config = loadConfig(values);
  const log = createLogger(config.logLevel);
  const cmd = positionals.join(' ');
  if (cmd === 'start') return start(config, log);
  if (cmd === 'sandbox') return sandbox(config, log);
  const flag = (name: string) => (values as Record<string, string | boolean | undefined>)[name] as string | undefined;
  const quiet = () => createLogger(flag('log-level') ?? 'warn', { toStderr: true });
  if (positionals[0] === 'backup' && positionals.length <= 2) return backupCommand(config, quiet(), positionals[1]);
  if (positionals[0] === 'restore' && positionals.length <= 2) return restoreCommand(config, quiet(), positionals[1]);
  if (cmd === 'project create') return projectCreate(config, createLogger(flag('log-level') ?? 'warn', { toStderr: true }), flag('name'));
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
