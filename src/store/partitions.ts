/**
 * Range partitions by time, created on first use and dropped whole when their rows are past
 * retention: dropping a partition is a catalog change, where deleting its rows would write every
 * one of them to the WAL and leave the table to vacuum. Used by the campaign ledger (months) and
 * the inbox (weeks).
 */
import type { Sql, TransactionSql } from 'postgres';

/** The partition of `table` named `name` covering [from, to), created if missing (in the caller's transaction). */
export async function ensureRangePartition(tx: TransactionSql, table: string, name: string, from: Date, to: Date): Promise<void> {
  const [exists] = await tx`select 1 from pg_class where relname = ${name} and relkind = 'r' and relnamespace = current_schema()::regnamespace`;
  if (exists) return;
  // Two processes creating the same range would collide in the catalog: one at a time.
  await tx`select pg_advisory_xact_lock(hashtext(${table + ' partitions'}))`;
  await tx.unsafe(`create table if not exists ${name} partition of ${table}
    for values from ('${from.toISOString()}') to ('${to.toISOString()}')`);
}

/**
 * Drops every partition of `table` whose whole range ends at or before `before`; returns their
 * names. Each drop is its own short statement: the lock it takes on the parent is held for that
 * catalog change only. The bound is read from the catalog (`FOR VALUES FROM (...) TO ('...')`).
 */
const upperBound = String.raw`TO \('([^']+)'\)`;

export async function dropPartitionsBefore(sql: Sql, table: string, before: Date): Promise<string[]> {
  const old = await sql<{ name: string }[]>`
    select c.relname as name
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = ${table}::regclass
      and (regexp_match(pg_get_expr(c.relpartbound, c.oid), ${upperBound}))[1]::timestamptz <= ${before}
    order by c.relname`;
  for (const { name } of old) await sql.unsafe(`drop table if exists ${name}`);
  return old.map((o) => o.name);
}
