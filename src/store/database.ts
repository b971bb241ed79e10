/**
 * Opens Herald's record of truth: the PostgreSQL at DATABASE_URL, or the embedded one in the data
 * folder. Migrations run before anything else touches it.
 */
import postgres, { type Sql } from 'postgres';
import type { Logger } from 'pino';
import { startEmbeddedPostgres } from './embedded.js';
import { migrate } from './migrate.js';

export interface Database {
  sql: Sql;
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  log: Logger;
  /** Pool size of this process. */
  max?: number;
  /** False: leave the schema as it is (backup and restore manage it themselves). */
  migrate?: boolean;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  const embedded = opts.databaseUrl ? undefined : await startEmbeddedPostgres(opts.dataDir, opts.log);
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
    close: async () => {
      await sql.end({ timeout: 5 });
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
    // Prepared statements are cached per connection; safe for Herald's fixed query texts.
    prepare: true,
  });
}
