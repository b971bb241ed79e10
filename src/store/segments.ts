/**
 * Saved segments: named targeting queries. The query is stored as the JSON the caller sent (once
 * parsed and checked by the API), so it reads back exactly as written; the saved queries it
 * names are expanded where it is used (domain/targeting/segments.ts).
 */
import type { Sql, TransactionSql } from 'postgres';
import { parseQuery, type Query } from '../domain/targeting/query.js';
import { segmentIds } from '../domain/targeting/segments.js';

type Db = Sql | TransactionSql;

export interface Segment {
  id: string;
  name: string;
  description: string | null;
  query: unknown;
  created_at: string;
  updated_at: string;
}

interface Row { id: string; name: string; description: string | null; query: unknown; created_at: Date; updated_at: Date }

const shown = (r: Row): Segment => ({ ...r, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString() });

export async function insertSegment(sql: Db, projectId: string, s: { id: string; name: string; description: string | null; query: unknown; now: number }): Promise<Segment | 'name_taken'> {
  const at = new Date(s.now);
  const rows = await sql<Row[]>`
    insert into segments (project_id, id, name, description, query, created_at, updated_at)
    values (${projectId}, ${s.id}, ${s.name}, ${s.description}, ${sql.json(s.query as never)}, ${at}, ${at})
    on conflict (project_id, name) do nothing
    returning id, name, description, query, created_at, updated_at`;
  return rows[0] ? shown(rows[0]) : 'name_taken';
}

export async function getSegment(sql: Db, projectId: string, id: string): Promise<Segment | undefined> {
  const [row] = await sql<Row[]>`select id, name, description, query, created_at, updated_at from segments where project_id = ${projectId} and id = ${id}`;
  return row && shown(row);
}

/** Changes the given fields; undefined when there is no such segment. */
export async function updateSegment(sql: Db, projectId: string, id: string, change: { name?: string | undefined; description?: string | null | undefined; query?: unknown; now: number }): Promise<Segment | 'name_taken' | undefined> {
  const set: Record<string, unknown> = { updated_at: new Date(change.now) };
  if (change.name !== undefined) set.name = change.name;
  if (change.description !== undefined) set.description = change.description;
  if (change.query !== undefined) set.query = sql.json(change.query as never);
  try {
    const [row] = await sql<Row[]>`
      update segments set ${sql(set)} where project_id = ${projectId} and id = ${id}
      returning id, name, description, query, created_at, updated_at`;
    return row && shown(row);
  } catch (e) {
    if ((e as { code?: string }).code === '23505') return 'name_taken';
    throw e;
  }
}

/** Deletes a segment no other segment names; 'in_use' with the first such segment's id otherwise. */
export async function deleteSegment(sql: Sql, projectId: string, id: string): Promise<'deleted' | 'not_found' | { inUseBy: string }> {
  return sql.begin(async (tx) => {
    const [row] = await tx`select 1 from segments where project_id = ${projectId} and id = ${id} for update`;
    if (!row) return 'not_found' as const;
    const [user] = await tx<{ id: string }[]>`
      select id from segments where project_id = ${projectId} and id <> ${id}
        and jsonb_path_exists(query, '$.** ? (@.segment == $id)', jsonb_build_object('id', ${id}::text))
      order by id limit 1`;
    if (user) return { inUseBy: user.id };
    await tx`delete from segments where project_id = ${projectId} and id = ${id}`;
    return 'deleted' as const;
  });
}

export interface SegmentPage { segments: Segment[]; next_cursor: string | null }

/** Segments in id order (ids are time-ordered uuidv7: oldest first); the cursor is the last id. */
export async function listSegments(sql: Db, projectId: string, page: { limit: number; after?: string | undefined }): Promise<SegmentPage> {
  const rows = await sql<Row[]>`
    select id, name, description, query, created_at, updated_at from segments
    where project_id = ${projectId} ${page.after !== undefined ? sql`and id > ${page.after}` : sql``}
    order by id limit ${page.limit + 1}`;
  const more = rows.length > page.limit;
  const list = rows.slice(0, page.limit).map(shown);
  return { segments: list, next_cursor: more ? list[list.length - 1]!.id : null };
}

/**
 * The saved queries `query` names, and those they name in turn, loaded a level at a time (a
 * missing one is simply absent: expandSegments reports it with its path). `override` stands for
 * a segment's query about to be written, so a change that would make a cycle is caught first.
 */
export async function segmentQueries(sql: Db, projectId: string, query: Query, override?: { id: string; query: Query }): Promise<Map<string, Query>> {
  const found = new Map<string, Query>();
  if (override) found.set(override.id, override.query);
  let wanted = segmentIds(query).filter((id) => !found.has(id));
  for (let level = 0; wanted.length && level < 32; level++) {
    const rows = await sql<{ id: string; query: unknown }[]>`select id, query from segments where project_id = ${projectId} and id = any(${wanted})`;
    const next = new Set<string>();
    for (const r of rows) {
      const q = parseQuery(r.query);
      found.set(r.id, q);
      for (const id of segmentIds(q)) if (!found.has(id)) next.add(id);
    }
    wanted = [...next];
  }
  return found;
}
