/**
 * Everything Herald holds on one person (custom_id), to export or to erase. The two walk the same
 * tables: the profile, its events, the installations attached to it and their events, and the
 * messages addressed to it with their deliveries. A message also addressed to others is kept for
 * them: only this person is taken out of its recipients, and only their deliveries are removed.
 * Their inbox items go too.
 * Kept on purpose: event_ids (random client ids, no personal data; they stop an SDK retry from
 * storing an erased event again) and import chunks already applied (emptied once applied). Erasure
 * also takes the person out of every custom audience and out of audience changes not yet applied
 * (an upload still staged is not read: like a profile import's pending chunk, it may name them),
 * and out of every automation: journeys, entry history, events kept for them.
 */
import type { Sql, TransactionSql } from 'postgres';
import { findProfile, type Profile } from './profiles.js';
import { eraseInbox } from './inbox.js';
import { eraseInAppActivity } from './in-app.js';
import { addCounts } from './automation-journeys.js';

export interface ProfileExport {
  custom_id: string;
  profile: Profile | null;
  installations: Record<string, unknown>[];
  events: Record<string, unknown>[];
  messages: Record<string, unknown>[];
  deliveries: Record<string, unknown>[];
}

/** Installations of the person, locked against a concurrent identify while erasing. */
async function installIds(sql: Sql | TransactionSql, projectId: string, customId: string): Promise<string[]> {
  const rows = await sql<{ install_id: string }[]>`
    select install_id from installations where project_id = ${projectId} and custom_id = ${customId}`;
  return rows.map((r) => r.install_id);
}

export async function exportProfile(sql: Sql, projectId: string, customId: string): Promise<ProfileExport> {
  return sql.begin('isolation level repeatable read', async (tx) => {
    const installs = await installIds(tx, projectId, customId);
    const profile = (await findProfile(tx, projectId, customId)) ?? null;
    const installations = await tx`select * from installations where project_id = ${projectId} and install_id = any(${installs})
                                   order by created_at`;
    const events = await tx`select id, client_id, custom_id, install_id, name, time, attributes, received_at from events
      where project_id = ${projectId} and (custom_id = ${customId} or install_id = any(${installs})) order by time`;
    const messages = await tx`select id, kind, group_id, recipients, content, created_at from messages
      where project_id = ${projectId} and recipients -> 'custom_ids' ? ${customId} order by created_at`;
    const deliveries = await tx`select d.* from deliveries d where d.project_id = ${projectId}
      and (d.install_id = any(${installs}) or (d.custom_id = ${customId} and d.message_id in (select id from messages
        where project_id = ${projectId} and recipients -> 'custom_ids' ? ${customId}))) order by d.created_at`;
    return {
      custom_id: customId, profile, installations: [...installations], events: [...events], messages: [...messages],
      deliveries: [...deliveries],
    };
  });
}

export interface ErasureCounts {
  profiles: number;
  installations: number;
  events: number;
  messages: number;
  deliveries: number;
}

export async function eraseProfile(sql: Sql, projectId: string, customId: string): Promise<ErasureCounts> {
  return sql.begin(async (tx) => {
    const installs = (await tx<{ install_id: string }[]>`
      select install_id from installations where project_id = ${projectId} and custom_id = ${customId} for update`)
      .map((r) => r.install_id);
    await tx`select 1 from profiles where project_id = ${projectId} and custom_id = ${customId} for update`;
    const events = await tx`delete from events
      where project_id = ${projectId} and (custom_id = ${customId} or install_id = any(${installs}))`;
    // Messages to this person alone go entirely (deliveries cascade); others lose this recipient only.
    const solo = await tx`delete from messages
      where project_id = ${projectId} and recipients -> 'custom_ids' = jsonb_build_array(${customId}::text)
        and coalesce(jsonb_array_length(recipients -> 'install_ids'), 0) = 0
        and coalesce(jsonb_array_length(recipients -> 'tokens'), 0) = 0`;
    // Its devices' deliveries, and those the fan-out made for this custom_id (migration 0021), found
    // through the messages that name it (the (message_id, custom_id) index) before they stop naming it.
    const deliveries = await tx`delete from deliveries where project_id = ${projectId} and (install_id = any(${installs})
      or (custom_id = ${customId} and message_id in (select id from messages where project_id = ${projectId} and recipients -> 'custom_ids' ? ${customId})))`;
    await tx`update messages set recipients = jsonb_set(recipients, '{custom_ids}', (recipients -> 'custom_ids') - ${customId}::text)
      where project_id = ${projectId} and recipients -> 'custom_ids' ? ${customId}`;
    const installations = await tx`delete from installations where project_id = ${projectId} and install_id = any(${installs})`;
    const profiles = await tx`delete from profiles where project_id = ${projectId} and custom_id = ${customId}`;
    // Their inbox, the profile's and their devices' (store/inbox.ts).
    await eraseInbox(tx, projectId, customId, installs);
    // What their devices reported of in-app messages, and the display counts capping kept for them.
    await eraseInAppActivity(tx, projectId, customId, installs);
    // Out of every custom audience, and out of the inline changes not yet applied, so none adds them back.
    await tx`delete from audience_members where project_id = ${projectId} and custom_id = ${customId}`;
    await tx`update audience_changes set custom_ids = array_remove(custom_ids, ${customId}::text)
      where project_id = ${projectId} and applied_at is null and ${customId}::text = any(custom_ids)`;
    await eraseJourneys(tx, projectId, customId);
    return {
      profiles: profiles.count, installations: installations.count, events: events.count, messages: solo.count,
      deliveries: deliveries.count,
    };
  });
}

/**
 * The person's automation journeys (their trigger attributes are theirs), entry history and kept
 * events go too. A running journey is counted as exited (profile_erased) first, so the counts
 * still add up.
 */
async function eraseJourneys(tx: TransactionSql, projectId: string, customId: string): Promise<void> {
  const running = await tx<{ automation_id: string; version: number; step: string; waiting: boolean; n: number }[]>`
    select automation_id, version, step, waiting, count(*)::int as n from automation_journeys
     where project_id = ${projectId} and custom_id = ${customId} and state = 'active'
     group by automation_id, version, step, waiting order by automation_id, version`;
  for (const r of running) {
    await addCounts(tx, r.automation_id, r.version, [
      { step: '', metric: 'exited', reason: 'profile_erased', n: r.n }, ...(r.waiting ? [{ step: r.step, metric: 'waiting', n: -r.n }] : []),
    ]);
  }
  await tx`delete from automation_journeys where project_id = ${projectId} and custom_id = ${customId}`;
  await tx`delete from automation_profiles p using automations a
            where a.id = p.automation_id and a.project_id = ${projectId} and p.custom_id = ${customId}`;
  await tx`delete from automation_inbox where project_id = ${projectId} and custom_id = ${customId}`;
}
