/**
 * The rows a batch of fan-outs decides its targets from (domain/recipients.ts): every content part
 * a message carries names the keys it looks up in each table (`partRecipients[part].rows`), and
 * each table is read once for the whole batch, joined against the keys of every message and part
 * (unnest), never once per message.
 */
import type { TransactionSql } from 'postgres';
import { contentParts, type RecipientPlatform } from '../domain/channels.js';
import { partRecipients, type FoundRows, type MessageChannels, type Recipients, type RecipientRows, type RowKeys } from '../domain/recipients.js';

interface FanoutMessage {
  project_id: string;
  recipients: Recipients;
  has: MessageChannels;
}

/** A (project, key) pair list for a set-based lookup: deduplicated, as two parallel arrays. */
type Pairs = [string[], string[]];

const group = <T extends { project_id: string }>(rows: readonly T[]) => {
  const by = new Map<string, T[]>();
  for (const r of rows) by.set(r.project_id, [...(by.get(r.project_id) ?? []), r]);
  return (project: string) => by.get(project) ?? [];
};

/** The rows the batch's recipients need, one statement per table for the whole batch, by project. */
export async function loadRecipientRows(tx: TransactionSql, msgs: readonly FanoutMessage[]): Promise<(project: string) => RecipientRows> {
  const needs = msgs.flatMap((m) => contentParts.filter((p) => m.has[p]).map((p) => ({ m, keys: partRecipients[p].rows })));
  const keyed = (of: (keys: RowKeys, m: FanoutMessage) => readonly string[] | undefined): Pairs => {
    const seen = new Map<string, [string, string]>();
    for (const { m, keys } of needs) for (const k of of(keys, m) ?? []) seen.set(m.project_id + '\0' + k, [m.project_id, k]);
    const rows = [...seen.values()];
    return [rows.map((r) => r[0]), rows.map((r) => r[1])];
  };

  const [installations, profiles] = await Promise.all([
    selectInstallations(tx, keyed((k, m) => k.installations?.(m.recipients).custom_ids), keyed((k, m) => k.installations?.(m.recipients).install_ids)),
    selectProfiles(tx, keyed((k, m) => k.profiles?.(m.recipients))),
  ]);
  const [installationsOf, profilesOf] = [group(installations), group(profiles)];
  const found = (m: FanoutMessage): FoundRows => ({ installations: installationsOf(m.project_id), profiles: profilesOf(m.project_id) });
  const [invalidated, suppressions, optOuts] = await Promise.all([
    selectInvalidated(tx, keyed((k, m) => k.invalidated?.(m.recipients, found(m)))),
    selectSuppressions(tx, keyed((k, m) => k.suppressions?.(m.recipients, found(m)))),
    selectOptOuts(tx, keyed((k, m) => k.optedOut?.(m.recipients, found(m)))),
  ]);
  const [invalidatedOf, suppressionsOf, optOutsOf] = [group(invalidated), group(suppressions), group(optOuts)];
  return (project) => ({
    installations: installationsOf(project),
    invalidated: new Set(invalidatedOf(project).map((t) => t.platform + ':' + t.token)),
    profiles: profilesOf(project),
    suppressions: new Map(suppressionsOf(project).map((s) => [s.address, s.reason])),
    optedOut: new Set(optOutsOf(project).map((o) => o.phone)),
  });
}

/** Installations with a push token, named by custom_id or by install_id. */
async function selectInstallations(tx: TransactionSql, byCustomId: Pairs, byInstallId: Pairs) {
  if (!byCustomId[0].length && !byInstallId[0].length) return [];
  return tx<{ project_id: string; install_id: string; custom_id: string | null; platform: RecipientPlatform; token: string; apns_environment: string | null }[]>`
    select i.project_id, i.install_id, i.custom_id, i.platform, i.push_token as token, i.apns_environment
    from installations i join unnest(${byCustomId[0]}::uuid[], ${byCustomId[1]}::text[]) as r(project_id, custom_id)
      on i.project_id = r.project_id and i.custom_id = r.custom_id
    where i.push_token is not null
    union
    select i.project_id, i.install_id, i.custom_id, i.platform, i.push_token as token, i.apns_environment
    from installations i join unnest(${byInstallId[0]}::uuid[], ${byInstallId[1]}::text[]) as r(project_id, install_id)
      on i.project_id = r.project_id and i.install_id = r.install_id
    where i.push_token is not null`;
}

async function selectProfiles(tx: TransactionSql, [projects, customIds]: Pairs) {
  if (!projects.length) return [];
  return tx<{ project_id: string; custom_id: string; email: string | null; email_subscription: string | null; phone: string | null; sms_subscription: string | null }[]>`
    select p.project_id, p.custom_id, p.email, p.email_subscription, p.phone, p.sms_subscription from profiles p
    join unnest(${projects}::uuid[], ${customIds}::text[]) as r(project_id, custom_id)
      on p.project_id = r.project_id and p.custom_id = r.custom_id`;
}

async function selectInvalidated(tx: TransactionSql, [projects, tokens]: Pairs) {
  if (!projects.length) return [];
  return tx<{ project_id: string; platform: string; token: string }[]>`
    select t.project_id, t.platform, t.token from invalidated_tokens t
    join unnest(${projects}::uuid[], ${tokens}::text[]) as r(project_id, token) on t.project_id = r.project_id and t.token = r.token`;
}

async function selectSuppressions(tx: TransactionSql, [projects, addresses]: Pairs) {
  if (!projects.length) return [];
  return tx<{ project_id: string; address: string; reason: string }[]>`
    select s.project_id, s.address, s.reason from email_suppressions s
    join unnest(${projects}::uuid[], ${addresses}::text[]) as r(project_id, address) on s.project_id = r.project_id and s.address = r.address`;
}

async function selectOptOuts(tx: TransactionSql, [projects, phones]: Pairs) {
  if (!projects.length) return [];
  return tx<{ project_id: string; phone: string }[]>`
    select o.project_id, o.phone from sms_opt_outs o
    join unnest(${projects}::uuid[], ${phones}::text[]) as r(project_id, phone) on o.project_id = r.project_id and o.phone = r.phone`;
}
