/**
 * Exports (migration 0024): the row of each export, and the keyset pages its kinds are read in.
 * A page is read in the transaction that records it (worker/export-run.ts), after the export's row
 * is locked, so one page is written at a time and a page done twice writes the same rows.
 */
import type { Sql, TransactionSql } from 'postgres';
import { compileQuery } from '../domain/targeting/sql.js';
import type { ExportFormat, Cell } from '../domain/exports/encode.js';
import type { ExportKind, ExportParams } from '../domain/exports/definition.js';

type Db = Sql | TransactionSql;

export interface ExportRow {
  id: string;
  project_id: string;
  kind: ExportKind;
  format: ExportFormat;
  params: ExportParams;
  state: 'running' | 'done' | 'failed' | 'expired';
  total: number | null;
  rows: number;
  bytes: number;
  cursor: unknown;
  page: number;
  error: string | null;
  created_at: Date;
  finished_at: Date | null;
  expires_at: Date;
}

const columns = 'id, project_id, kind, format, params, state, total::float8 as total, rows::float8 as rows, bytes::float8 as bytes, cursor, page, error, created_at, finished_at, expires_at';

export async function insertExport(tx: TransactionSql, e: { id: string; projectId: string; format: ExportFormat; params: ExportParams; now: Date; expiresAt: Date }): Promise<ExportRow> {
  await tx`insert into exports (id, project_id, kind, format, params, state, created_at, expires_at)
           values (${e.id}, ${e.projectId}, ${e.params.kind}, ${e.format}, ${tx.json(e.params as never)}, 'running', ${e.now}, ${e.expiresAt})`;
  return (await getExport(tx, e.projectId, e.id))!;
}

export async function getExport(sql: Db, projectId: string, id: string): Promise<ExportRow | undefined> {
  const [row] = await sql.unsafe<ExportRow[]>(`select ${columns} from exports where id = $1 and project_id = $2`, [id, projectId]);
  return row;
}

/** The export, locked for its page (the worker), whatever its project. */
export async function lockExport(tx: TransactionSql, id: string): Promise<ExportRow | undefined> {
  const [row] = await tx.unsafe<ExportRow[]>(`select ${columns} from exports where id = $1 for update`, [id]);
  return row;
}

export async function listExports(sql: Db, projectId: string, page: { limit: number; after?: string | undefined }): Promise<{ exports: ExportRow[]; next_cursor: string | null }> {
  const rows = await sql.unsafe<ExportRow[]>(
    `select ${columns} from exports where project_id = $1 and id < coalesce($2::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff') order by id desc limit $3`,
    [projectId, page.after ?? null, page.limit + 1]);
  const more = rows.length > page.limit;
  const exports = rows.slice(0, page.limit);
  return { exports, next_cursor: more ? exports.at(-1)!.id : null };
}

/** A page written: the file's new length, the rows, where the next page starts; done when it is the last. */
export async function recordPage(tx: TransactionSql, id: string, p: { rows: number; bytes: number; cursor: unknown; total?: number | undefined; done: boolean; now: Date }): Promise<void> {
  await tx`update exports set rows = rows + ${p.rows}, bytes = ${p.bytes}, cursor = ${tx.json(p.cursor as never)}, page = page + 1,
             total = coalesce(${p.total ?? null}::bigint, total),
             state = ${p.done ? 'done' : 'running'}, finished_at = ${p.done ? p.now : null}
           where id = ${id}`;
}

export async function failExport(sql: Db, id: string, error: string, now: Date): Promise<void> {
  await sql`update exports set state = 'failed', error = ${error}, finished_at = ${now} where id = ${id} and state = 'running'`;
}

/** Exports past their retention, marked expired; their files are the caller's to delete. */
export async function expireExports(sql: Db, now: Date): Promise<{ id: string; project_id: string; kind: ExportKind; format: ExportFormat }[]> {
  return sql`update exports set state = 'expired' where expires_at <= ${now} and state <> 'expired'
             returning id, project_id, kind, format`;
}

export type Page = { rows: Record<string, Cell>[]; cursor: unknown };

/** How many rows the export will have (exact; counted once, by its first page). */
export async function countRows(tx: Db, projectId: string, p: ExportParams): Promise<number> {
  switch (p.kind) {
    case 'profiles':
    case 'segment_members': {
      if (!p.query) {
        const [r] = await tx<{ n: number }[]>`select count(*)::float8 as n from profiles where project_id = ${projectId}`;
        return r!.n;
      }
      const q = compileQuery(p.query, p.as_of, 2);
      const [r] = await tx.unsafe<{ n: number }[]>(`select count(*)::float8 as n from profiles p where p.project_id = $1::uuid and ${q.sql}`, [projectId, ...q.params]);
      return r!.n;
    }
    case 'events': {
      const [r] = await tx<{ n: number }[]>`select count(*)::float8 as n from events where project_id = ${projectId} and ${eventFilter(tx, p)}`;
      return r!.n;
    }
    case 'campaign_recipients': {
      const [r] = await tx<{ n: number }[]>`select count(*)::float8 as n from campaign_recipients where campaign_id = ${p.campaign_id} and ${ownCampaign(tx, projectId, p.campaign_id)}`;
      return r!.n;
    }
  }
}

/** The next `limit` rows after `cursor` (null: from the start), in the export's keyset order. */
export async function readPage(tx: Db, projectId: string, p: ExportParams, cursor: unknown, limit: number): Promise<Page> {
  switch (p.kind) {
    case 'profiles':
    case 'segment_members': {
      const after = typeof cursor === 'string' ? cursor : '';
      const fields = p.kind === 'profiles'
        ? 'p.custom_id, p.email, p.phone, p.language, p.region, p.timezone, p.email_subscription, p.sms_subscription, p.created_at, p.updated_at, p.attributes'
        : 'p.custom_id, p.attributes';
      const q = p.query ? compileQuery(p.query, p.as_of, 4) : { sql: 'true', params: [] };
      const rows = await tx.unsafe<Record<string, Cell>[]>(
        `select ${fields} from profiles p where p.project_id = $1::uuid and p.custom_id > $2::text and ${q.sql} order by p.custom_id limit $3::int`,
        [projectId, after, String(limit), ...q.params] as never[]);
      if (p.attributes) for (const r of rows) r.attributes = pick(r.attributes as Record<string, unknown>, p.attributes);
      return { rows, cursor: rows.length ? rows.at(-1)!.custom_id : after };
    }
    case 'events': {
      const after = typeof cursor === 'string' ? cursor : '00000000-0000-0000-0000-000000000000';
      const rows = await tx<Record<string, Cell>[]>`
        select id, name, time, custom_id, install_id, attributes, received_at from events
        where project_id = ${projectId} and id > ${after}::uuid and ${eventFilter(tx, p)}
        order by id limit ${limit}`;
      return { rows, cursor: rows.length ? rows.at(-1)!.id : after };
    }
    case 'campaign_recipients': {
      const [occurrence, customId] = Array.isArray(cursor) ? cursor as [number, string] : [0, ''];
      const rows = await tx<Record<string, Cell>[]>`
        select occurrence, custom_id, variant, status, reason, channel, message_id, due_at, updated_at from campaign_recipients
        where campaign_id = ${p.campaign_id} and ${ownCampaign(tx, projectId, p.campaign_id)} and (occurrence, custom_id) > (${occurrence}::int, ${customId}::text)
        order by occurrence, custom_id limit ${limit}`;
      const last = rows.at(-1);
      return { rows, cursor: last ? [last.occurrence, last.custom_id] : [occurrence, customId] };
    }
  }
}

function eventFilter(tx: Db, p: Extract<ExportParams, { kind: 'events' }>) {
  const from = p.from === null ? null : new Date(p.from);
  const to = p.to === null ? null : new Date(p.to);
  return tx`(${from}::timestamptz is null or time >= ${from}) and (${to}::timestamptz is null or time < ${to})
            and (${p.names}::text[] is null or name = any(${p.names}::text[]))`;
}

/** The ledger has no project column: its campaign is the project's (checked again on every page). */
const ownCampaign = (tx: Db, projectId: string, campaignId: string) =>
  tx`exists (select 1 from campaigns where id = ${campaignId} and project_id = ${projectId})`;

function pick(attributes: Record<string, unknown> | null, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) if (attributes && n in attributes) out[n] = attributes[n];
  return out;
}
