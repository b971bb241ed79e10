/**
 * Capping (docs/capping.md): the project's rules and quiet hours, and the reservation the fan-out
 * makes for every message that reaches a profile.
 *
 * Exact under concurrency: the fan-out transaction that records a message's deliveries
 * (store/deliveries.ts) first takes a transaction-scoped advisory lock per (project, profile), all
 * of a batch's in one statement in ascending key order (so two batches sharing profiles queue
 * behind one another and never deadlock), then reads the profiles' counted sends, decides
 * (domain/capping/decide.ts) and records a `capping_sends` row for every admitted send before it
 * commits. Under READ COMMITTED each statement sees every commit that preceded it, so the next
 * holder of a profile's lock sees what the last one admitted: two campaigns and a burst of
 * transactional sends racing for one person are decided one after another, never together.
 *
 * Deferral: a deferred profile gets no delivery row now; a `capping_deferrals` row (message,
 * profile, release_at) is written in the same transaction, and the fan-out enqueues, in it too, a
 * release job for the message due at release_at. The release deletes the message's due rows
 * (under the message's row lock, so a duplicate job finds none) and fans the message out again to
 * those profiles alone, through the same decision: nothing is lost (row and job commit together)
 * and nothing is sent twice (the row is consumed once; deliveries are unique per message and target).
 */
import { createHash } from 'node:crypto';
import type { Sql, TransactionSql } from 'postgres';
import type { Channel } from '../domain/channels.js';
import { decideCapping, type CappingDecision, type CountedSend } from '../domain/capping/decide.js';
import type { QuietHours } from '../domain/capping/quiet-hours.js';
import { kindOfGroup, windowMs, type CappingRule, type CappingScope, type MessageKind } from '../domain/capping/rules.js';
import { formatTime, parseTime } from '../domain/campaigns/local-time.js';

type Db = Sql | TransactionSql;

export interface CappingRuleView {
  id: string;
  name: string;
  scope: CappingScope;
  label: string | null;
  channels: string[];
  max_sends: number;
  window_amount: number;
  window_unit: 'hours' | 'days';
  action: 'skip' | 'defer';
  max_delay_minutes: number | null;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

export type CappingRuleInput = Omit<CappingRuleView, 'id' | 'created_at' | 'updated_at'>;

interface RuleRow extends Omit<CappingRuleView, 'created_at' | 'updated_at'> { created_at: Date | string; updated_at: Date | string }

const columns = 'id, name, scope, label, channels, max_sends, window_amount, window_unit, action, max_delay_minutes, enabled, created_at, updated_at';
const shown = (r: RuleRow): CappingRuleView => ({ ...r, created_at: new Date(r.created_at).toISOString(), updated_at: new Date(r.updated_at).toISOString() });

export async function insertRule(sql: Db, projectId: string, id: string, rule: CappingRuleInput, now: number): Promise<CappingRuleView> {
  const at = new Date(now);
  const [row] = await sql<RuleRow[]>`
    insert into capping_rules ${sql({ id, project_id: projectId, ...rule, created_at: at, updated_at: at })}
    returning ${sql.unsafe(columns)}`;
  return shown(row!);
}

export async function listRules(sql: Db, projectId: string): Promise<CappingRuleView[]> {
  const rows = await sql<RuleRow[]>`select ${sql.unsafe(columns)} from capping_rules where project_id = ${projectId} order by id`;
  return rows.map(shown);
}

export async function getRule(sql: Db, projectId: string, id: string): Promise<CappingRuleView | undefined> {
  const [row] = await sql<RuleRow[]>`select ${sql.unsafe(columns)} from capping_rules where project_id = ${projectId} and id = ${id}`;
  return row && shown(row);
}

/** Replaces a rule's fields; undefined when there is no such rule. */
export async function replaceRule(sql: Db, projectId: string, id: string, rule: CappingRuleInput, now: number): Promise<CappingRuleView | undefined> {
  const [row] = await sql<RuleRow[]>`
    update capping_rules set ${sql({ ...rule, updated_at: new Date(now) })} where project_id = ${projectId} and id = ${id}
    returning ${sql.unsafe(columns)}`;
  return row && shown(row);
}

export async function deleteRule(sql: Db, projectId: string, id: string): Promise<boolean> {
  const rows = await sql`delete from capping_rules where project_id = ${projectId} and id = ${id} returning id`;
  return rows.length > 0;
}

/** Quiet hours as the API shows them. */
export interface QuietHoursView { start: string; end: string; action: 'defer' | 'skip' }

export async function getQuietHours(sql: Db, projectId: string): Promise<QuietHoursView | null> {
  const [row] = await sql<{ quiet_hours: QuietHoursView | null }[]>`select quiet_hours from projects where id = ${projectId}`;
  return row?.quiet_hours ?? null;
}

export async function setQuietHours(sql: Db, projectId: string, q: QuietHoursView | null): Promise<void> {
  await sql`update projects set quiet_hours = ${q ? sql.json(q as never) : null} where id = ${projectId}`;
}

const quietOf = (v: QuietHoursView | null): QuietHours | null => {
  const [start, end] = [parseTime(v?.start), parseTime(v?.end)];
  return v && start && end && formatTime(start) !== formatTime(end) ? { start, end, action: v.action } : null;
};

/** A stored rule as domain/capping/decide.ts takes it (also the in-app display check's, store/in-app.ts). */
export const ruleOf = (r: RuleRow): CappingRule => ({
  id: r.id, name: r.name, scope: r.scope, label: r.label, channels: r.channels, max: r.max_sends,
  windowMs: windowMs(r.window_amount, r.window_unit), action: r.action,
  maxDelayMs: r.max_delay_minutes === null ? null : r.max_delay_minutes * 60_000,
});

/** One message's share of a fan-out, by profile: the channels it reaches each profile on. */
export interface CapCandidate {
  messageId: string;
  projectId: string;
  groupId: string;
  createdAt: Date;
  profiles: ReadonlyMap<string, readonly Channel[]>;
}

export interface CapResult {
  /** The decision for (message, profile), keyed `messageId\0customId`; absent: no rule or quiet hours apply (send). */
  decisions: Map<string, CappingDecision>;
  /** The release jobs to enqueue: one per message and instant. */
  releases: { messageId: string; at: Date }[];
}

export const capKey = (messageId: string, customId: string) => messageId + '\0' + customId;

/** A signed 64-bit advisory-lock key for one profile (a collision only serialises two profiles). */
function lockKey(projectId: string, customId: string): bigint {
  return createHash('sha256').update(projectId).update('\0').update(customId).digest().readBigInt64BE(0);
}

const campaignIdPattern = /^campaign:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/**
 * Decides, reserves and defers for a fan-out batch in its transaction (see the top of this file).
 * Set-based: one statement each for the projects' rules, the locks, the counted sends, the
 * profiles' zones (with quiet hours), the campaigns' labels, the reservations and the deferrals.
 * `now` is the worker's clock.
 */
export async function capFanout(tx: TransactionSql, candidates: readonly CapCandidate[], now: number): Promise<CapResult> {
  const result: CapResult = { decisions: new Map(), releases: [] };
  const live = candidates.filter((c) => c.profiles.size);
  if (!live.length) return result;
  const settings = await tx<{ project_id: string; timezone: string; quiet_hours: QuietHoursView | null; rules: RuleRow[] }[]>`
    select p.id as project_id, p.timezone, p.quiet_hours,
           coalesce((select json_agg(r order by r.id) from capping_rules r where r.project_id = p.id and r.enabled), '[]'::json) as rules
    from projects p where p.id = any(${[...new Set(live.map((c) => c.projectId))]}::uuid[])`;
  const projects = new Map(settings.map((s) => [s.project_id, { zone: s.timezone, quiet: quietOf(s.quiet_hours), rules: s.rules.map(ruleOf) }]));
  const capped = live.filter((c) => { const p = projects.get(c.projectId); return p && (p.rules.length || p.quiet); });
  if (!capped.length) return result;

  const pairs = new Map<string, { projectId: string; customId: string; since: number; lock: boolean; quiet: boolean }>();
  for (const c of capped) {
    const p = projects.get(c.projectId)!;
    const longest = Math.max(0, ...p.rules.map((r) => r.windowMs));
    for (const customId of c.profiles.keys()) {
      pairs.set(c.projectId + '\0' + customId, { projectId: c.projectId, customId, since: now - longest, lock: p.rules.length > 0, quiet: p.quiet !== null });
    }
  }
  const locked = [...pairs.values()].filter((p) => p.lock);
  const keys = [...new Set(locked.map((p) => lockKey(p.projectId, p.customId)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (keys.length) await tx`select count(pg_advisory_xact_lock(k)) from unnest(${keys.map(String)}::bigint[]) as k`;

  const zoned = [...pairs.values()].filter((p) => p.quiet);
  const campaignIds = [...new Set(capped.flatMap((c) => { const m = campaignIdPattern.exec(c.groupId); return m ? [m[1]!] : []; }))];
  const [sends, zones, campaigns] = await Promise.all([
    locked.length
      ? tx<{ project_id: string; custom_id: string; sent_at: Date; kind: MessageKind; labels: string[]; channels: Channel[] }[]>`
          select s.project_id, s.custom_id, s.sent_at, s.kind, s.labels, s.channels from capping_sends s
          join unnest(${locked.map((p) => p.projectId)}::uuid[], ${locked.map((p) => p.customId)}::text[],
                      ${locked.map((p) => new Date(p.since).toISOString())}::timestamptz[]) as r(project_id, custom_id, since)
            on s.project_id = r.project_id and s.custom_id = r.custom_id and s.sent_at > r.since`
      : [],
    zoned.length
      ? tx<{ project_id: string; custom_id: string; timezone: string | null }[]>`
          select p.project_id, p.custom_id, p.timezone from profiles p
          join unnest(${zoned.map((p) => p.projectId)}::uuid[], ${zoned.map((p) => p.customId)}::text[]) as r(project_id, custom_id)
            on p.project_id = r.project_id and p.custom_id = r.custom_id`
      : [],
    campaignIds.length ? tx<{ id: string; labels: string[] }[]>`select id, labels from campaigns where id = any(${campaignIds}::uuid[])` : [],
  ]);
  const history = new Map<string, CountedSend[]>();
  for (const s of sends) {
    const k = s.project_id + '\0' + s.custom_id;
    history.set(k, [...(history.get(k) ?? []), { at: s.sent_at.getTime(), kind: s.kind, labels: s.labels, channels: s.channels }]);
  }
  const zoneOf = new Map(zones.map((z) => [z.project_id + '\0' + z.custom_id, z.timezone]));
  const labelsOf = new Map(campaigns.map((c) => [c.id, c.labels]));

  const reserved: { projectId: string; customId: string; messageId: string; kind: MessageKind; labels: string[]; channels: readonly Channel[] }[] = [];
  const deferred: { messageId: string; customId: string; at: number; reason: string }[] = [];
  for (const c of [...capped].sort((a, b) => (a.messageId < b.messageId ? -1 : 1))) {
    const p = projects.get(c.projectId)!;
    const kind = kindOfGroup(c.groupId);
    const labels = labelsOf.get(campaignIdPattern.exec(c.groupId)?.[1] ?? '') ?? [];
    for (const [customId, channels] of c.profiles) {
      const k = c.projectId + '\0' + customId;
      const past = history.get(k) ?? [];
      const decision = decideCapping({
        rules: p.rules, history: past, send: { kind, labels, channels }, createdAt: c.createdAt.getTime(), now,
        quiet: p.quiet ? { hours: p.quiet, zone: zoneOf.get(k) ?? p.zone } : null,
      });
      result.decisions.set(capKey(c.messageId, customId), decision);
      if (decision.action === 'send') {
        if (p.rules.length) {
          reserved.push({ projectId: c.projectId, customId, messageId: c.messageId, kind, labels, channels });
          history.set(k, [...past, { at: now, kind, labels, channels }]);
        }
      } else if (decision.action === 'defer') {
        deferred.push({ messageId: c.messageId, customId, at: decision.until, reason: decision.reason });
      }
    }
  }
  await Promise.all([
    reserved.length && tx`
      insert into capping_sends (project_id, custom_id, message_id, sent_at, kind, labels, channels)
      select u.project_id, u.custom_id, u.message_id, ${new Date(now)}::timestamptz, u.kind,
             array(select jsonb_array_elements_text(u.labels::jsonb)), array(select jsonb_array_elements_text(u.channels::jsonb))
      from unnest(${reserved.map((r) => r.projectId)}::uuid[], ${reserved.map((r) => r.customId)}::text[], ${reserved.map((r) => r.messageId)}::uuid[],
                  ${reserved.map((r) => r.kind)}::text[], ${reserved.map((r) => JSON.stringify(r.labels))}::text[],
                  ${reserved.map((r) => JSON.stringify(r.channels))}::text[])
           as u(project_id, custom_id, message_id, kind, labels, channels)
      on conflict do nothing`,
    deferred.length && tx`
      insert into capping_deferrals (message_id, custom_id, release_at, reason)
      select * from unnest(${deferred.map((d) => d.messageId)}::uuid[], ${deferred.map((d) => d.customId)}::text[],
                           ${deferred.map((d) => new Date(d.at).toISOString())}::timestamptz[], ${deferred.map((d) => d.reason)}::text[])
      on conflict (message_id, custom_id) do update set release_at = excluded.release_at, reason = excluded.reason`,
  ]);
  const releases = new Map<string, { messageId: string; at: Date }>();
  for (const d of deferred) releases.set(d.messageId + '\0' + d.at, { messageId: d.messageId, at: new Date(d.at) });
  result.releases = [...releases.values()];
  return result;
}

/** The profiles of these messages whose deferral is due at `now`, consumed (the caller holds the messages' row locks). */
export async function takeDueDeferrals(tx: TransactionSql, messageIds: readonly string[], now: number): Promise<Map<string, string[]>> {
  const rows = await tx<{ message_id: string; custom_id: string }[]>`
    delete from capping_deferrals where message_id = any(${messageIds as string[]}::uuid[]) and release_at <= ${new Date(now)}::timestamptz
    returning message_id, custom_id`;
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.message_id, [...(out.get(r.message_id) ?? []), r.custom_id]);
  return out;
}

/**
 * For the reconciler (scheduler/reconciler.ts): messages with a deferral due more than `graceMs`
 * ago and still waiting, whose release job the queue lost. Each row taken is moved to `now`, so
 * the next sweep leaves it alone for another grace period and the new job finds it due; a second
 * job for it (the original was only slow) finds nothing left to release.
 */
export async function takeLostReleases(tx: TransactionSql, graceMs: number, limit: number, now: Date): Promise<string[]> {
  const rows = await tx<{ message_id: string }[]>`
    update capping_deferrals d set release_at = ${now}::timestamptz
    where (d.message_id, d.custom_id) in (
      select message_id, custom_id from capping_deferrals
      where release_at < ${now}::timestamptz - ${graceMs} * interval '1 millisecond'
      order by release_at limit ${limit}
      for update skip locked)
    returning d.message_id`;
  return [...new Set(rows.map((r) => r.message_id))];
}

/** The longest window a rule may count over (the API refuses longer): older sends never count again. */
export const longestWindowMs = 90 * 24 * 3_600_000;

/** Deletes counted sends older than any rule's window, a bounded batch per statement; returns how many. */
export async function deleteOldCappingSends(sql: Sql, now: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const rows = await sql`
      delete from capping_sends where ctid = any(array(
        select ctid from capping_sends where sent_at < ${now}::timestamptz - ${longestWindowMs} * interval '1 millisecond' limit 10000))
      returning 1`;
    total += rows.length;
    if (rows.length < 10000) return total;
  }
}
