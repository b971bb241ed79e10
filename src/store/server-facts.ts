/**
 * What `herald doctor` reads from PostgreSQL about the server itself: its version, the settings
 * that decide durability (judged in src/domain/doctor.ts), and its clock.
 */
import type { Sql } from 'postgres';

export const durabilitySettings = ['fsync', 'synchronous_commit', 'full_page_writes', 'wal_level'] as const;

export interface ServerFacts {
  version: string;
  settings: Record<string, string | undefined>;
  /** PostgreSQL's now() minus this machine's clock at the middle of the round trip, in ms. */
  skewMs: number;
  rttMs: number;
}

export async function serverFacts(sql: Sql): Promise<ServerFacts> {
  const [v] = await sql<{ server_version: string }[]>`show server_version`;
  const rows = await sql<{ name: string; setting: string }[]>`
    select name, setting from pg_settings where name = any(${durabilitySettings as unknown as string[]})`;
  const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  // Real time on purpose: this measures the machines' clocks, not a decision driven by Herald's.
  const before = Date.now();
  const [t] = await sql<{ ms: string }[]>`select (extract(epoch from clock_timestamp()) * 1000)::text as ms`;
  const after = Date.now();
  return { version: v!.server_version, settings, skewMs: Number(t!.ms) - (before + after) / 2, rttMs: after - before };
}
