/**
 * In-app messages (migration 0031, docs/in-app.md): definitions as numbered versions, what a
 * device's sync and display check read in one statement each, and the events devices report,
 * stored with their display and stats counters in one statement. Every statement is scoped to
 * one project.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { InAppStatus } from '../domain/in-app/eligibility.js';
import type { TargetingSubject } from '../domain/targeting/evaluate.js';
import type { AttributeDocument } from '../domain/profile-operations.js';
import type { CappingRule } from '../domain/capping/rules.js';
import { longestWindowMs, ruleOf } from './capping.js';

type Db = Sql | TransactionSql;

export interface InAppMessageRow {
  id: string;
  status: InAppStatus;
  version: number;
  definition: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  stopped_at: Date | null;
}

const columns = (sql: Db) => sql`m.id, m.status, m.version, v.definition, m.created_at, m.updated_at, m.started_at, m.stopped_at`;

export async function insertInAppMessage(tx: TransactionSql, m: { id: string; projectId: string; definition: unknown; now: Date }): Promise<InAppMessageRow> {
  await tx`insert into in_app_messages (id, project_id, status, version, created_at, updated_at)
           values (${m.id}, ${m.projectId}, 'draft', 1, ${m.now}, ${m.now})`;
  await tx`insert into in_app_message_versions (message_id, version, definition, created_at)
           values (${m.id}, 1, ${tx.json(m.definition as never)}, ${m.now})`;
  return (await getInAppMessage(tx, m.projectId, m.id))!;
}

export async function getInAppMessage(sql: Db, projectId: string, id: string): Promise<InAppMessageRow | undefined> {
  const [row] = await sql<InAppMessageRow[]>`
    select ${columns(sql)} from in_app_messages m join in_app_message_versions v on v.message_id = m.id and v.version = m.version
    where m.project_id = ${projectId} and m.id = ${id}`;
  return row;
}

/** Messages in id order (uuidv7: oldest first); the cursor is the last id. */
export async function listInAppMessages(sql: Db, projectId: string, page: { limit: number; after?: string | undefined; status?: InAppStatus | undefined }): Promise<{ messages: InAppMessageRow[]; next_cursor: string | null }> {
  const rows = await sql<InAppMessageRow[]>`
    select ${columns(sql)} from in_app_messages m join in_app_message_versions v on v.message_id = m.id and v.version = m.version
    where m.project_id = ${projectId}
      ${page.after !== undefined ? sql`and m.id > ${page.after}` : sql``}
      ${page.status !== undefined ? sql`and m.status = ${page.status}` : sql``}
    order by m.id limit ${page.limit + 1}`;
  const more = rows.length > page.limit;
  const list = rows.slice(0, page.limit);
  return { messages: list, next_cursor: more ? list[list.length - 1]!.id : null };
}

/** A new version devices get from their next sync; a stopped message cannot change (its status comes back). */
export async function updateInAppMessage(tx: TransactionSql, projectId: string, id: string, definition: unknown, now: Date): Promise<InAppMessageRow | { status: InAppStatus } | undefined> {
  const [current] = await tx<{ status: InAppStatus; version: number }[]>`
    select status, version from in_app_messages where project_id = ${projectId} and id = ${id} for update`;
  if (!current) return undefined;
  if (current.status === 'stopped') return { status: current.status };
  const version = current.version + 1;
  await tx`insert into in_app_message_versions (message_id, version, definition, created_at)
           values (${id}, ${version}, ${tx.json(definition as never)}, ${now})`;
  await tx`update in_app_messages set version = ${version}, updated_at = ${now} where project_id = ${projectId} and id = ${id}`;
  return getInAppMessage(tx, projectId, id);
}

/** Moves the message from one of `from` to `to`; the status it was in when it could not. */
export async function transitionInAppMessage(tx: TransactionSql, projectId: string, id: string, from: readonly InAppStatus[], to: InAppStatus, now: Date): Promise<{ moved: InAppMessageRow } | { status: InAppStatus } | undefined> {
  const [row] = await tx<{ status: InAppStatus }[]>`select status from in_app_messages where project_id = ${projectId} and id = ${id} for update`;
  if (!row) return undefined;
  if (!from.includes(row.status)) return { status: row.status };
  await tx`update in_app_messages set status = ${to}, updated_at = ${now},
             started_at = case when ${to} = 'running' then coalesce(started_at, ${now}) else started_at end,
             stopped_at = case when ${to} = 'stopped' then ${now}::timestamptz else stopped_at end
           where project_id = ${projectId} and id = ${id}`;
  return { moved: (await getInAppMessage(tx, projectId, id))! };
}

/** Deletes a message with its versions, events and counters; false when there is none. */
export async function deleteInAppMessage(sql: Db, projectId: string, id: string): Promise<boolean> {
  const rows = await sql`delete from in_app_messages where project_id = ${projectId} and id = ${id} returning 1`;
  return rows.length > 0;
}

/** One version's definition, or undefined (no such message in this project, or no such version). */
export async function inAppVersion(sql: Db, projectId: string, id: string, version: number): Promise<unknown> {
  const [row] = await sql<{ definition: unknown }[]>`
    select v.definition from in_app_message_versions v join in_app_messages m on m.id = v.message_id
    where m.project_id = ${projectId} and v.message_id = ${id} and v.version = ${version}`;
  return row?.definition;
}

/** The project's running messages and the version each is at (definitions are read by version, and kept). */
export async function runningInAppMessages(sql: Db, projectId: string): Promise<{ id: string; version: number }[]> {
  return sql<{ id: string; version: number }[]>`
    select id, version from in_app_messages where project_id = ${projectId} and status = 'running' order by id`;
}

/** Whose displays capping counts: the installation's profile, else the installation itself. */
export interface InAppOwner { kind: 'profile' | 'installation'; id: string }

/** Everything one device's sync or check decides on, read in one statement (one snapshot). */
export interface InAppViewer {
  owner: InAppOwner;
  /** Null: no installation with this install_id in the project. */
  installation: { platform: string; custom_id: string | null; timezone: string | null; language: string | null } | null;
  profile: { custom_id: string; language: string | null; region: string | null; timezone: string | null; email: string | null; phone: string | null; attributes: AttributeDocument } | null;
  subject: TargetingSubject;
  projectZone: string;
  /** The message's status and current version (a check), when it exists in this project. */
  message: { status: InAppStatus; version: number } | null;
  /** The owner's displays per message id: all its messages (a sync) or the checked one. */
  displays: Map<string, { count: number; lastAt: number | null }>;
  /** The owner's displays of any message within the longest in_app rule's window. */
  recent: { at: number; messageId: string }[];
  /** The project's enabled capping rules of scope in_app. */
  rules: CappingRule[];
}

interface ViewerRow {
  installation: { platform: string; custom_id: string | null; timezone: string | null; language: string | null; push_token: string | null; app_version: string | null; sdk_version: string | null; attributes: Record<string, unknown> } | null;
  profile: (InAppViewer['profile'] & { email_subscription: string | null; sms_subscription: string | null }) | null;
  events: { name: string; time: string; attributes: Record<string, unknown> }[];
  installations: { platform: string; push_token: string | null; app_version: string | null; sdk_version: string | null }[];
  audiences: string[] | null;
  project_zone: string | null;
  status: InAppStatus | null;
  version: number | null;
  displays: { message_id: string; displays: number; last_display: string | null }[];
  recent: { message_id: string; time: string }[];
  rules: Parameters<typeof ruleOf>[0][];
}

/**
 * The device, its profile as PostgreSQL has it now (native fields, attributes, the events the
 * audiences name, its installations, its audiences), its displays, the capping rules of scope
 * in_app and the displays within their longest window, and (with `messageId`) the message's status: one statement, one round trip, one fixed
 * text (prepared once per connection: the parameters change, never the SQL). Every part is a
 * primary-key or index probe of this project's rows.
 */
export async function loadInAppViewer(
  sql: Db, projectId: string, installId: string,
  o: { messageId: string | null; eventNames: readonly string[]; now: Date; needs?: { installations: boolean; audiences: boolean } | undefined },
): Promise<InAppViewer> {
  // The probes no audience being decided looks at are skipped (a one-time filter on a parameter: the text stays one).
  const needs = o.needs ?? { installations: true, audiences: true };
  const [row] = await sql<ViewerRow[]>`
    with inst as (
      select platform, custom_id, timezone, language, push_token, app_version, sdk_version, attributes
      from installations where project_id = ${projectId} and install_id = ${installId}
    ), o as (
      select case when c.custom_id is null then 'installation' else 'profile' end as kind, coalesce(c.custom_id, ${installId}::text) as owner, c.custom_id
      from (select (select custom_id from inst) as custom_id) c
    )
    select
      (select row_to_json(i) from inst i) as installation,
      (select row_to_json(p) from (
         select custom_id, language, region, timezone, email, phone, email_subscription, sms_subscription, attributes
         from profiles where project_id = ${projectId} and custom_id = o.custom_id) p) as profile,
      (select coalesce(json_agg(json_build_object('name', e.name, 'time', e.time, 'attributes', e.attributes)), '[]')
         from events e where e.project_id = ${projectId} and e.custom_id = o.custom_id and e.name = any(${o.eventNames as string[]}::text[])) as events,
      (select coalesce(json_agg(json_build_object('platform', i.platform, 'push_token', i.push_token, 'app_version', i.app_version, 'sdk_version', i.sdk_version)), '[]')
         from installations i where ${needs.installations}::boolean and i.project_id = ${projectId} and i.custom_id = o.custom_id) as installations,
      (select array_agg(a.audience_id::text) from audience_members a
         where ${needs.audiences}::boolean and a.project_id = ${projectId} and a.custom_id = o.custom_id) as audiences,
      (select timezone from projects where id = ${projectId}) as project_zone,
      m.status, m.version,
      (select coalesce(json_agg(json_build_object('message_id', d.message_id, 'displays', d.displays, 'last_display', d.last_display)), '[]')
         from in_app_displays d where d.project_id = ${projectId} and d.owner_kind = o.kind and d.owner = o.owner
           and (${o.messageId}::uuid is null or d.message_id = ${o.messageId}::uuid)) as displays,
      (select coalesce(json_agg(json_build_object('message_id', e.message_id, 'time', e.time)), '[]')
         from in_app_events e where e.project_id = ${projectId} and e.owner_kind = o.kind and e.owner = o.owner
           and e.type = 'impression' and e.time > ${o.now}::timestamptz - (
             select coalesce(max(r.window_amount * case r.window_unit when 'days' then interval '1 day' else interval '1 hour' end), interval '0')
             from capping_rules r where r.project_id = ${projectId} and r.enabled and r.scope = 'in_app')) as recent,
      (select coalesce(json_agg(r), '[]') from capping_rules r where r.project_id = ${projectId} and r.enabled and r.scope = 'in_app') as rules
    from o left join in_app_messages m on m.project_id = ${projectId} and m.id = ${o.messageId}::uuid`;
  const r = row!;
  const customId = r.installation?.custom_id ?? null;
  const p = r.profile;
  const subject: TargetingSubject = {
    native: p
      ? { language: p.language, region: p.region, timezone: p.timezone, email: p.email, phone: p.phone, email_subscription: p.email_subscription, sms_subscription: p.sms_subscription }
      : { language: r.installation?.language ?? null, timezone: r.installation?.timezone ?? null },
    // An anonymous installation's attributes wait on it for identify (null records an unset): targeting reads them meanwhile.
    attributes: p?.attributes ?? (customId ? {} : Object.fromEntries(Object.entries(r.installation?.attributes ?? {}).filter(([, v]) => v !== null)) as AttributeDocument),
    events: r.events.map((e) => ({ name: e.name, time: Date.parse(e.time), attributes: e.attributes })),
    // An anonymous installation is its own only device.
    installations: (customId ? r.installations : r.installation ? [r.installation] : []).map((i) => ({
      platform: i.platform, pushToken: i.push_token, appVersion: i.app_version, sdkVersion: i.sdk_version,
    })),
    audiences: new Set(r.audiences ?? []),
  };
  return {
    owner: customId ? { kind: 'profile', id: customId } : { kind: 'installation', id: installId },
    installation: r.installation && { platform: r.installation.platform, custom_id: customId, timezone: r.installation.timezone, language: r.installation.language },
    profile: p && { custom_id: p.custom_id, language: p.language, region: p.region, timezone: p.timezone, email: p.email, phone: p.phone, attributes: p.attributes },
    subject,
    projectZone: r.project_zone ?? 'UTC',
    message: r.status === null || r.version === null ? null : { status: r.status, version: r.version },
    displays: new Map(r.displays.map((d) => [d.message_id, { count: d.displays, lastAt: d.last_display === null ? null : Date.parse(d.last_display) }])),
    recent: r.recent.map((e) => ({ at: Date.parse(e.time), messageId: e.message_id })),
    rules: r.rules.map(ruleOf),
  };
}

export interface NewInAppEvent {
  clientId: string;
  messageId: string;
  version: number;
  type: 'impression' | 'click' | 'dismiss';
  buttonId: string | null;
  /** ISO-8601 UTC. */
  time: string;
}

/**
 * Stores a device's events and counts them, in one statement: the event rows (a client id seen
 * before adds nothing), the owner's display counters, and the day's stats counters, the last two
 * fed only by the rows that were new. An event naming a message that is not this project's is
 * neither stored nor counted. Returns how many were stored, and the messages this batch displayed
 * to the owner for the first time (where an inbox item may be due), with the owner.
 */
export async function storeInAppEvents(
  tx: TransactionSql, projectId: string, installId: string, events: readonly NewInAppEvent[], now: Date,
): Promise<{ stored: number; known: number; owner: InAppOwner; firstDisplays: { messageId: string; version: number }[] }> {
  const day = now.toISOString().slice(0, 10);
  const rows = await tx<{ kind: 'stored' | 'known' | 'owner' | 'first'; message_id: string | null; version: number | null; n: number; owner_kind: string | null; owner: string | null }[]>`
    with input as (
      select * from unnest(${events.map((e) => e.clientId)}::text[], ${events.map((e) => e.messageId)}::uuid[], ${events.map((e) => e.version)}::int[],
                           ${events.map((e) => e.type)}::text[], ${events.map((e) => e.buttonId) as string[]}::text[], ${events.map((e) => e.time)}::timestamptz[])
        as i(client_id, message_id, version, type, button_id, time)
    ), o as (
      select case when c.custom_id is null then 'installation' else 'profile' end as kind, coalesce(c.custom_id, ${installId}::text) as owner
      from (select (select custom_id from installations where project_id = ${projectId} and install_id = ${installId}) as custom_id) c
    ), known as (
      select i.* from input i join in_app_messages m on m.id = i.message_id and m.project_id = ${projectId}
    ), stored as (
      insert into in_app_events (project_id, install_id, client_id, message_id, version, type, button_id, owner_kind, owner, time, received_at)
      select ${projectId}, ${installId}, k.client_id, k.message_id, k.version, k.type, k.button_id, o.kind, o.owner, k.time, ${now}
      from known k cross join o
      on conflict do nothing
      returning message_id, version, type, time
    ), added as (
      select message_id, max(version) as version,
             count(*) filter (where type = 'impression')::int as impressions,
             count(*) filter (where type = 'click')::int as clicks,
             count(*) filter (where type = 'dismiss')::int as dismissals,
             max(time) filter (where type = 'impression') as last_display
      from stored group by message_id
    ), displays as (
      insert into in_app_displays as d (project_id, message_id, owner_kind, owner, displays, clicks, last_display)
      select ${projectId}, a.message_id, o.kind, o.owner, a.impressions, a.clicks, a.last_display
      from added a cross join o
      where a.impressions > 0 or a.clicks > 0
      on conflict (project_id, owner_kind, owner, message_id) do update
        set displays = d.displays + excluded.displays, clicks = d.clicks + excluded.clicks,
            last_display = greatest(d.last_display, excluded.last_display)
      returning d.message_id, d.displays, d.clicks
    ), counted as (
      -- The counters before this batch are its totals minus what it added: a first display or click is one that started from 0.
      select a.*, (a.impressions > 0 and coalesce(x.displays, 0) = a.impressions)::int as unique_impressions,
             (a.clicks > 0 and coalesce(x.clicks, 0) = a.clicks)::int as unique_clicks
      from added a left join displays x on x.message_id = a.message_id
    ), stats as (
      insert into in_app_stats as s (project_id, message_id, day, impressions, unique_impressions, clicks, unique_clicks, dismissals)
      select ${projectId}, message_id, ${day}::date, impressions, unique_impressions, clicks, unique_clicks, dismissals from counted
      on conflict (project_id, message_id, day) do update
        set impressions = s.impressions + excluded.impressions, unique_impressions = s.unique_impressions + excluded.unique_impressions,
            clicks = s.clicks + excluded.clicks, unique_clicks = s.unique_clicks + excluded.unique_clicks,
            dismissals = s.dismissals + excluded.dismissals
      returning 1
    )
    select 'stored' as kind, null::uuid as message_id, null::int as version, count(*)::int as n, null as owner_kind, null as owner from stored
    union all select 'known', null, null, count(*)::int, null, null from known
    union all select 'owner', null, null, (select count(*)::int from stats), kind, owner from o
    union all select 'first', message_id, version, 1, null, null from counted where unique_impressions = 1`;
  const ownerRow = rows.find((r) => r.kind === 'owner')!;
  return {
    stored: rows.find((r) => r.kind === 'stored')!.n,
    known: rows.find((r) => r.kind === 'known')!.n,
    owner: { kind: ownerRow.owner_kind as InAppOwner['kind'], id: ownerRow.owner! },
    firstDisplays: rows.filter((r) => r.kind === 'first').map((r) => ({ messageId: r.message_id!, version: r.version! })),
  };
}

export interface InAppStatsRow { day: string; impressions: number; unique_impressions: number; clicks: number; unique_clicks: number; dismissals: number }

/** The message's counters by UTC day of receipt, oldest first. */
export async function inAppStats(sql: Db, projectId: string, messageId: string): Promise<InAppStatsRow[]> {
  return sql<InAppStatsRow[]>`
    select to_char(day, 'YYYY-MM-DD') as day, impressions, unique_impressions, clicks, unique_clicks, dismissals
    from in_app_stats where project_id = ${projectId} and message_id = ${messageId} order by day`;
}

/** What a template sees of an owner (store for the inbox item of a first impression). */
export async function scopeProfile(sql: Db, projectId: string, owner: InAppOwner): Promise<{ custom_id: string | null; language: string | null; region: string | null; timezone: string | null; email: string | null; phone: string | null; attributes: AttributeDocument }> {
  if (owner.kind === 'installation') return { custom_id: null, language: null, region: null, timezone: null, email: null, phone: null, attributes: {} };
  const [p] = await sql<{ custom_id: string; language: string | null; region: string | null; timezone: string | null; email: string | null; phone: string | null; attributes: AttributeDocument }[]>`
    select custom_id, language, region, timezone, email, phone, attributes from profiles where project_id = ${projectId} and custom_id = ${owner.id}`;
  return p ?? { custom_id: owner.id, language: null, region: null, timezone: null, email: null, phone: null, attributes: {} };
}

/**
 * Erasure (store/erasure.ts): the person's reported events and display counters, the profile's
 * and their devices'. The stats' day counters are aggregates and stay.
 */
export async function eraseInAppActivity(tx: TransactionSql, projectId: string, customId: string, installIds: readonly string[]): Promise<void> {
  const installs = [...installIds];
  await tx`delete from in_app_events where project_id = ${projectId}
           and ((owner_kind = 'profile' and owner = ${customId}) or install_id = any(${installs}))`;
  await tx`delete from in_app_displays where project_id = ${projectId}
           and ((owner_kind = 'profile' and owner = ${customId}) or (owner_kind = 'installation' and owner = any(${installs})))`;
}

/**
 * Forgets events received, and happened, longer ago than any capping window (90 days): none counts
 * for capping again, and an SDK outbox retries within days, not months. The display and stats
 * counters keep what they counted. A bounded batch per statement; returns how many.
 */
export async function deleteOldInAppEvents(sql: Sql, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - longestWindowMs);
  let total = 0;
  for (;;) {
    const rows = await sql`
      delete from in_app_events where ctid = any(array(
        select ctid from in_app_events where received_at < ${cutoff} and time < ${cutoff} limit 10000))
      returning 1`;
    total += rows.length;
    if (rows.length < 10000) return total;
  }
}
