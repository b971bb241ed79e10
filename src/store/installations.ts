/** Installations: one per app install or browser, registered (and re-registered) by the SDK or API. */
import type { Sql } from 'postgres';

export interface InstallationInput {
  install_id: string;
  platform: 'ios' | 'android' | 'web';
  push_token?: string | null | undefined;
  custom_id?: string | null | undefined;
  timezone?: string | undefined;
  language?: string | undefined;
  app_version?: string | undefined;
  apns_environment?: 'production' | 'sandbox' | undefined;
}

export interface Installation {
  install_id: string;
  platform: string;
  push_token: string | null;
  custom_id: string | null;
  timezone: string | null;
  language: string | null;
  app_version: string | null;
  apns_environment: string | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * Creates or updates an installation. Fields left out keep their value; a token registered again
 * is taken off the invalidated list (Apple: a token is dead "unless it was re-registered after" the
 * 410's timestamp, protocols.md §1.5).
 */
export async function upsertInstallation(sql: Sql, projectId: string, i: InstallationInput): Promise<Installation> {
  return sql.begin(async (tx) => {
    const [row] = await tx<Installation[]>`
      insert into installations (project_id, install_id, platform, push_token, custom_id, timezone, language,
                                 app_version, apns_environment)
      values (${projectId}, ${i.install_id}, ${i.platform}, ${i.push_token ?? null}, ${i.custom_id ?? null},
              ${i.timezone ?? null}, ${i.language ?? null}, ${i.app_version ?? null}, ${i.apns_environment ?? null})
      on conflict (project_id, install_id) do update set
        platform = excluded.platform,
        push_token = case when ${i.push_token !== undefined} then excluded.push_token else installations.push_token end,
        custom_id = case when ${i.custom_id !== undefined} then excluded.custom_id else installations.custom_id end,
        timezone = coalesce(excluded.timezone, installations.timezone),
        language = coalesce(excluded.language, installations.language),
        app_version = coalesce(excluded.app_version, installations.app_version),
        apns_environment = coalesce(excluded.apns_environment, installations.apns_environment),
        updated_at = now()
      returning install_id, platform, push_token, custom_id, timezone, language, app_version, apns_environment,
                created_at, updated_at`;
    if (i.push_token) {
      await tx`delete from invalidated_tokens
               where project_id = ${projectId} and platform = ${i.platform} and token = ${i.push_token}`;
    }
    return row!;
  });
}
