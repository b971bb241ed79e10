/**
 * Opens Herald's record of truth: the PostgreSQL at DATABASE_URL, or the embedded one in the data
 * folder. Migrations run before anything else touches it.
 */
import postgres, { type Sql } from 'postgres';
import type { Logger } from 'pino';
import { startEmbeddedPostgres, type Supervision } from './embedded.js';
import { migrate } from './migrate.js';

export interface Database {
  sql: Sql;
  url: string;
  embedded: boolean;
  /** Times the embedded PostgreSQL was restarted after an unexpected exit (0 with DATABASE_URL). */
  restarts(): number;
  /** Why the embedded PostgreSQL is down while it is being restarted; undefined otherwise. */
  problem(): string | undefined;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  log: Logger;
  /** Pool size of this process. */
  max?: number;
  /** How the embedded PostgreSQL is supervised; a long-running process says what to do when it gives up. */
  supervision?: Supervision;
  /** False: leave the schema as it is (backup and restore manage it themselves). */
  migrate?: boolean;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  const embedded = opts.databaseUrl ? undefined : await startEmbeddedPostgres(opts.dataDir, opts.log, opts.supervision);
  const url = opts.databaseUrl ?? embedded!.url;
  const sql = connect(url, opts.max ?? 20);
  try {
    const applied = opts.migrate === false ? [] : await migrate(sql);
    if (applied.length) opts.log.info({ applied }, 'database migrations applied');
  } catch (err) {
    await sql.end({ timeout: 1 });
    await embedded?.stop();
    throw err;
  }
  return {
    sql,
    url,
    embedded: embedded !== undefined,
    restarts: () => embedded?.restarts() ?? 0,
    problem: () => embedded?.problem(),
    close: async () => {
      // In-flight queries get a second; then the connections are destroyed, database up or not.
      await sql.end({ timeout: 1 });
      await embedded?.stop();
    },
  };
}

/** A connection pool with Herald's settings: bigint as JS number-safe strings, quiet notices. */
export function connect(url: string, max = 20): Sql {
  return postgres(url, {
    max,
    onnotice: () => {},
    connection: { application_name: 'herald' },
    // Fail a query after 5 s without a connection, so an outage becomes a prompt 503, not a hang.
    connect_timeout: 5,
    // postgres.js waits before reconnecting, 3^n/100 s by default with n counting failed connects
    // across the pool: after a brief outage every connection sat out up to 20 s while queries
    // queued behind them, and the pool stayed away that long after the database was back. Each
    // reconnect takes one queued query, so a short, capped wait lets queued queries fail promptly
    // (a 503) and the pool return within 100 ms of the database.
    backoff: (failures: number) => Math.min(0.005 * 2 ** failures, 0.1) * (0.5 + Math.random() / 2),
    // Prepared statements are cached per connection; safe for Herald's fixed query texts.
    prepare: true,
  });
}

/**
 * Whether PostgreSQL answers a `select 1` within `withinMs`: for /metrics, whose scrape must not
 * wait out the driver's connect timeout while the database is away.
 */
export async function answers(sql: Sql, withinMs = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), withinMs); });
  try {
    return await Promise.race([sql`select 1`.then(() => true, () => false), late]);
  } finally {
    clearTimeout(timer);
  }
}
