/** Installations: one per app install or browser, registered (and re-registered) by the SDK or API. */
import type { JSONValue, Sql, TransactionSql } from 'postgres';
import type { WebPushSubscription } from '../domain/web-push-subscription.js';

export interface InstallationInput {
  install_id: string;
  platform: 'ios' | 'android' | 'web';
  push_token?: string | null | undefined;
  custom_id?: string | null | undefined;
  timezone?: string | undefined;
  language?: string | undefined;
  app_version?: string | undefined;
  sdk_version?: string | undefined;
  apns_environment?: 'production' | 'sandbox' | undefined;
  /** Web only, checked (domain/web-push-subscription.ts): its endpoint becomes the push token. */
  web_push_subscription?: WebPushSubscription | null | undefined;
}

export interface Installation {
  install_id: string;
  platform: 'ios' | 'android' | 'web';
  push_token: string | null;
  custom_id: string | null;
  timezone: string | null;
  language: string | null;
  app_version: string | null;
  sdk_version: string | null;
  apns_environment: 'production' | 'sandbox' | null;
  web_push_subscription: WebPushSubscription | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * Creates or updates an installation. Fields left out keep their value; a token registered again
 * is taken off the invalidated list (Apple: a token is dead "unless it was re-registered after" the
 * 410's timestamp, https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns).
 * `authorize` is called with the installation's current custom_id (null when anonymous or new),
 * row-locked, before anything is written; it throws to refuse.
 */
export async function upsertInstallation(
  sql: Sql, projectId: string, i: InstallationInput,
  authorize: (tx: TransactionSql, boundTo: string | null) => Promise<void> = async () => {},
): Promise<Installation> {
  // A web installation's token is its subscription's endpoint, so fan-out, invalidation and
  // re-registration treat it as any token; a new token (or none) replaces the subscription too.
  const subscription = i.web_push_subscription;
  const token = subscription !== undefined ? subscription?.endpoint ?? null : i.push_token;
  const tokenGiven = token !== undefined;
  const subscriptionJson = subscription ? sql.json(subscription as unknown as JSONValue) : null;
  return sql.begin(async (tx) => {
    let row: Installation | undefined;
    while (!row) {
      const [current] = await tx<{ custom_id: string | null }[]>`
        select custom_id from installations where project_id = ${projectId} and install_id = ${i.install_id} for update`;
      const boundTo = current?.custom_id ?? null;
      await authorize(tx, boundTo);
      // The update applies only to the row authorize saw: a registration of the same new install_id
      // committed meanwhile (attached to someone) leaves no row returned, and the loop looks again.
      [row] = await tx<Installation[]>`
        insert into installations (project_id, install_id, platform, push_token, custom_id, timezone, language,
                                   app_version, sdk_version, apns_environment, web_push_subscription)
        values (${projectId}, ${i.install_id}, ${i.platform}, ${token ?? null}, ${i.custom_id ?? null},
                ${i.timezone ?? null}, ${i.language ?? null}, ${i.app_version ?? null}, ${i.sdk_version ?? null}, ${i.apns_environment ?? null},
                ${subscriptionJson})
        on conflict (project_id, install_id) do update set
          platform = excluded.platform,
          push_token = case when ${tokenGiven} then excluded.push_token else installations.push_token end,
          web_push_subscription = case when ${tokenGiven} then excluded.web_push_subscription
                                       else installations.web_push_subscription end,
          custom_id = case when ${i.custom_id !== undefined} then excluded.custom_id else installations.custom_id end,
          timezone = coalesce(excluded.timezone, installations.timezone),
          language = coalesce(excluded.language, installations.language),
          app_version = coalesce(excluded.app_version, installations.app_version),
          sdk_version = coalesce(excluded.sdk_version, installations.sdk_version),
          apns_environment = coalesce(excluded.apns_environment, installations.apns_environment),
          updated_at = now()
        where installations.custom_id is not distinct from ${boundTo}
        returning install_id, platform, push_token, custom_id, timezone, language, app_version, sdk_version, apns_environment,
                web_push_subscription, created_at, updated_at`;
    }
    if (token) {
      await tx`delete from invalidated_tokens
               where project_id = ${projectId} and platform = ${i.platform} and token = ${token}`;
    }
    return row;
  });
}

/** The subscriptions behind web push tokens (endpoints) of one project, for the worker to encrypt to. */
export async function webPushSubscriptions(sql: Sql, projectId: string, endpoints: string[]): Promise<Map<string, WebPushSubscription>> {
  const rows = await sql<{ push_token: string; web_push_subscription: WebPushSubscription }[]>`
    select distinct on (push_token) push_token, web_push_subscription from installations
    where project_id = ${projectId} and platform = 'web' and push_token = any(${endpoints})
      and web_push_subscription is not null
    order by push_token, updated_at desc`;
  return new Map(rows.map((r) => [r.push_token, r.web_push_subscription]));
}

/** One installation of the project, by its install_id. */
export async function findInstallation(sql: Sql, projectId: string, installId: string): Promise<Installation | undefined> {
  const [row] = await sql<Installation[]>`
    select install_id, platform, push_token, custom_id, timezone, language, app_version, sdk_version, apns_environment,
           web_push_subscription, created_at, updated_at
    from installations where project_id = ${projectId} and install_id = ${installId}`;
  return row;
}
