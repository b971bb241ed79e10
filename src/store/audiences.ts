/**
 * Custom audiences (after the seed platform's, https://doc.batch.com/developer/api/cep/audiences/):
 * named lists of custom_ids that targeting queries name as {"audience": id}.
 *
 * Member changes are accepted before they are applied: `enqueueChange` stores the change (its id
 * is the indexing token) and the `audiences.apply` job in one transaction, and the worker applies
 * an audience's pending changes one at a time in seq order (`applyNextChange`), each in a
 * transaction that holds the audience's row lock and stamps the change, so a redelivered or
 * duplicated job finds it applied and does nothing twice. Every statement is set-based over array
 * parameters (unnest), never a statement per id.
 *
 * An upload's ids are staged as the chunks of a bulk import (store/import-jobs.ts: import_jobs and
 * import_chunks, each chunk body a JSON array of ids) and applied a chunk per transaction, the
 * chunk stamped in the transaction that applies it. Changes after it wait until its last chunk,
 * so re-applying is never needed; a replace upload marks each member it keeps with its seq
 * (`kept_by`) and, with its last chunk, deletes the members it did not mark.
 */
import type { Sql, TransactionSql } from 'postgres';

type Db = Sql | TransactionSql;

export interface Audience {
  id: string;
  name: string;
  description: string | null;
  created_at: string;
  updated_at: string;
}

export interface AudienceDetail extends Audience {
  /** Members now: changes still in process are not counted yet. */
  member_count: number;
  /** Accepted changes not yet applied (their indexing tokens are in process). */
  pending_changes: number;
}

export type ChangeKind = 'add' | 'remove' | 'replace';

interface Row { id: string; name: string; description: string | null; created_at: Date; updated_at: Date }

const shown = (r: Row): Audience => ({ id: r.id, name: r.name, description: r.description, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString() });

export async function insertAudience(sql: Db, projectId: string, a: { id: string; name: string; description: string | null; now: number }): Promise<Audience | 'name_taken'> {
  const at = new Date(a.now);
  const rows = await sql<Row[]>`
    insert into audiences (project_id, id, name, description, created_at, updated_at)
    values (${projectId}, ${a.id}, ${a.name}, ${a.description}, ${at}, ${at})
    on conflict (project_id, name) do nothing
    returning id, name, description, created_at, updated_at`;
  return rows[0] ? shown(rows[0]) : 'name_taken';
}

export async function getAudience(sql: Db, projectId: string, id: string): Promise<AudienceDetail | undefined> {
  const [row] = await sql<(Row & { member_count: number; pending_changes: number })[]>`
    select a.id, a.name, a.description, a.created_at, a.updated_at,
      (select count(*)::int from audience_members m where m.project_id = a.project_id and m.audience_id = a.id) as member_count,
      (select count(*)::int from audience_changes c where c.project_id = a.project_id and c.audience_id = a.id and c.applied_at is null) as pending_changes
    from audiences a where a.project_id = ${projectId} and a.id = ${id}`;
  return row && { ...shown(row), member_count: row.member_count, pending_changes: row.pending_changes };
}

export async function audienceExists(sql: Db, projectId: string, id: string): Promise<boolean> {
  const [row] = await sql`select 1 from audiences where project_id = ${projectId} and id = ${id}`;
  return !!row;
}

export interface AudiencePage { audiences: Audience[]; next_cursor: string | null }

/** Audiences in id order (time-ordered uuidv7 ids: oldest first); the cursor is the last id. */
export async function listAudiences(sql: Db, projectId: string, page: { limit: number; after?: string | undefined }): Promise<AudiencePage> {
  const rows = await sql<Row[]>`
    select id, name, description, created_at, updated_at from audiences
    where project_id = ${projectId} ${page.after !== undefined ? sql`and id > ${page.after}` : sql``}
    order by id limit ${page.limit + 1}`;
  const more = rows.length > page.limit;
  const list = rows.slice(0, page.limit).map(shown);
  return { audiences: list, next_cursor: more ? list[list.length - 1]!.id : null };
}

/**
 * Deletes an audience no saved segment names (a campaign's query names audiences through its
 * segments or inline, and an inline one simply matches nobody once the audience is gone), with its
 * members, pending changes and their staged uploads; 'in_use' with the first such segment's id.
 */
export async function deleteAudience(sql: Sql, projectId: string, id: string): Promise<'deleted' | 'not_found' | { inUseBy: string }> {
  return sql.begin(async (tx) => {
    const [row] = await tx`select 1 from audiences where project_id = ${projectId} and id = ${id} for update`;
    if (!row) return 'not_found' as const;
    const [user] = await tx<{ id: string }[]>`
      select id from segments where project_id = ${projectId}
        and jsonb_path_exists(query, '$.** ? (@.audience == $id)', jsonb_build_object('id', ${id}::text))
      order by id limit 1`;
    if (user) return { inUseBy: user.id };
    await tx`delete from import_jobs where id in (
      select upload_id from audience_changes where project_id = ${projectId} and audience_id = ${id} and upload_id is not null)`;
    await tx`delete from audiences where project_id = ${projectId} and id = ${id}`;
    return 'deleted' as const;
  });
}

export interface NewChange {
  id: string;
  kind: ChangeKind;
  /** An inline change's ids; absent for an upload. */
  customIds?: string[] | undefined;
  /** The sealed bulk import whose chunks hold an upload's ids. */
  uploadId?: string | undefined;
  idCount: number;
  now: number;
}

/**
 * Stores accepted changes of one audience in the caller's transaction (which enqueues their job),
 * in the given order; false when there is no such audience. The audience row is share-locked, so a
 * concurrent delete waits for this transaction, or this one finds the audience gone.
 */
export async function insertChanges(tx: TransactionSql, projectId: string, audienceId: string, changes: NewChange[]): Promise<boolean> {
  const [row] = await tx`select 1 from audiences where project_id = ${projectId} and id = ${audienceId} for share`;
  if (!row) return false;
  // One statement per change: seq is drawn in statement order, so the order the caller gave holds.
  for (const c of changes) {
    await tx`insert into audience_changes (id, project_id, audience_id, kind, custom_ids, upload_id, id_count, created_at)
      values (${c.id}, ${projectId}, ${audienceId}, ${c.kind}, ${c.customIds ?? null}, ${c.uploadId ?? null}, ${c.idCount}, ${new Date(c.now)})`;
  }
  await tx`update audiences set updated_at = ${new Date(changes[changes.length - 1]!.now)} where project_id = ${projectId} and id = ${audienceId}`;
  return true;
}

export interface ChangeState {
  token: string;
  state: 'in_process' | 'applied';
  kind: ChangeKind;
  id_count: number;
  created_at: string;
  applied_at: string | null;
  /** An upload's bulk import (GET /v1/jobs/{id} shows its progress). */
  job_id: string | null;
}

export async function changeState(sql: Db, projectId: string, audienceId: string, token: string): Promise<ChangeState | undefined> {
  const [c] = await sql<{ id: string; kind: ChangeKind; id_count: number; created_at: Date; applied_at: Date | null; upload_id: string | null }[]>`
    select id, kind, id_count, created_at, applied_at, upload_id from audience_changes
    where project_id = ${projectId} and audience_id = ${audienceId} and id = ${token}`;
  return c && {
    token: c.id, state: c.applied_at ? 'applied' : 'in_process', kind: c.kind, id_count: c.id_count,
    created_at: c.created_at.toISOString(), applied_at: c.applied_at?.toISOString() ?? null, job_id: c.upload_id,
  };
}

/** An applied change's indexing token answers this long, then the scheduler's upkeep forgets it. */
export const appliedChangeRetentionMs = 7 * 24 * 3600 * 1000;

/** Forgets changes applied more than the retention ago (`now`: the scheduler's clock); returns how many. */
export async function deleteAppliedChanges(sql: Db, now: Date, olderThanMs = appliedChangeRetentionMs): Promise<number> {
  const r = await sql`delete from audience_changes where applied_at < ${now}::timestamptz - ${olderThanMs / 1000} * interval '1 second'`;
  return r.count;
}

export interface ApplyOptions {
  now: Date;
  /** Runs inside the transaction just before it commits (tests simulate a crash here). */
  beforeCommit?: (tx: TransactionSql) => Promise<void>;
}

/**
 * Applies the audience's next step: its oldest pending change if inline, or the next chunk of its
 * oldest pending upload (stamping the change with the last one). Returns 'idle' when nothing is
 * pending (or the audience is gone), 'applied' when it took a step.
 */
export async function applyNextChange(sql: Sql, projectId: string, audienceId: string, o: ApplyOptions): Promise<'idle' | 'applied'> {
  return sql.begin(async (tx) => {
    // The row lock serializes every worker applying this audience: one step at a time, in order.
    const [audience] = await tx`select 1 from audiences where project_id = ${projectId} and id = ${audienceId} for update`;
    if (!audience) return 'idle' as const;
    // Ordered by c.seq, the bigint: a bare "seq" in ORDER BY names the text output column ('10' < '9').
    const [change] = await tx<{ id: string; seq: string; kind: ChangeKind; custom_ids: string[] | null; upload_id: string | null }[]>`
      select c.id, c.seq::text as seq, c.kind, c.custom_ids, c.upload_id from audience_changes c
      where c.project_id = ${projectId} and c.audience_id = ${audienceId} and c.applied_at is null
      order by c.seq limit 1`;
    if (!change) return 'idle' as const;
    const members = { projectId, audienceId };
    let finished = true;
    if (change.custom_ids) {
      await applyIds(tx, members, change.kind, change.custom_ids);
    } else {
      const uploadId = change.upload_id!;
      const [chunk] = await tx<{ chunk_no: number; body: string; line_count: number }[]>`
        select chunk_no, body, line_count from import_chunks where import_id = ${uploadId} and applied_at is null
        order by chunk_no limit 1`;
      if (chunk) {
        const ids = JSON.parse(chunk.body) as string[];
        if (change.kind === 'replace') await keepIds(tx, members, ids, change.seq);
        else await applyIds(tx, members, change.kind, ids);
        await tx`update import_chunks set applied_at = ${o.now}, body = '' where import_id = ${uploadId} and chunk_no = ${chunk.chunk_no}`;
        await tx`update import_jobs set processed_lines = processed_lines + ${chunk.line_count}, state = 'running' where id = ${uploadId}`;
        const [more] = await tx`select 1 from import_chunks where import_id = ${uploadId} and applied_at is null limit 1`;
        finished = !more;
      }
      if (finished) {
        if (change.kind === 'replace') {
          await tx`delete from audience_members where project_id = ${projectId} and audience_id = ${audienceId}
                   and kept_by is distinct from ${change.seq}::bigint`;
        }
        await tx`update import_jobs set state = 'done', finished_at = ${o.now} where id = ${uploadId}`;
      }
    }
    // An applied change keeps its count, not its ids: the members table has them now.
    if (finished) await tx`update audience_changes set applied_at = ${o.now}, custom_ids = case when custom_ids is null then null else '{}'::text[] end where id = ${change.id}`;
    await o.beforeCommit?.(tx);
    return 'applied' as const;
  });
}

interface Members { projectId: string; audienceId: string }

/** An inline change (or an add/remove chunk), set-based; applying it twice has one effect. */
async function applyIds(tx: TransactionSql, m: Members, kind: ChangeKind, ids: string[]): Promise<void> {
  if (kind === 'remove') {
    await tx`delete from audience_members where project_id = ${m.projectId} and audience_id = ${m.audienceId}
             and custom_id in (select unnest(${ids}::text[]))`;
    return;
  }
  if (kind === 'replace') {
    // A hashed anti-join: the members not in the new list go, whatever the audience's size.
    await tx`delete from audience_members a where a.project_id = ${m.projectId} and a.audience_id = ${m.audienceId}
             and not exists (select 1 from unnest(${ids}::text[]) as u(custom_id) where u.custom_id = a.custom_id)`;
  }
  await tx`insert into audience_members (project_id, audience_id, custom_id)
           select ${m.projectId}, ${m.audienceId}, custom_id from unnest(${ids}::text[]) as u(custom_id)
           on conflict do nothing`;
}

/** A replace upload's chunk: its ids become (or stay) members, marked as kept by this change. */
async function keepIds(tx: TransactionSql, m: Members, ids: string[], seq: string): Promise<void> {
  await tx`insert into audience_members (project_id, audience_id, custom_id, kept_by)
           select distinct ${m.projectId}::uuid, ${m.audienceId}, custom_id, ${seq}::bigint from unnest(${ids}::text[]) as u(custom_id)
           on conflict (project_id, audience_id, custom_id) do update set kept_by = excluded.kept_by`;
}
