/**
 * Deliveries: one row per (message, recipient token). The fan-out creates them; the delivery
 * worker reads them before sending and records each attempt's outcome in one set-based statement.
 */
import type { Sql, TransactionSql } from 'postgres';
import { uuidv7 } from '../domain/ids.js';
import type { PushMessage } from '../domain/push.js';
import type { Recipients, DeliveryStatus } from './messages.js';

export interface FanoutResult {
  /** Deliveries created as `queued`, to be sent. */
  queued: string[];
  /** False when the message had already been fanned out (a redelivered job). */
  fresh: boolean;
  projectId: string;
}

/** Platforms Herald can deliver to today. Others are recorded as failed, never silently dropped. */
const deliverablePlatforms = new Set(['ios']);

/**
 * Resolves a message's recipients to tokens and creates their deliveries, once: the message row is
 * locked and stamped, so a redelivered fan-out job creates nothing twice.
 */
export async function fanOutMessage(tx: TransactionSql, messageId: string): Promise<FanoutResult | undefined> {
  const [msg] = await tx<{ project_id: string; recipients: Recipients; fanned_out_at: Date | null }[]>`
    select project_id, recipients, fanned_out_at from messages where id = ${messageId} for update`;
  if (!msg) return undefined;
  if (msg.fanned_out_at) return { queued: [], fresh: false, projectId: msg.project_id };
  const r = msg.recipients;
  const found = await tx<{ install_id: string; platform: string; token: string; apns_environment: string | null }[]>`
    select install_id, platform, push_token as token, apns_environment from installations
    where project_id = ${msg.project_id} and push_token is not null
      and (custom_id = any(${r.custom_ids ?? []}::text[]) or install_id = any(${r.install_ids ?? []}::text[]))`;
  const byToken = new Map<string, { platform: string; token: string; install_id: string | null; env: string | null }>();
  for (const t of r.tokens ?? []) byToken.set(t.platform + ':' + t.token, { ...t, install_id: null, env: null });
  for (const f of found) byToken.set(f.platform + ':' + f.token, { ...f, env: f.apns_environment });
  const targets = [...byToken.values()];
  const dead = new Set(
    (await tx<{ platform: string; token: string }[]>`
      select platform, token from invalidated_tokens
      where project_id = ${msg.project_id} and token = any(${targets.map((t) => t.token)}::text[])`).map(
      (d) => d.platform + ':' + d.token,
    ),
  );
  const rows = targets.map((t) => {
    const key = t.platform + ':' + t.token;
    const [status, reason] = dead.has(key)
      ? ['invalidated', 'token was invalidated by the provider earlier']
      : deliverablePlatforms.has(t.platform)
        ? ['queued', null]
        : ['failed', `no provider for platform ${t.platform} yet`];
    return { id: uuidv7(), ...t, status, reason };
  });
  const inserted = rows.length
    ? await tx<{ id: string; status: DeliveryStatus }[]>`
        insert into deliveries (id, message_id, project_id, platform, token, install_id, apns_environment, status, reason)
        select u.id, ${messageId}, ${msg.project_id}, u.platform, u.token, u.install_id, u.env, u.status, u.reason
        from unnest(${rows.map((x) => x.id)}::uuid[], ${rows.map((x) => x.platform)}::text[],
                    ${rows.map((x) => x.token)}::text[], ${rows.map((x) => x.install_id) as string[]}::text[],
                    ${rows.map((x) => x.env) as string[]}::text[], ${rows.map((x) => x.status) as string[]}::text[],
                    ${rows.map((x) => x.reason) as string[]}::text[])
             as u(id, platform, token, install_id, env, status, reason)
        on conflict (message_id, platform, token) do nothing
        returning id, status`
    : [];
  await tx`update messages set fanned_out_at = now() where id = ${messageId}`;
  return { queued: inserted.filter((i) => i.status === 'queued').map((i) => i.id), fresh: true, projectId: msg.project_id };
}

export interface DeliveryToSend {
  id: string;
  message_id: string;
  project_id: string;
  platform: string;
  token: string;
  apns_environment: string | null;
  status: DeliveryStatus;
  attempts: number;
  push: PushMessage;
  created_at: Date;
  expires_at: Date | null;
  /** Set when the token was invalidated after this delivery was queued. */
  token_invalidated: boolean;
}

export async function loadDeliveries(sql: Sql, ids: string[]): Promise<DeliveryToSend[]> {
  if (!ids.length) return [];
  return sql<DeliveryToSend[]>`
    select d.id, d.message_id, d.project_id, d.platform, d.token, d.apns_environment, d.status, d.attempts,
           m.push, m.created_at, m.expires_at, (i.token is not null) as token_invalidated
    from deliveries d
    join messages m on m.id = d.message_id
    left join invalidated_tokens i on i.project_id = d.project_id and i.platform = d.platform and i.token = d.token
    where d.id = any(${ids}::uuid[])`;
}

export interface OutcomeRecord {
  id: string;
  status: DeliveryStatus;
  reason: string | null;
  attempts: number;
}

/** Records many outcomes in one statement. A delivery already final is never moved back. */
export async function recordOutcomes(sql: Sql | TransactionSql, outcomes: OutcomeRecord[]): Promise<void> {
  if (!outcomes.length) return;
  await sql`
    update deliveries d set status = u.status, reason = u.reason, attempts = u.attempts, updated_at = now()
    from unnest(${outcomes.map((o) => o.id)}::uuid[], ${outcomes.map((o) => o.status)}::text[],
                ${outcomes.map((o) => o.reason) as string[]}::text[], ${outcomes.map((o) => o.attempts)}::int[])
         as u(id, status, reason, attempts)
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
