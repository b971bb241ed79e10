/**
 * A campaign occurrence's send step: one link of a chain of delayed jobs. Each link locks the
 * campaign (so the send rate's bucket is shared by every worker process, exactly), takes the
 * recipients due now up to what the rate allows, re-checks each one's targeting just before the
 * send (a profile that left the audience or was deleted since the fan-out is skipped, with its
 * reason), picks its channel by the campaign's priority, renders its content, and hands the batch
 * to the delivery pipeline as messages (one per distinct rendered content), recording every
 * recipient's outcome in the ledger in the same transaction. It then enqueues the next link, due
 * when the next recipient is or when the bucket has refilled. Only the link whose number the
 * occurrence holds runs, so a redelivered or duplicate job sends nothing twice.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { Logger } from 'pino';
import type { Job, WorkQueue } from '../queue/queue.js';
import type { Clock } from '../domain/clock.js';
import { uuidv7 } from '../domain/ids.js';
import type { ContentPart, MessageContent } from '../domain/channels.js';
import { chooseChannel } from '../domain/campaigns/channel-choice.js';
import { renderPart } from '../domain/campaigns/content.js';
import { contentPartsOf } from '../domain/campaigns/content.js';
import { personalizationScope } from '../domain/personalization/scope.js';
import { matches } from '../domain/targeting/evaluate.js';
import { campaignGroup, getCampaignForWork, transitionCampaign, type Campaign } from '../store/campaigns.js';
import { insertCampaignMessages } from '../store/campaign-outcomes.js';
import {
  awaitingOutcomes, claimTargets, lockOccurrence, nextDue, recordRecipients, retryFailed, skipPending, takeDue, updateOccurrence,
  type Occurrence, type RecipientOutcome,
} from '../store/campaign-ledger.js';
import { insertMessages, type NewMessage } from '../store/messages.js';
import { loadSubjects } from '../store/targeting.js';
import { loadCampaignModel } from './campaign-model.js';
import { topics, type CampaignSendPayload, type FanoutPayload } from './topics.js';

/** Recipients per link at most: one transaction, one insert of messages, one ledger update. */
export const sendBatchMax = 2_000;
/** A link waiting for a recipient due later looks again at least this often (a retry of failed recipients, say). */
const idleLinkMs = 60_000;
/** With nothing left to send, a link looks this often for the last deliveries' outcomes before the occurrence is done. */
export const outcomeLinkMs = 30_000;

/** Enqueues the occurrence's next send link and makes it the live one. */
export async function enqueueSendLink(tx: TransactionSql, queue: WorkQueue, campaignId: string, occurrence: number, runAt?: Date): Promise<void> {
  const [row] = await tx<{ chain: number }[]>`
    update campaign_occurrences set chain = chain + 1 where campaign_id = ${campaignId} and occurrence = ${occurrence} returning chain`;
  if (!row) return;
  await queue.enqueue(tx, [{ topic: topics.campaignSend, payload: { campaign_id: campaignId, occurrence, chain: row.chain } satisfies CampaignSendPayload, ...(runAt ? { runAt } : {}) }]);
}

/**
 * Retry-failed, in the caller's transaction under the campaign's row lock: the failed recipients
 * set pending (store/campaign-ledger.ts#retryFailed), each occurrence they belong to sending again
 * with a new send link, a finished campaign running again. Returns how many were set pending.
 */
export async function retryFailedRecipients(tx: TransactionSql, queue: WorkQueue, campaignId: string, state: string, now: Date): Promise<number> {
  const moved = await retryFailed(tx, campaignId, now);
  for (const m of moved) {
    await tx`update campaign_occurrences set state = 'sending', done_at = null where campaign_id = ${campaignId} and occurrence = ${m.occurrence} and state = 'done'`;
    await enqueueSendLink(tx, queue, campaignId, m.occurrence);
  }
  if (moved.length && state === 'finished') await tx`update campaigns set state = 'running', finished_at = null, updated_at = ${now} where id = ${campaignId}`;
  return moved.reduce((n, m) => n + m.n, 0);
}

/** The bucket behind `send_rate` (messages per minute): a second's worth at most, refilled continuously. */
function bucket(c: Campaign, now: number) {
  if (!c.send_rate) return { tokens: Infinity, perMs: Infinity, burst: Infinity };
  const perMs = c.send_rate / 60_000;
  const burst = Math.max(1, c.send_rate / 60);
  const tokens = c.rate_at ? Math.min(burst, c.rate_tokens + Math.max(0, now - c.rate_at.getTime()) * perMs) : burst;
  return { tokens, perMs, burst };
}

export function campaignSendHandler(deps: { sql: Sql; queue: WorkQueue; clock: Clock; log?: Logger; batchMax?: number }) {
  const batchMax = deps.batchMax ?? sendBatchMax;

  const link = (p: CampaignSendPayload) => deps.sql.begin(async (tx) => {
    const c = await getCampaignForWork(tx, p.campaign_id, 'update');
    if (!c) return;
    const o = await lockOccurrence(tx, p.campaign_id, p.occurrence);
    if (!o || o.chain !== p.chain || o.state === 'done' || o.state === 'stopped') return;
    const now = deps.clock.now();
    const at = new Date(now);
    if (c.state === 'stopped') {
      await skipPending(tx, c.id, 'campaign_stopped', at);
      await updateOccurrence(tx, { campaignId: c.id, occurrence: o.occurrence, state: 'stopped', now: at });
      return;
    }
    // Paused: the chain ends here; resuming starts a new one.
    if (c.state !== 'running') return;

    const b = bucket(c, now);
    const due = await takeDue(tx, o, at, Math.floor(Math.min(b.tokens, batchMax)));
    if (due.length) await send(tx, c, o, due, now);
    if (c.send_rate) await tx`update campaigns set rate_tokens = ${b.tokens - due.length}, rate_at = ${at} where id = ${c.id}`;

    const next = await nextDue(tx, o);
    if (next === undefined) {
      // Done, and a one-off campaign finished, only once every recipient has an outcome: a
      // delivery still queued (retrying, parked behind a breaker) keeps the occurrence sending.
      if (o.state === 'sending' && await awaitingOutcomes(tx, o)) {
        await enqueueSendLink(tx, deps.queue, c.id, o.occurrence, new Date(now + outcomeLinkMs));
        return;
      }
      if (o.state === 'sending') {
        await updateOccurrence(tx, { campaignId: c.id, occurrence: o.occurrence, state: 'done', now: at });
        const def = c.definition.when as { type?: string };
        if (def.type !== 'recurring') await transitionCampaign(tx, c.project_id, c.id, ['running'], 'finished', at);
      }
      return;
    }
    // Next when a recipient is due and the bucket holds a batch's worth again.
    const left = b.tokens - due.length;
    const want = Math.min(batchMax, b.burst);
    const refill = Number.isFinite(b.perMs) ? Math.max(0, Math.ceil((want - left) / b.perMs)) : 0;
    const runAt = Math.min(Math.max(next.getTime(), now + refill), now + idleLinkMs);
    await enqueueSendLink(tx, deps.queue, c.id, o.occurrence, new Date(runAt));
  });

  const send = async (tx: TransactionSql, c: Campaign, o: Occurrence, due: { custom_id: string; variant: number }[], now: number) => {
    const model = await loadCampaignModel(tx, c);
    const subjects = await loadSubjects(tx, c.project_id, due.map((d) => d.custom_id), model.query ?? { kind: 'all', of: [] });
    const outcomes: RecipientOutcome[] = [];
    const ready: { custom_id: string; variant: number; part: ContentPart; target: string | null; content: unknown }[] = [];
    for (const d of due) {
      const s = subjects.get(d.custom_id);
      const skip = (reason: string) => outcomes.push({ custom_id: d.custom_id, status: 'skipped', reason, channel: null, message_id: null });
      if (!s) { skip('profile_deleted'); continue; }
      if (model.query && !matches(model.query, s, now)) { skip('left_audience'); continue; }
      const variant = model.variants[d.variant] ?? model.variants[0]!;
      const has = new Set(contentPartsOf(variant));
      const choice = chooseChannel(model.priority.filter((x) => has.has(x)), {
        pushTokens: s.installations.filter((i) => i.pushToken).length,
        email: s.native.email ?? null, emailSubscription: s.native.email_subscription ?? null,
        phone: s.native.phone ?? null, smsSubscription: s.native.sms_subscription ?? null,
      });
      if (choice.part === null) { skip(`unreachable: ${choice.reason}`); continue; }
      const scope = personalizationScope({
        customId: d.custom_id, language: s.native.language, region: s.native.region, timezone: s.native.timezone,
        email: s.native.email, phone: s.native.phone, attributes: s.attributes,
      });
      const rendered = renderPart(variant, choice.part, s.native.language ?? null, scope);
      if (!rendered.ok) {
        outcomes.push({ custom_id: d.custom_id, status: 'failed', reason: `template: ${rendered.error.path}: ${rendered.error.message}`, channel: choice.part, message_id: null });
        continue;
      }
      ready.push({ custom_id: d.custom_id, variant: d.variant, part: choice.part, target: choice.target, content: rendered.content });
    }
    // An address or number is reached once per occurrence, by whichever recipient claims it first.
    const claimed = await claimTargets(tx, o, ready.flatMap((r) => (r.target ? [{ target: `${r.part}:${r.target}`, custom_id: r.custom_id }] : [])));
    const messages = new Map<string, NewMessage>();
    const variantOf = new Map<string, string>();
    const createdAt = new Date(now);
    for (const r of ready) {
      if (r.target && !claimed.has(`${r.part}:${r.target}`)) {
        outcomes.push({ custom_id: r.custom_id, status: 'skipped', reason: r.part === 'email' ? 'duplicate_address' : 'duplicate_number', channel: r.part, message_id: null });
        continue;
      }
      // One message per variant even when two variants render alike: each counts under its own (docs/analytics.md).
      const variant = model.variants.length > 1 ? String(r.variant) : '';
      const key = variant + '\0' + r.part + '\0' + JSON.stringify(r.content);
      let m = messages.get(key);
      if (!m) {
        variantOf.set(key, variant);
        m = { id: uuidv7(now), projectId: c.project_id, groupId: campaignGroup(c.id), recipients: { custom_ids: [] }, content: { [r.part]: r.content } as MessageContent, createdAt, expiresAt: null };
        messages.set(key, m);
      }
      m.recipients.custom_ids!.push(r.custom_id);
      outcomes.push({ custom_id: r.custom_id, status: 'sent', reason: null, channel: r.part, message_id: m.id });
    }
    const list = [...messages.values()];
    await Promise.all([
      insertMessages(tx, list).then(() => insertCampaignMessages(tx, { campaignId: c.id, occurrence: o.occurrence, plannedAt: o.planned_at }, list.map((m) => m.id), [...messages.keys()].map((k) => variantOf.get(k)!))),
      deps.queue.enqueue(tx, list.map((m) => ({ topic: topics.fanout, payload: { message_id: m.id } satisfies FanoutPayload }))),
      recordRecipients(tx, o, outcomes, createdAt, model.variants.length),
    ]);
  };

  return async (jobs: Job[]): Promise<void> => {
    for (const job of jobs) {
      await link(job.payload as CampaignSendPayload);
      await deps.queue.ack([job]);
    }
  };
}
