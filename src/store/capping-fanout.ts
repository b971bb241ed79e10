/**
 * Capping inside the fan-out (store/deliveries.ts): which of a message's targets belong to which
 * profile, the decision and reservation for each (message, profile) (store/capping.ts), and the
 * targets that follow from it: kept, skipped with the rule's reason, or held back until release.
 */
import type { TransactionSql } from 'postgres';
import { channelOf, type Channel } from '../domain/channels.js';
import { profilesOfTargets } from '../domain/capping/profiles.js';
import type { RecipientRows, Recipients, Target } from '../domain/recipients.js';
import { capFanout, capKey, takeDueDeferrals } from './capping.js';

interface Decided<M> {
  m: M;
  targets: Target[];
}

interface CappedMessage {
  id: string;
  project_id: string;
  group_id: string;
  created_at: Date;
  recipients: Recipients;
}

/**
 * The targets each message keeps once capping has decided, and the release jobs its deferrals
 * need. A target already skipped (suppressed, unsubscribed...) neither counts nor is capped.
 */
export async function capTargets<M extends CappedMessage>(
  tx: TransactionSql, decided: readonly Decided<M>[], rowsOf: (project: string) => RecipientRows, now: number,
): Promise<{ decided: Decided<M>[]; releases: Map<string, Date[]> }> {
  const owners = decided.map(({ m, targets }) => profilesOfTargets(m.recipients, rowsOf(m.project_id), targets));
  const candidates = decided.map(({ m, targets }, i) => {
    const profiles = new Map<string, Channel[]>();
    targets.forEach((t, j) => {
      const owner = owners[i]![j];
      if (owner == null || t.skip) return;
      const channels = profiles.get(owner) ?? [];
      if (!channels.includes(channelOf(t.platform))) channels.push(channelOf(t.platform));
      profiles.set(owner, channels);
    });
    return { messageId: m.id, projectId: m.project_id, groupId: m.group_id, createdAt: m.created_at, profiles };
  });
  const { decisions, releases } = await capFanout(tx, candidates, now);
  const byMessage = new Map<string, Date[]>();
  for (const r of releases) byMessage.set(r.messageId, [...(byMessage.get(r.messageId) ?? []), r.at]);
  if (!decisions.size) return { decided: [...decided], releases: byMessage };
  return {
    decided: decided.map(({ m, targets }, i) => ({
      m,
      targets: targets.flatMap((t, j) => {
        const owner = owners[i]![j];
        const d = owner == null || t.skip ? undefined : decisions.get(capKey(m.id, owner));
        if (!d || d.action === 'send') return [t];
        return d.action === 'skip' ? [{ ...t, skip: d.reason, skipStatus: 'skipped' as const }] : [];
      }),
    })),
    releases: byMessage,
  };
}

/**
 * A release job's messages, each narrowed to the profiles whose deferral is due now (consumed
 * here, under the messages' row locks the caller holds); messages with none are left out.
 */
export async function releasedShares<M extends { id: string; recipients: Recipients }>(tx: TransactionSql, msgs: readonly M[], now: number): Promise<M[]> {
  if (!msgs.length) return [];
  const due = await takeDueDeferrals(tx, msgs.map((m) => m.id), now);
  return msgs.flatMap((m) => {
    const customIds = due.get(m.id);
    return customIds ? [{ ...m, recipients: { custom_ids: customIds } }] : [];
  });
}
