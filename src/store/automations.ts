/**
 * Automations and their versions (migration 0029, docs/automations.md). A definition is stored as
 * the API took it, one row per version; the automation names the version new entries take, and a
 * journey keeps the version it entered on. Changing a definition adds a version (in the
 * transaction that moves the automation's pointer), so running journeys finish on theirs. The
 * event names each version listens to are kept for the event statement (store/events.ts).
 */
import type { Sql, TransactionSql } from 'postgres';

type Db = Sql | TransactionSql;

export const automationStates = ['draft', 'live', 'stopped'] as const;
export type AutomationState = (typeof automationStates)[number];

export interface Automation {
  id: string;
  project_id: string;
  name: string;
  state: AutomationState;
  version: number;
  definition: unknown;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  stopped_at: Date | null;
}

const columns = (sql: Db) => sql`a.id, a.project_id, a.name, a.state, a.version, v.definition, a.created_at, a.updated_at, a.started_at, a.stopped_at`;

async function listen(sql: Db, projectId: string, automationId: string, names: readonly string[]): Promise<void> {
  if (!names.length) return;
  await sql`insert into automation_event_names (project_id, name, automation_id)
            select ${projectId}, n, ${automationId} from unnest(${[...names].sort()}::text[]) as n
            on conflict do nothing`;
}

export async function insertAutomation(tx: TransactionSql, a: { id: string; projectId: string; name: string; live: boolean; definition: unknown; eventNames: string[]; now: Date }): Promise<Automation> {
  await tx`insert into automations (id, project_id, name, state, version, created_at, updated_at, started_at)
           values (${a.id}, ${a.projectId}, ${a.name}, ${a.live ? 'live' : 'draft'}, 1, ${a.now}, ${a.now}, ${a.live ? a.now : null})`;
  await tx`insert into automation_versions (automation_id, version, definition, created_at)
           values (${a.id}, 1, ${tx.json(a.definition as never)}, ${a.now})`;
  await listen(tx, a.projectId, a.id, a.eventNames);
  return (await getAutomation(tx, a.projectId, a.id))!;
}

export async function getAutomation(sql: Db, projectId: string, id: string): Promise<Automation | undefined> {
  const [row] = await sql<Automation[]>`
    select ${columns(sql)} from automations a join automation_versions v on v.automation_id = a.id and v.version = a.version
    where a.project_id = ${projectId} and a.id = ${id}`;
  return row;
}

/** One version's definition (a journey's), whatever the automation's current one. */
export async function automationVersion(sql: Db, automationId: string, version: number): Promise<unknown> {
  const [row] = await sql<{ definition: unknown }[]>`select definition from automation_versions where automation_id = ${automationId} and version = ${version}`;
  return row?.definition;
}

/** An automation's versions, newest first, `limit` of them before version `before` (all when absent). The caller checked the automation's project. */
export async function automationVersions(sql: Db, automationId: string, page: { limit: number; before?: number | undefined }): Promise<{ version: number; definition: unknown; created_at: Date }[]> {
  return sql<{ version: number; definition: unknown; created_at: Date }[]>`
    select version, definition, created_at from automation_versions
    where automation_id = ${automationId} and version < ${page.before ?? 2_147_483_647}
    order by version desc limit ${page.limit}`;
}

/** Automations in id order (uuidv7: oldest first); the cursor is the last id. */
export async function listAutomations(sql: Db, projectId: string, page: { limit: number; after?: string | undefined; state?: AutomationState | undefined }): Promise<{ automations: Automation[]; next_cursor: string | null }> {
  const rows = await sql<Automation[]>`
    select ${columns(sql)} from automations a join automation_versions v on v.automation_id = a.id and v.version = a.version
    where a.project_id = ${projectId}
      ${page.after !== undefined ? sql`and a.id > ${page.after}` : sql``}
      ${page.state !== undefined ? sql`and a.state = ${page.state}` : sql``}
    order by a.id limit ${page.limit + 1}`;
  const more = rows.length > page.limit;
  const list = rows.slice(0, page.limit);
  return { automations: list, next_cursor: more ? list[list.length - 1]!.id : null };
}

/**
 * Renames, and with a definition adds a version that new entries take from now on. A stopped
 * automation cannot change (its state comes back instead).
 */
export async function updateAutomation(tx: TransactionSql, projectId: string, id: string, change: { name?: string | undefined; definition?: unknown; eventNames?: string[] | undefined; now: Date }): Promise<Automation | { state: AutomationState } | undefined> {
  const [current] = await tx<{ state: AutomationState; version: number }[]>`
    select state, version from automations where project_id = ${projectId} and id = ${id} for update`;
  if (!current) return undefined;
  if (current.state === 'stopped') return { state: current.state };
  let version = current.version;
  if (change.definition !== undefined) {
    version += 1;
    await tx`insert into automation_versions (automation_id, version, definition, created_at)
             values (${id}, ${version}, ${tx.json(change.definition as never)}, ${change.now})`;
    await listen(tx, projectId, id, change.eventNames ?? []);
  }
  await tx`update automations set name = coalesce(${change.name ?? null}, name), version = ${version}, updated_at = ${change.now}
           where id = ${id}`;
  return getAutomation(tx, projectId, id);
}

/** Moves the automation from one of `from` to `to`; the state it was in when it could not. */
export async function transitionAutomation(tx: TransactionSql, projectId: string, id: string, from: readonly AutomationState[], to: AutomationState, now: Date): Promise<{ moved: Automation } | { state: AutomationState } | undefined> {
  const [row] = await tx<{ state: AutomationState }[]>`select state from automations where project_id = ${projectId} and id = ${id} for update`;
  if (!row) return undefined;
  if (!from.includes(row.state)) return { state: row.state };
  await tx`update automations set state = ${to}, updated_at = ${now},
             started_at = case when ${to} = 'live' then coalesce(started_at, ${now}) else started_at end,
             stopped_at = case when ${to} = 'stopped' then ${now}::timestamptz else stopped_at end
           where id = ${id}`;
  return { moved: (await getAutomation(tx, projectId, id))! };
}

/** Deletes a draft or a stopped automation with its journeys and counts; the state it was in when live. */
export async function deleteAutomation(tx: TransactionSql, projectId: string, id: string): Promise<'deleted' | { state: AutomationState } | undefined> {
  const [row] = await tx<{ state: AutomationState }[]>`select state from automations where project_id = ${projectId} and id = ${id} for update`;
  if (!row) return undefined;
  if (row.state === 'live') return { state: row.state };
  await tx`delete from automations where id = ${id}`;
  return 'deleted';
}
