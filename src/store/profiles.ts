/**
 * Profiles: created by their first write. A batch of operations reads and locks its profiles in one
 * statement, folds the operations over them in memory (src/domain/profile-state.ts), and writes
 * them back in one statement, then stores their events in one more: a fixed number of round trips
 * whatever the batch's size. Single changes (PUT, the SDK's attribute changes) use changeProfiles,
 * which applies them in SQL (herald_apply_attributes).
 */
import type { Sql, TransactionSql } from 'postgres';
import { limits, type AttributeChanges, type AttributeDocument, type NativeColumn, type ProfileOperation } from '../domain/profile-operations.js';
import { foldOperations, nativeColumns, type NativeValues, type NextProfile, type ProfileState } from '../domain/profile-state.js';
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

/**
 * A profile created by another transaction between our read and our insert is read again (locked,
 * now that it exists) and its operations folded anew. Each pass retries only the profiles created
 * in that very window, so a second pass is rare and a third would need one created, erased and
 * created again meanwhile.
 */
const maxPasses = 5;

/** Applies operations in order (as if one by one), then stores their events, in the caller's transaction. */
export async function applyOperations(tx: TransactionSql, projectId: string, ops: ProfileOperation[]): Promise<ApplyResult> {
  let pending = new Set(ops.map((o) => o.customId));
  const profiles = pending.size;
  for (let pass = 1; pending.size; pass++) {
    if (pass > maxPasses) throw new Error(`profiles kept being created concurrently after ${maxPasses} passes`);
    const current = await lockProfiles(tx, projectId, [...pending].sort());
    const next = foldOperations(current, ops.filter((o) => pending.has(o.customId)));
    pending = new Set(await writeProfiles(tx, projectId, next));
  }
  const events = ops.flatMap((o) => o.events.map((e) => ({
    projectId, clientId: e.clientId, customId: o.customId, installId: null, name: e.name, time: e.time, attributes: e.attributes,
  })));
  const stored = await storeEvents(tx, events);
  const accepted = stored.filter(Boolean).length;
  return { profiles, events: { accepted, duplicates: stored.length - accepted } };
}

/**
 * The existing profiles among `customIds`, row-locked until the transaction ends, in the order of
 * `customIds`: sorted by the caller, so two batches naming the same profiles cannot deadlock.
 *
 * Every statement here reaches profiles through their primary key only, one index probe per id,
 * whatever the planner believes: a generic plan made while the table was young (minutes before its
 * first ANALYZE) otherwise scans every profile of the project for each batch, or compares each with
 * each id. The lateral subquery, fenced by its FOR UPDATE, probes once per id; the writes are
 * inserts, which find their rows through the key as well.
 */
async function lockProfiles(tx: TransactionSql, projectId: string, customIds: string[]): Promise<Map<string, ProfileState>> {
  const rows = await tx<(NativeValues & { custom_id: string; attributes: AttributeDocument })[]>`
    select p.* from unnest(${customIds}::text[]) as i(custom_id)
    cross join lateral (
      select custom_id, ${tx(nativeColumns)}, attributes from profiles
      where project_id = ${projectId} and custom_id = i.custom_id
      for update
    ) p`;
  const current = new Map<string, ProfileState>();
  for (const r of rows) {
    current.set(r.custom_id, { native: Object.fromEntries(nativeColumns.map((c) => [c, r[c]])) as NativeValues, attributes: r.attributes });
  }
  return current;
}

/**
 * Writes the folded profiles: the changed ones that existed (locked by lockProfiles) are
 * overwritten with their new state, the new ones inserted. Returns the custom_ids it could not
 * insert because another transaction created them since lockProfiles looked.
 */
async function writeProfiles(tx: TransactionSql, projectId: string, next: NextProfile[]): Promise<string[]> {
  const sorted = [...next].sort((a, b) => (a.customId < b.customId ? -1 : 1));
  const changed = sorted.filter((p) => p.existed && p.changed);
  if (changed.length) {
    await tx`
      insert into profiles as p (project_id, custom_id, email, phone, language, region, timezone, email_subscription, sms_subscription, attributes)
      ${profileRows(tx, projectId, changed)}
      on conflict (project_id, custom_id) do update set
        email = excluded.email, phone = excluded.phone, language = excluded.language, region = excluded.region,
        timezone = excluded.timezone, email_subscription = excluded.email_subscription,
        sms_subscription = excluded.sms_subscription, attributes = excluded.attributes, updated_at = now()`;
  }
  const created = sorted.filter((p) => !p.existed);
  if (!created.length) return [];
  const inserted = await tx<{ custom_id: string }[]>`
    insert into profiles (project_id, custom_id, email, phone, language, region, timezone, email_subscription, sms_subscription, attributes)
    ${profileRows(tx, projectId, created)}
    on conflict do nothing
    returning custom_id`;
  const done = new Set(inserted.map((r) => r.custom_id));
  return created.filter((p) => !done.has(p.customId)).map((p) => p.customId);
}

/** The profiles as rows, in the column order of writeProfiles' inserts: one array per column, unnested. */
function profileRows(tx: TransactionSql, projectId: string, profiles: NextProfile[]) {
  const column = (c: NativeColumn) => profiles.map((p) => p.native[c]);
  return tx`
    select ${projectId}::uuid, u.custom_id, u.email, u.phone, u.language, u.region, u.timezone, u.email_subscription,
           u.sms_subscription, u.attributes::jsonb
    from unnest(${profiles.map((p) => p.customId)}::text[], ${column('email')}::text[], ${column('phone')}::text[],
                ${column('language')}::text[], ${column('region')}::text[], ${column('timezone')}::text[],
                ${column('email_subscription')}::text[], ${column('sms_subscription')}::text[],
                ${profiles.map((p) => JSON.stringify(p.attributes))}::text[])
      as u(custom_id, email, phone, language, region, timezone, email_subscription, sms_subscription, attributes)`;
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
  sdk_version: string | null;
  created_at: Date;
  updated_at: Date;
}

export async function profileInstallations(sql: Sql | TransactionSql, projectId: string, customId: string): Promise<ProfileInstallation[]> {
  return sql<ProfileInstallation[]>`
    select install_id, platform, push_token, timezone, language, app_version, sdk_version, created_at, updated_at
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
