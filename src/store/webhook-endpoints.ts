/**
 * A project's webhook endpoints (migration 0019). The signing secret is sealed under the master
 * key, bound to its row (sealed.ts), and comes out of this file in two places only: to the API on
 * create and rotate (shown once), and to the dispatcher that signs with it. Every query names its project.
 */
import type { Sql, TransactionSql } from 'postgres';
import { generateSecret, rotationGraceMs } from '../domain/webhooks/signing.js';
import type { Keyring } from './sealed.js';

type Db = Sql | TransactionSql;

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: Date | null;
  previous_secret_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const shown = (sql: Db) => sql`id, url, description, event_types, enabled, disabled_reason, failing_since,
  case when previous_sealed is null then null else previous_expires_at end as previous_secret_expires_at, created_at, updated_at`;

/** The additional data an endpoint's secret is sealed with: it opens in this row only. */
export const webhookSecretContext = (projectId: string, endpointId: string) => `webhook_endpoints/${projectId}/${endpointId}`;

export async function createEndpoint(
  sql: Db, keyring: Keyring, projectId: string,
  e: { id: string; url: string; description: string | null; eventTypes: string[]; enabled: boolean; now: Date },
): Promise<WebhookEndpoint & { secret: string }> {
  const secret = generateSecret();
  const sealed = keyring.seal(secret, webhookSecretContext(projectId, e.id));
  const [row] = await sql<WebhookEndpoint[]>`
    insert into webhook_endpoints (id, project_id, url, description, event_types, enabled, sealed, created_at, updated_at)
    values (${e.id}, ${projectId}, ${e.url}, ${e.description}, ${e.eventTypes}::text[], ${e.enabled}, ${sealed}, ${e.now}, ${e.now})
    returning ${shown(sql)}`;
  return { ...row!, secret };
}

export async function listEndpoints(sql: Db, projectId: string): Promise<WebhookEndpoint[]> {
  return sql<WebhookEndpoint[]>`select ${shown(sql)} from webhook_endpoints where project_id = ${projectId} order by created_at, id`;
}

export async function getEndpoint(sql: Db, projectId: string, id: string): Promise<WebhookEndpoint | undefined> {
  const [row] = await sql<WebhookEndpoint[]>`select ${shown(sql)} from webhook_endpoints where project_id = ${projectId} and id = ${id}`;
  return row;
}

/** Changes what is given. Enabling an endpoint forgets its failures: it starts afresh. */
export async function updateEndpoint(
  sql: Db, projectId: string, id: string,
  c: { url?: string | undefined; description?: string | null | undefined; eventTypes?: string[] | undefined; enabled?: boolean | undefined; now: Date },
): Promise<WebhookEndpoint | undefined> {
  const [row] = await sql<WebhookEndpoint[]>`
    update webhook_endpoints set
      url = coalesce(${c.url ?? null}, url),
      description = ${c.description === undefined ? sql`description` : sql`${c.description}`},
      event_types = coalesce(${c.eventTypes ?? null}::text[], event_types),
      enabled = coalesce(${c.enabled ?? null}, enabled),
      disabled_reason = case when ${c.enabled ?? null}::boolean then null else disabled_reason end,
      failing_since = case when ${c.enabled ?? null}::boolean and not enabled then null else failing_since end,
      updated_at = ${c.now}
    where project_id = ${projectId} and id = ${id}
    returning ${shown(sql)}`;
  return row;
}

export async function deleteEndpoint(sql: Db, projectId: string, id: string): Promise<boolean> {
  return (await sql`delete from webhook_endpoints where project_id = ${projectId} and id = ${id} returning 1`).length > 0;
}

/**
 * A new secret; the current one becomes the previous and keeps signing beside it for 24 hours
 * (domain/webhooks/signing.ts#rotationGraceMs), so a receiver can move to the new one without
 * refusing anything. A rotation during the grace drops the older previous secret.
 */
export async function rotateSecret(
  sql: Sql, keyring: Keyring, projectId: string, id: string, now: Date,
): Promise<{ secret: string; previous_secret_expires_at: Date } | undefined> {
  return sql.begin(async (tx) => {
    const [row] = await tx<{ sealed: Buffer }[]>`
      select sealed from webhook_endpoints where project_id = ${projectId} and id = ${id} for update`;
    if (!row) return undefined;
    const context = webhookSecretContext(projectId, id);
    const secret = generateSecret();
    const expires = new Date(now.getTime() + rotationGraceMs);
    await tx`update webhook_endpoints set sealed = ${keyring.seal(secret, context)}, previous_sealed = ${row.sealed},
               previous_expires_at = ${expires}, updated_at = ${now}
             where project_id = ${projectId} and id = ${id}`;
    return { secret, previous_secret_expires_at: expires };
  });
}

/** The secrets an endpoint signs with, opened: the current one and the previous with its expiry. */
export function openSecrets(
  keyring: Keyring, row: { project_id: string; endpoint_id: string; sealed: Buffer; previous_sealed: Buffer | null; previous_expires_at: Date | null },
): { current: string; previous: { secret: string; expiresAt: number } | null } {
  const context = webhookSecretContext(row.project_id, row.endpoint_id);
  const current = keyring.open(row.sealed, context).toString('utf8');
  const previous = row.previous_sealed && row.previous_expires_at
    ? { secret: keyring.open(row.previous_sealed, context).toString('utf8'), expiresAt: row.previous_expires_at.getTime() }
    : null;
  return { current, previous };
}
