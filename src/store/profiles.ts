/**
 * Profiles: created by their first write, changed by operations (src/domain/profile-operations.ts)
 * in set-based statements: per round (each custom_id at most once), one insert of the missing
 * profiles and one update applying every operation's changes, then one statement for all events.
 */
import type { Sql, TransactionSql } from 'postgres';
import { inRounds, limits, type AttributeChanges, type NativeColumn, type ProfileOperation } from '../domain/profile-operations.js';
import { storeEvents, recentEvents, type StoredEvent } from './events.js';

export interface Profile {
  custom_id: string;
  email: string | null;
  phone: string | null;
  language: string | null;
  region: string | null;
  timezone: string | null;
  email_subscription: 'subscribed' | 'unsubscribed' | null;
  sms_subscription: 'subscribed' | 'unsubscribed' | null;
  attributes: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

const nativeColumns: NativeColumn[] = ['email', 'phone', 'language', 'region', 'timezone', 'email_subscription', 'sms_subscription'];

export interface ApplyResult {
  profiles: number;
  events: { accepted: number; duplicates: number };
}

/** Creates missing profiles (in a fixed order, so concurrent batches cannot deadlock). */
export async function ensureProfiles(tx: TransactionSql, projectId: string, customIds: string[]): Promise<void> {
  if (!customIds.length) return;
  await tx`insert into profiles (project_id, custom_id)
           select ${projectId}, c from unnest(${[...new Set(customIds)].sort()}::text[]) as c
           on conflict do nothing`;
}

/** Applies attribute changes to profiles, one statement for all of them (distinct custom_ids). */
export async function changeProfiles(
  tx: TransactionSql,
  projectId: string,
  changes: { customId: string; native: Partial<Record<NativeColumn, string | null>>; attributes: AttributeChanges }[],
): Promise<void> {
  if (!changes.length) return;
  const rows = changes.map((c) => ({
    custom_id: c.customId, native: c.native, unset: c.attributes.unset, set: c.attributes.set,
    add: c.attributes.add, remove: c.attributes.remove,
  }));
  await tx`
    update profiles p set
      email = case when u.native ? 'email' then u.native ->> 'email' else p.email end,
      phone = case when u.native ? 'phone' then u.native ->> 'phone' else p.phone end,
      language = case when u.native ? 'language' then u.native ->> 'language' else p.language end,
      region = case when u.native ? 'region' then u.native ->> 'region' else p.region end,
      timezone = case when u.native ? 'timezone' then u.native ->> 'timezone' else p.timezone end,
      email_subscription = case when u.native ? 'email_subscription' then u.native ->> 'email_subscription' else p.email_subscription end,
      sms_subscription = case when u.native ? 'sms_subscription' then u.native ->> 'sms_subscription' else p.sms_subscription end,
      attributes = herald_apply_attributes(p.attributes, array(select jsonb_array_elements_text(u.unset)), u.set, u.add, u.remove,
                                           ${limits.arrayItems}),
      updated_at = now()
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as u(custom_id text, native jsonb, unset jsonb, set jsonb, add jsonb, remove jsonb)
    where p.project_id = ${projectId} and p.custom_id = u.custom_id`;
}

/** Applies operations in order (as if one by one), then stores their events, in the caller's transaction. */
export async function applyOperations(tx: TransactionSql, projectId: string, ops: ProfileOperation[]): Promise<ApplyResult> {
  for (const round of inRounds(ops)) {
    await ensureProfiles(tx, projectId, round.map((o) => o.customId));
    await changeProfiles(tx, projectId, round.filter((o) => hasChanges(o)));
  }
  const events = ops.flatMap((o) => o.events.map((e) => ({
    projectId, clientId: e.clientId, customId: o.customId, installId: null, name: e.name, time: e.time, attributes: e.attributes,
  })));
  const stored = await storeEvents(tx, events);
  const accepted = stored.filter(Boolean).length;
  return { profiles: new Set(ops.map((o) => o.customId)).size, events: { accepted, duplicates: stored.length - accepted } };
}

function hasChanges(o: ProfileOperation): boolean {
  const a = o.attributes;
  return Object.keys(o.native).length > 0 || a.unset.length > 0 ||
    Object.keys(a.set).length + Object.keys(a.add).length + Object.keys(a.remove).length > 0;
}

export async function findProfile(sql: Sql | TransactionSql, projectId: string, customId: string): Promise<Profile | undefined> {
  const [p] = await sql<Profile[]>`
    select custom_id, ${sql(nativeColumns)}, attributes, created_at, updated_at
    from profiles where project_id = ${projectId} and custom_id = ${customId}`;
  return p;
}

export interface ProfileInstallation {
  install_id: string;
  platform: string;
  push_token: string | null;
  timezone: string | null;
  language: string | null;
  app_version: string | null;
  created_at: Date;
  updated_at: Date;
}

export async function profileInstallations(sql: Sql | TransactionSql, projectId: string, customId: string): Promise<ProfileInstallation[]> {
  return sql<ProfileInstallation[]>`
    select install_id, platform, push_token, timezone, language, app_version, created_at, updated_at
    from installations where project_id = ${projectId} and custom_id = ${customId} order by created_at`;
}

/** Events shown with a profile; the export has them all. */
export const recentEventsShown = 50;

export interface ProfileView {
  profile: Profile;
  installations: ProfileInstallation[];
  recent_events: StoredEvent[];
}

export async function viewProfile(sql: Sql, projectId: string, customId: string): Promise<ProfileView | undefined> {
  const profile = await findProfile(sql, projectId, customId);
  if (!profile) return undefined;
  const [installations, recent_events] = await Promise.all([
    profileInstallations(sql, projectId, customId),
    recentEvents(sql, projectId, customId, recentEventsShown),
  ]);
  return { profile, installations, recent_events };
}
