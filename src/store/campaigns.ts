/**
 * Campaign definitions and their lifecycle. The definition is stored as the API normalized it and
 * parsed again where it is used (worker/campaign-*.ts), like a segment's query. State changes are
 * conditional updates, so two callers racing (a stop and the scheduler starting an occurrence)
 * each see the state the other left.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { CampaignDefinition } from '../domain/campaigns/definition.js';

type Db = Sql | TransactionSql;

export const campaignStates = ['draft', 'scheduled', 'running', 'paused', 'stopped', 'finished'] as const;
export type CampaignState = (typeof campaignStates)[number];

export interface Campaign {
  id: string;
  project_id: string;
  name: string;
  state: CampaignState;
  definition: CampaignDefinition;
  labels: string[];
  send_rate: number | null;
  /** The send rate's bucket (worker/campaign-send.ts). */
  rate_tokens: number;
  rate_at: Date | null;
  occurrences: number;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const columns = (sql: Db) => sql`id, project_id, name, state, definition, labels, send_rate, rate_tokens, rate_at, occurrences, created_at, updated_at, started_at, finished_at`;

export async function insertCampaign(sql: Db, c: { id: string; projectId: string; name: string; state: 'draft' | 'scheduled'; definition: CampaignDefinition; labels: string[]; sendRate: number | null; now: Date }): Promise<Campaign> {
  const [row] = await sql<Campaign[]>`
    insert into campaigns (id, project_id, name, state, definition, labels, send_rate, created_at, updated_at, started_at)
    values (${c.id}, ${c.projectId}, ${c.name}, ${c.state}, ${sql.json(c.definition as never)}, ${c.labels}, ${c.sendRate},
            ${c.now}, ${c.now}, ${c.state === 'scheduled' ? c.now : null})
    returning ${columns(sql)}`;
  return row!;
}

export async function getCampaign(sql: Db, projectId: string, id: string): Promise<Campaign | undefined> {
  const [row] = await sql<Campaign[]>`select ${columns(sql)} from campaigns where project_id = ${projectId} and id = ${id}`;
  return row;
}

/** Campaigns in id order (time-ordered uuidv7: oldest first); the cursor is the last id. */
export async function listCampaigns(sql: Db, projectId: string, page: { limit: number; after?: string | undefined; state?: CampaignState | undefined }): Promise<{ campaigns: Campaign[]; next_cursor: string | null }> {
  const rows = await sql<Campaign[]>`
    select ${columns(sql)} from campaigns
    where project_id = ${projectId}
      ${page.after !== undefined ? sql`and id > ${page.after}` : sql``}
      ${page.state !== undefined ? sql`and state = ${page.state}` : sql``}
    order by id limit ${page.limit + 1}`;
  const more = rows.length > page.limit;
  const list = rows.slice(0, page.limit);
  return { campaigns: list, next_cursor: more ? list[list.length - 1]!.id : null };
}

/** Replaces a draft's or a not yet started scheduled campaign's definition; the state it was in otherwise. */
export async function updateCampaign(sql: Db, projectId: string, id: string, change: { name?: string | undefined; definition?: CampaignDefinition | undefined; labels?: string[] | undefined; sendRate?: number | null | undefined; now: Date }): Promise<Campaign | { state: CampaignState } | undefined> {
  const [row] = await sql<Campaign[]>`
    update campaigns set
      name = coalesce(${change.name ?? null}, name),
      definition = coalesce(${change.definition ? sql.json(change.definition as never) : null}::jsonb, definition),
      labels = coalesce(${change.labels ?? null}::text[], labels),
      send_rate = case when ${change.sendRate !== undefined} then ${change.sendRate ?? null}::int else send_rate end,
      updated_at = ${change.now}
    where project_id = ${projectId} and id = ${id} and (state = 'draft' or (state = 'scheduled' and occurrences = 0))
    returning ${columns(sql)}`;
  if (row) return row;
  const [current] = await sql<{ state: CampaignState }[]>`select state from campaigns where project_id = ${projectId} and id = ${id}`;
  return current;
}

/**
 * Moves a campaign from one of `from` to `to`; the campaign as it is after, or its state when it
 * was in none of `from`, or undefined when there is no such campaign.
 */
export async function transitionCampaign(sql: Db, projectId: string, id: string, from: readonly CampaignState[], to: CampaignState, now: Date): Promise<{ moved: Campaign } | { state: CampaignState } | undefined> {
  const [row] = await sql<Campaign[]>`
    update campaigns set state = ${to}, updated_at = ${now},
      started_at = case when ${to} = 'scheduled' then coalesce(started_at, ${now}) else started_at end,
      finished_at = case when ${to} in ('stopped', 'finished') then ${now} else finished_at end
    where project_id = ${projectId} and id = ${id} and state = any(${[...from]}::text[])
    returning ${columns(sql)}`;
  if (row) return { moved: row };
  const [current] = await sql<{ state: CampaignState }[]>`select state from campaigns where project_id = ${projectId} and id = ${id}`;
  return current;
}

/** The campaigns the scheduler looks at: started, not paused, stopped or finished. */
export async function activeCampaigns(sql: Db, limit: number): Promise<Campaign[]> {
  return sql<Campaign[]>`select ${columns(sql)} from campaigns where state in ('scheduled', 'running') order by id limit ${limit}`;
}

/** A campaign by id alone, for the workers (its jobs carry no project), locked against state changes until the caller commits. */
export async function getCampaignForWork(tx: TransactionSql, id: string, lock: 'share' | 'update' = 'share'): Promise<Campaign | undefined> {
  const [row] = lock === 'update'
    ? await tx<Campaign[]>`select ${columns(tx)} from campaigns where id = ${id} for update`
    : await tx<Campaign[]>`select ${columns(tx)} from campaigns where id = ${id} for share`;
  return row;
}

/** The zone a project's local-time campaigns fall back to. */
export async function projectTimezone(sql: Db, projectId: string): Promise<string> {
  const [row] = await sql<{ timezone: string }[]>`select timezone from projects where id = ${projectId}`;
  return row?.timezone ?? 'UTC';
}

/** The message group a campaign's messages are sent under. */
export const campaignGroup = (campaignId: string) => `campaign:${campaignId}`;
