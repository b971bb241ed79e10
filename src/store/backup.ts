/**
 * Backup and restore of Herald's database over an ordinary connection, with no pg_dump (the
 * embedded PostgreSQL ships only initdb, pg_ctl and postgres).
 *
 * A backup reads every table inside one REPEATABLE READ READ ONLY transaction: all its statements
 * see one snapshot (https://www.postgresql.org/docs/current/transaction-iso.html#XACT-REPEATABLE-READ),
 * so a transaction that committed while the backup ran is in it entirely or not at all, and Herald
 * keeps serving meanwhile (readers take no locks that block writers). Tables are found in the
 * catalog, not listed here, so a new migration's tables are backed up without a change.
 *
 * A restore runs in one transaction too: Herald's migrations (those the backup's database had, no
 * more) create the schema, then COPY ... FROM STDIN loads each table, parents before children of
 * every foreign key. A failure anywhere leaves the target as empty as it was.
 */
import type { Readable, Writable } from 'node:stream';
import type { Sql, TransactionSql } from 'postgres';
import {
  BackupReader, BackupWriter, type BackupHeader, type BackupTrailer, type PartitionDef, type SequenceValue,
} from './backup-format.js';
import { copyIn, CopyInRefusedError, copyOut } from './copy-streams.js';
import { applyMigrations, lockMigrations, migrationVersions } from './migrate.js';

/** A backup or restore refused with a reason for the operator (the target is left unchanged). */
export class BackupError extends Error {}

/**
 * Tables whose rows describe the running processes, not the data, and are left out: a worker's
 * heartbeat row (worker_processes) restored into another deployment would count as a live worker
 * and shrink every real worker's share of each provider account until it went stale.
 *
 * Everything else is kept, the work queue above all: a job (jobs, job_outbox) is work Herald
 * acknowledged with a 2xx and must still do, so a restore that dropped it would lose it. A job
 * leased to a worker when the backup ran is restored with its lease's end as run_at and so runs
 * again once that lease would have run out; delivery is at-least-once and each delivery is checked
 * against its recorded status before a send, so it is not sent twice. Jobs already handed to NATS
 * JetStream are not in PostgreSQL; the scheduler's reconciler re-enqueues their unfinished work.
 */
export const processStateTables: ReadonlySet<string> = new Set(['worker_processes']);

/** Herald's own bookkeeping, recreated by the restore's migrations rather than copied. */
const migrationsTable = 'herald_migrations';

/**
 * COPY writes values in the session's output styles: the same ones (pg_dump's) on both sides, so
 * dates, intervals and floats read back exactly (https://www.postgresql.org/docs/current/runtime-config-client.html).
 */
async function copyStyles(tx: TransactionSql): Promise<void> {
  await tx`select set_config('datestyle', 'ISO, YMD', true), set_config('intervalstyle', 'postgres', true),
    set_config('extra_float_digits', '3', true)`;
}

const ident = (name: string) => '"' + name.replaceAll('"', '""') + '"';

interface TableInfo {
  name: string;
  partitioned: boolean;
  columns: string[];
}

/** The tables of the current schema, partition roots included and their partitions not, parents first. */
async function tablesInLoadOrder(tx: TransactionSql): Promise<TableInfo[]> {
  const rows = await tx<{ name: string; kind: string; columns: string[] | null }[]>`
    select c.relname as name, c.relkind as kind,
      (select array_agg(a.attname::text order by a.attnum) from pg_attribute a
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = '') as columns
    from pg_class c
    where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
    order by c.relname`;
  const edges = await tx<{ child: string; parent: string }[]>`
    select distinct ch.relname as child, pa.relname as parent
    from pg_constraint k
    join pg_class ch on ch.oid = k.conrelid
    join pg_class pa on pa.oid = k.confrelid
    where k.contype = 'f' and ch.relnamespace = current_schema()::regnamespace and k.conrelid <> k.confrelid`;
  const parents = new Map<string, Set<string>>();
  for (const e of edges) parents.set(e.child, (parents.get(e.child) ?? new Set()).add(e.parent));
  // Depth-first topological order; a cycle (none in Herald's schema) would fail the restore's
  // foreign key checks, inside its transaction, and change nothing.
  const byName = new Map(rows.map((r) => [r.name, r]));
  const ordered: TableInfo[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    const t = byName.get(name);
    if (!t || seen.has(name)) return;
    seen.add(name);
    for (const p of parents.get(name) ?? []) visit(p);
    ordered.push({ name, partitioned: t.kind === 'p', columns: t.columns ?? [] });
  };
  for (const r of rows) visit(r.name);
  return ordered.filter((t) => t.name !== migrationsTable);
}

/** Every partition of the current schema with its parent and bounds, parents before their partitions. */
async function partitions(tx: TransactionSql): Promise<PartitionDef[]> {
  return tx<PartitionDef[]>`
    with recursive p as (
      select c.oid, c.relname::text as name, pc.relname::text as parent, pg_get_expr(c.relpartbound, c.oid) as bound, 1 as depth
      from pg_class c join pg_inherits i on i.inhrelid = c.oid join pg_class pc on pc.oid = i.inhparent
      where c.relispartition and c.relnamespace = current_schema()::regnamespace and not pc.relispartition
      union all
      select c.oid, c.relname::text, p.name, pg_get_expr(c.relpartbound, c.oid), p.depth + 1
      from p join pg_inherits i on i.inhparent = p.oid join pg_class c on c.oid = i.inhrelid
      where c.relispartition
    )
    select name, parent, bound from p order by depth, name`;
}

async function sequences(tx: TransactionSql): Promise<string[]> {
  const rows = await tx<{ name: string }[]>`
    select relname::text as name from pg_class
    where relnamespace = current_schema()::regnamespace and relkind = 'S' order by relname`;
  return rows.map((r) => r.name);
}

export interface BackupSummary {
  migration: string;
  rows: Record<string, number>;
}

export interface BackupOptions {
  /** Called after each table is written (progress, logs). */
  onTable?: (table: string, rows: number) => void | Promise<void>;
}

/** Writes a consistent backup of the database at `sql` into `dest` (gzip'd, backup-format.ts). */
export async function backupDatabase(sql: Sql, dest: Writable, opts: BackupOptions = {}): Promise<BackupSummary> {
  const writer = new BackupWriter(dest);
  try {
    return await sql.begin('isolation level repeatable read read only', async (tx) => {
      await copyStyles(tx);
      const [found] = await tx<{ migrations: boolean; settings: boolean }[]>`
        select to_regclass(${migrationsTable}) is not null as migrations, to_regclass('settings') is not null as settings`;
      if (!found?.migrations) throw new BackupError('this database has no herald_migrations table: it is not a Herald database');
      const migrations = (await tx<{ version: string }[]>`select version from herald_migrations order by version`).map((r) => r.version);
      const [check] = found.settings ? await tx<{ value: string }[]>`select value from settings where name = 'master_key_check'` : [];
      const [{ version }] = await tx<[{ version: string }]>`select current_setting('server_version') as version`;
      const header: BackupHeader = {
        // When the file was written, for an operator reading it: the OS's time.
        migrations, created_at: new Date().toISOString(), postgres_version: version,
        master_key_check: check?.value ?? null, partitions: await partitions(tx),
      };
      await writer.header(header);
      const rows: Record<string, number> = {};
      for (const t of await tablesInLoadOrder(tx)) {
        if (processStateTables.has(t.name)) continue;
        const cols = t.columns.map(ident).join(', ');
        // COPY cannot read a partitioned table itself, only a query over it.
        const source = t.partitioned ? `(select ${cols} from ${ident(t.name)})` : `${ident(t.name)} (${cols})`;
        rows[t.name] = await copyOut(tx, `copy ${source} to stdout`, (stream) => writer.table({ table: t.name, columns: t.columns }, stream));
        await opts.onTable?.(t.name, rows[t.name]!);
      }
      // Last, so each value is at least what any row above used (sequences are not transactional).
      const seqs: SequenceValue[] = [];
      for (const name of await sequences(tx)) {
        const [s] = await tx.unsafe<{ last_value: string; is_called: boolean }[]>(`select last_value::text, is_called from ${ident(name)}`);
        seqs.push({ sequence: name, last_value: s!.last_value, is_called: s!.is_called });
      }
      await writer.end({ rows, sequences: seqs });
      return { migration: migrations.at(-1) ?? '', rows };
    });
  } catch (err) {
    writer.abort(err as Error);
    throw err;
  }
}

/** Opens a backup: its header, checked against this build, and the reader for restoreDatabase. */
export async function openBackup(src: Readable): Promise<{ header: BackupHeader; reader: BackupReader }> {
  const reader = new BackupReader(src);
  const header = await reader.header();
  const known = new Set(await migrationVersions());
  const unknown = header.migrations.filter((v) => !known.has(v));
  if (unknown.length) {
    throw new BackupError(`this backup was taken from a newer Herald (its database has migration ${unknown.join(', ')}, ` +
      'which this build does not know): restore it with that version of Herald or a later one');
  }
  return { header, reader };
}

/** Relations of the current schema; a restore writes only into a database that has none. */
async function relationsIn(tx: TransactionSql): Promise<string[]> {
  const rows = await tx<{ name: string }[]>`
    select relname::text as name from pg_class
    where relnamespace = current_schema()::regnamespace and relkind in ('r', 'p', 'v', 'm', 'S', 'f')
    order by relname limit 5`;
  return rows.map((r) => r.name);
}

/** Loads an opened backup into the empty database at `sql`, in one transaction. */
export async function restoreDatabase(sql: Sql, backup: { header: BackupHeader; reader: BackupReader }): Promise<BackupSummary> {
  const { header, reader } = backup;
  return sql.begin(async (tx) => {
    // Held to the end: a Herald starting on the target meanwhile waits, then finds the schema made.
    await lockMigrations(tx);
    const existing = await relationsIn(tx);
    if (existing.length) {
      throw new BackupError(`the target database is not empty (it has ${existing.join(', ')}${existing.length === 5 ? ', ...' : ''}): ` +
        'restore into a new, empty database or data folder');
    }
    await applyMigrations(tx, header.migrations);
    await copyStyles(tx);
    // Partitions created while Herald ran (not by a migration) must exist before their rows come.
    for (const p of header.partitions) {
      const [exists] = await tx`select 1 from pg_class where relname = ${p.name} and relnamespace = current_schema()::regnamespace`;
      if (!exists) await tx.unsafe(`create table ${ident(p.name)} partition of ${ident(p.parent)} ${p.bound}`);
    }
    // Only deferrable constraints are affected; the load order satisfies the others.
    await tx`set constraints all deferred`;
    // Rows copied are not changes: the profile-change trigger (migration 0032) keeps nothing for the automations.
    await tx`select set_config('herald.restoring', 'on', true)`;
    const loaded: Record<string, number> = {};
    for (;;) {
      const section = await reader.next();
      if ('end' in section) {
        checkCounts(loaded, section);
        for (const s of section.sequences) await tx`select setval(${ident(s.sequence)}::regclass, ${s.last_value}::bigint, ${s.is_called})`;
        return { migration: header.migrations.at(-1) ?? '', rows: loaded };
      }
      const [present] = await tx`select 1 from pg_class where relname = ${section.table} and relnamespace = current_schema()::regnamespace`;
      if (!present) throw new BackupError(`the backup has a table ${section.table} that Herald's migrations do not create: the file does not match its header`);
      const copy = `copy ${ident(section.table)} (${section.columns.map(ident).join(', ')}) from stdin`;
      await copyIn(tx, copy, reader.rows(section.table, (n) => { loaded[section.table] = n; })).catch((err: unknown) => {
        throw err instanceof CopyInRefusedError
          ? new BackupError(`PostgreSQL refused the rows of table ${section.table} (a value that does not parse, or a broken constraint): ` +
            'the backup does not match the schema its header names, or the file is damaged; nothing was restored')
          : err;
      });
    }
  });
}

function checkCounts(loaded: Record<string, number>, trailer: BackupTrailer): void {
  const names = new Set([...Object.keys(loaded), ...Object.keys(trailer.rows)]);
  for (const name of names) {
    if (loaded[name] !== trailer.rows[name]) {
      throw new BackupError(`table ${name} has ${loaded[name] ?? 0} rows in the backup where its end says ${trailer.rows[name] ?? 0}: the file is damaged`);
    }
  }
}
