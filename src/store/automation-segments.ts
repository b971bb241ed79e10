/**
 * The sweep of segment triggers (docs/automations.md, "Entry on entering a segment"): the profiles
 * whose membership in an automation's segment may have changed without any write to them, because
 * the condition moves with time alone ("within the last 30 days", "in the next 7 days") or with
 * rows the profile-change trigger does not watch (installations, audiences). One statement per
 * page, compiled by domain/targeting/sql.ts at the sweep's `now`; each profile found is then looked
 * at again in memory under its entry-history lock (scheduler/automation-segments.ts), which is what
 * decides.
 */
import type { Sql, TransactionSql } from 'postgres';
import { compileQuery } from '../domain/targeting/sql.js';
import type { Query } from '../domain/targeting/query.js';

type Db = Sql | TransactionSql;

/** The live automations with a segment trigger are among these (their definitions say which). */
export async function liveAutomations(sql: Db): Promise<{ id: string; project_id: string; version: number }[]> {
  return sql<{ id: string; project_id: string; version: number }[]>`select id, project_id, version from automations where state = 'live' order by id`;
}

/** Profiles matching `query` the automation has not seen inside its segment, after `after`, in custom_id order. */
export async function enteringPage(sql: Db, a: { id: string; projectId: string }, query: Query, now: number, page: { after: string; limit: number }): Promise<string[]> {
  const q = compileQuery(query, now, 5, { project: '$1::uuid' });
  const rows = await sql.unsafe<{ custom_id: string }[]>(
    `select p.custom_id from profiles p
      where p.project_id = $1::uuid and p.custom_id > $3::text
        and not exists (select 1 from automation_profiles m where m.automation_id = $2::uuid and m.custom_id = p.custom_id and m.in_segment)
        and ${q.sql}
      order by p.custom_id limit $4::int`,
    [a.projectId, a.id, page.after, String(page.limit), ...q.params],
  );
  return rows.map((r) => r.custom_id);
}

/** Profiles seen inside the segment that no longer match it (or no longer exist), after `after`. */
export async function leavingPage(sql: Db, a: { id: string; projectId: string }, query: Query, now: number, page: { after: string; limit: number }): Promise<string[]> {
  const q = compileQuery({ kind: 'not', of: query }, now, 5, { project: '$1::uuid' });
  const rows = await sql.unsafe<{ custom_id: string }[]>(
    `select m.custom_id from automation_profiles m
       left join profiles p on p.project_id = $1::uuid and p.custom_id = m.custom_id
      where m.automation_id = $2::uuid and m.in_segment and m.custom_id > $3::text
        and (p.custom_id is null or ${q.sql})
      order by m.custom_id limit $4::int`,
    [a.projectId, a.id, page.after, String(page.limit), ...q.params],
  );
  return rows.map((r) => r.custom_id);
}
