/**
 * Deliveries: one row per (message, recipient token). The fan-out creates them; the delivery
 * worker reads them before sending and records each attempt's outcome in one set-based statement.
 */
import type { Sql, TransactionSql } from 'postgres';
import { uuidv7 } from '../domain/ids.js';
import type { PushMessage } from '../domain/push.js';
import type { EmailContent, RecipientPlatform, SmsContent } from '../domain/channels.js';
import type { Recipients, DeliveryStatus } from './messages.js';

export interface FanoutResult {
  /** Deliveries created as `queued`, to be sent. */
  queued: { id: string; platform: string }[];
  /** False when the message had already been fanned out (a redelivered job). */
  fresh: boolean;
  projectId: string;
}

interface Target {
  platform: RecipientPlatform;
  token: string;
  install_id: string | null;
  env: string | null;
  /** Why Herald will not send to it, when it will not. */
  skip?: string | undefined;
  /** The status that records it: `skipped`, or `invalidated` for a token a provider declared dead. */
  skipStatus?: 'skipped' | 'invalidated' | undefined;
}

/**
 * Resolves a message's recipients to one target per channel address, and creates their
 * deliveries, once: the message row is locked and stamped, so a redelivered fan-out job creates
 * nothing twice. Push reaches installations and tokens; email the profiles' addresses and explicit
 * ones; SMS the profiles' numbers and explicit ones. A suppressed address, an opted-out number or
 * an unsubscribed profile gets a `skipped` delivery that says why, never a silent drop.
 */
export async function fanOutMessage(tx: TransactionSql, messageId: string): Promise<FanoutResult | undefined> {
  const [msg] = await tx<{ project_id: string; recipients: Recipients; fanned_out_at: Date | null; has_push: boolean; has_email: boolean; has_sms: boolean }[]>`
    select project_id, recipients, fanned_out_at, push is not null as has_push, email is not null as has_email, sms is not null as has_sms
    from messages where id = ${messageId} for update`;
  if (!msg) return undefined;
  if (msg.fanned_out_at) return { queued: [], fresh: false, projectId: msg.project_id };
  const r = msg.recipients;
  const project = msg.project_id;
  const [push, email, sms] = await Promise.all([
    msg.has_push ? pushTargets(tx, project, r) : [],
    msg.has_email ? emailTargets(tx, project, r) : [],
    msg.has_sms ? smsTargets(tx, project, r) : [],
  ]);
  const targets = [...push, ...email, ...sms];
  const rows = targets.map((t) => {
    const [status, reason] = t.skip ? [t.skipStatus ?? 'skipped', t.skip] : ['queued', null];
    return { id: uuidv7(), ...t, status, reason };
  });
  const inserted = rows.length
    ? await tx<{ id: string; status: DeliveryStatus; platform: string }[]>`
        insert into deliveries (id, message_id, project_id, platform, token, install_id, apns_environment, status, reason)
        select u.id, ${messageId}, ${project}, u.platform, u.token, u.install_id, u.env, u.status, u.reason
        from unnest(${rows.map((x) => x.id)}::uuid[], ${rows.map((x) => x.platform)}::text[],
                    ${rows.map((x) => x.token)}::text[], ${rows.map((x) => x.install_id) as string[]}::text[],
                    ${rows.map((x) => x.env) as string[]}::text[], ${rows.map((x) => x.status) as string[]}::text[],
                    ${rows.map((x) => x.reason) as string[]}::text[])
             as u(id, platform, token, install_id, env, status, reason)
        on conflict (message_id, platform, token) do nothing
        returning id, status, platform`
    : [];
  await tx`update messages set fanned_out_at = now() where id = ${messageId}`;
  return {
    queued: inserted.filter((i) => i.status === 'queued').map((i) => ({ id: i.id, platform: i.platform })),
    fresh: true,
    projectId: project,
  };
}

/** Devices: installations named by custom_id or install_id, and explicit tokens; one per token. */
async function pushTargets(tx: TransactionSql, project: string, r: Recipients): Promise<Target[]> {
  const found = (r.custom_ids?.length || r.install_ids?.length)
    ? await tx<{ install_id: string; platform: RecipientPlatform; token: string; apns_environment: string | null }[]>`
        select install_id, platform, push_token as token, apns_environment from installations
        where project_id = ${project} and push_token is not null
          and (custom_id = any(${r.custom_ids ?? []}::text[]) or install_id = any(${r.install_ids ?? []}::text[]))`
    : [];
  const byToken = new Map<string, Target>();
  for (const t of r.tokens ?? []) byToken.set(t.platform + ':' + t.token, { ...t, install_id: null, env: null });
  for (const f of found) byToken.set(f.platform + ':' + f.token, { platform: f.platform, token: f.token, install_id: f.install_id, env: f.apns_environment });
  const targets = [...byToken.values()];
  if (!targets.length) return targets;
  const dead = new Set(
    (await tx<{ platform: string; token: string }[]>`
      select platform, token from invalidated_tokens
      where project_id = ${project} and token = any(${targets.map((t) => t.token)}::text[])`).map((d) => d.platform + ':' + d.token),
  );
  for (const t of targets) {
    if (dead.has(t.platform + ':' + t.token)) Object.assign(t, { skip: 'token was invalidated by the provider earlier', skipStatus: 'invalidated' });
  }
  return targets;
}

/** Addresses: the profiles' and explicit ones, lower-cased, once each; suppressed or unsubscribed ones skipped. */
async function emailTargets(tx: TransactionSql, project: string, r: Recipients): Promise<Target[]> {
  const profiles = r.custom_ids?.length
    ? await tx<{ email: string; email_subscription: string | null }[]>`
        select lower(email) as email, email_subscription from profiles
        where project_id = ${project} and custom_id = any(${r.custom_ids}::text[]) and email is not null`
    : [];
  const unsubscribed = new Set(profiles.filter((p) => p.email_subscription === 'unsubscribed').map((p) => p.email));
  const addresses = [...new Set([...profiles.map((p) => p.email), ...(r.emails ?? []).map((e) => e.toLowerCase())])];
  if (!addresses.length) return [];
  const suppressed = new Map(
    (await tx<{ address: string; reason: string }[]>`
      select address, reason from email_suppressions where project_id = ${project} and address = any(${addresses}::text[])`)
      .map((s) => [s.address, s.reason]),
  );
  return addresses.map((a) => ({
    platform: 'email', token: a, install_id: null, env: null,
    skip: suppressed.has(a) ? `suppressed: ${suppressed.get(a)}` : unsubscribed.has(a) ? 'the profile unsubscribed from email' : undefined,
  }));
}

/** Numbers: the profiles' and explicit ones, once each; opted-out or unsubscribed ones skipped. */
async function smsTargets(tx: TransactionSql, project: string, r: Recipients): Promise<Target[]> {
  const profiles = r.custom_ids?.length
    ? await tx<{ phone: string; sms_subscription: string | null }[]>`
        select phone, sms_subscription from profiles
        where project_id = ${project} and custom_id = any(${r.custom_ids}::text[]) and phone is not null`
    : [];
  const unsubscribed = new Set(profiles.filter((p) => p.sms_subscription === 'unsubscribed').map((p) => p.phone));
  const phones = [...new Set([...profiles.map((p) => p.phone), ...(r.phones ?? [])])];
  if (!phones.length) return [];
  const optedOut = new Set(
    (await tx<{ phone: string }[]>`select phone from sms_opt_outs where project_id = ${project} and phone = any(${phones}::text[])`)
      .map((o) => o.phone),
  );
  return phones.map((p) => ({
    platform: 'sms', token: p, install_id: null, env: null,
    skip: optedOut.has(p) ? 'the number opted out (STOP)' : unsubscribed.has(p) ? 'the profile unsubscribed from SMS' : undefined,
  }));
}

export interface DeliveryToSend {
  id: string;
  message_id: string;
  project_id: string;
  platform: string;
  token: string;
  apns_environment: string | null;
  install_id: string | null;
  status: DeliveryStatus;
  attempts: number;
  push: PushMessage | null;
  email: EmailContent | null;
  sms: SmsContent | null;
  /** A browser's PushSubscription (web deliveries), from its installation at send time. */
  web_push_subscription: { endpoint: string; keys: { p256dh: string; auth: string } } | null;
  created_at: Date;
  expires_at: Date | null;
  /** Set when the token was invalidated after this delivery was queued. */
  token_invalidated: boolean;
}

/** A delivery as a worker found it when it tried to claim it for one provider call. */
export type ClaimedDelivery =
  /** Claimed: this worker, and no other, makes the next provider call until `leaseMs` passes.
   *  `ambiguous`: an earlier call started and its outcome was never recorded (its worker died). */
  | { kind: 'claimed'; delivery: DeliveryToSend; ambiguous: boolean }
  /** Another worker's call is under way; try again once its lease ends. */
  | { kind: 'busy'; retryInMs: number }
  /** Final already, or erased: nothing to do. */
  | { kind: 'done' };

/**
 * Claims deliveries for one provider call each, in one statement: the claim (sending_until) is
 * committed before the call, so a crash during the call leaves a trace the next attempt sees
 * (reliability.md §1.4: a durable "attempting" record before the call), and two jobs for one
 * delivery (a redelivery racing a slow worker, a reconciled job) never send concurrently.
 */
export async function claimDeliveries(sql: Sql, ids: string[], leaseMs: number): Promise<Map<string, ClaimedDelivery>> {
  const out = new Map<string, ClaimedDelivery>(ids.map((id) => [id, { kind: 'done' }]));
  if (!ids.length) return out;
  const rows = await sql<(DeliveryToSend & { claimed: boolean; ambiguous: boolean; busy_ms: number | null })[]>`
    with current as (
      select id, sending_until from deliveries where id = any(${ids}::uuid[]) and status = 'queued'
      order by id for update
    ), claimed as (
      update deliveries d set sending_until = now() + ${leaseMs} * interval '1 millisecond'
      from current c
      where d.id = c.id and (c.sending_until is null or c.sending_until < now())
      returning d.id, (c.sending_until is not null) as ambiguous
    )
    select d.id, d.message_id, d.project_id, d.platform, d.token, d.install_id, d.apns_environment, d.status, d.attempts,
           m.push, m.email, m.sms, ins.web_push_subscription, m.created_at, m.expires_at, (i.token is not null) as token_invalidated,
           (cl.id is not null) as claimed, coalesce(cl.ambiguous, false) as ambiguous,
           case when cl.id is null then ceil(extract(epoch from (c.sending_until - now())) * 1000)::int end as busy_ms
    from current c
    join deliveries d on d.id = c.id
    join messages m on m.id = d.message_id
    left join claimed cl on cl.id = c.id
    left join invalidated_tokens i on i.project_id = d.project_id and i.platform = d.platform and i.token = d.token
    left join installations ins on d.platform = 'web' and ins.project_id = d.project_id and ins.install_id = d.install_id`;
  for (const r of rows) {
    const { claimed, ambiguous, busy_ms, ...delivery } = r;
    out.set(r.id, claimed ? { kind: 'claimed', delivery, ambiguous } : { kind: 'busy', retryInMs: Math.max(1, busy_ms ?? 1) });
  }
  return out;
}

export interface OutcomeRecord {
  id: string;
  status: DeliveryStatus;
  reason: string | null;
  attempts: number;
  /** For a delivery that stays queued: when its retry job is due. */
  retryInMs?: number | undefined;
}

/**
 * Records many outcomes in one statement, ending their claims. A delivery already final is never
 * moved back. `retryInMs` (for outcomes that stay `queued`) sets when its next job is due.
 */
export async function recordOutcomes(sql: Sql | TransactionSql, outcomes: OutcomeRecord[]): Promise<void> {
  if (!outcomes.length) return;
  await sql`
    update deliveries d set status = u.status, reason = u.reason, attempts = u.attempts, updated_at = now(),
           sending_until = null, due_at = now() + coalesce(u.retry_ms, 0) * interval '1 millisecond'
    from unnest(${outcomes.map((o) => o.id)}::uuid[], ${outcomes.map((o) => o.status)}::text[],
                ${outcomes.map((o) => o.reason) as string[]}::text[], ${outcomes.map((o) => o.attempts)}::int[],
                ${outcomes.map((o) => o.retryInMs ?? null) as number[]}::int[])
         as u(id, status, reason, attempts, retry_ms)
    where d.id = u.id and d.status = 'queued'`;
}

export async function invalidateTokens(
  sql: Sql | TransactionSql,
  tokens: { projectId: string; platform: string; token: string; reason: string }[],
): Promise<void> {
  if (!tokens.length) return;
  await sql`
    insert into invalidated_tokens (project_id, platform, token, reason)
    select * from unnest(${tokens.map((t) => t.projectId)}::uuid[], ${tokens.map((t) => t.platform)}::text[],
                         ${tokens.map((t) => t.token)}::text[], ${tokens.map((t) => t.reason)}::text[])
    on conflict (project_id, platform, token) do update set reason = excluded.reason, invalidated_at = now()`;
}
