/**
 * A campaign occurrence's fan-out: the audience streamed into the ledger one keyset page per job.
 * Each job locks the occurrence, checks that the page it was given is the next one (the cursor it
 * carries is the occurrence's), plans each profile's send time in their zone
 * (domain/campaigns/plan.ts) and variant (variants.ts), writes the page, moves the cursor and
 * enqueues the next page's job, all in one transaction. A process killed anywhere leaves either
 * the page and its successor's job, or neither: the job comes back and does the page once.
 * The audience is never held in memory; each page also (re)starts the occurrence's send chain.
 */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { Job, WorkQueue } from '../queue/queue.js';
import type { Clock } from '../domain/clock.js';
import { occurrenceOn, recipientPlanner } from '../domain/campaigns/plan.js';
import { parseDate } from '../domain/campaigns/local-time.js';
import { assignVariant, controlVariant } from '../domain/campaigns/variants.js';
import { getCampaignForWork, projectTimezone } from '../store/campaigns.js';
import { analyzeLedger, audiencePage, insertRecipients, lockOccurrence, occurrencesReceived, updateOccurrence, type NewRecipient } from '../store/campaign-ledger.js';
import { loadCampaignModel } from './campaign-model.js';
import { topics, type CampaignFanoutPayload } from './topics.js';
import { enqueueSendLink } from './campaign-send.js';

/**
 * Profiles per page (a range of keys; the audience is the part of it that matches): one
 * transaction's insert, large enough that a page's dozen round trips and its job are cheap per row.
 */
export const fanoutPageSize = 20_000;

export function campaignFanoutHandler(deps: { sql: Sql; queue: WorkQueue; clock: Clock; log?: Logger; pageSize?: number }) {
  const pageSize = deps.pageSize ?? fanoutPageSize;
  const page = (p: CampaignFanoutPayload) => deps.sql.begin(async (tx) => {
    // The campaign's row before the occurrence's, the order the send step (campaign-send.ts) and
    // the scheduler take them in: the other order deadlocked with a send link holding the campaign.
    const c = await getCampaignForWork(tx, p.campaign_id);
    const o = await lockOccurrence(tx, p.campaign_id, p.occurrence);
    // Done already (a redelivered job), or a page another job wrote since: nothing to do.
    if (!o || o.state !== 'fanning_out' || o.cursor !== p.after) return;
    const now = deps.clock.now();
    const at = new Date(now);
    if (!c || c.state === 'stopped') {
      await updateOccurrence(tx, { campaignId: p.campaign_id, occurrence: p.occurrence, state: 'stopped', now: at });
      return;
    }
    const model = await loadCampaignModel(tx, c);
    const zone = await projectTimezone(tx, c.project_id);
    const occurrence = model.when.type === 'recurring' && o.local_date ? occurrenceOn(model.when, zone, parseDate(o.local_date)!) ?? undefined : undefined;
    const plan = recipientPlanner(model.when, { now, projectZone: zone, occurrence });
    const { members, upTo } = await audiencePage(tx, c.project_id, model.query, now, p.after, pageSize);
    const received = model.when.type === 'recurring' && model.when.perProfileCap !== null
      ? await occurrencesReceived(tx, c.id, members.map((m) => m.custom_id))
      : new Map<string, number>();
    const rows = members.map((m): NewRecipient => {
      const variant = assignVariant(model.split, c.id, m.custom_id);
      const r = plan(m.timezone, received.get(m.custom_id) ?? 0);
      if (variant === controlVariant) return { custom_id: m.custom_id, variant, due_at: new Date(r.due), status: 'skipped', reason: 'control_group' };
      return r.action === 'send'
        ? { custom_id: m.custom_id, variant, due_at: new Date(r.at), status: 'pending', reason: null }
        : { custom_id: m.custom_id, variant, due_at: new Date(r.due), status: 'skipped', reason: r.reason };
    });
    await insertRecipients(tx, o, rows, at, model.variants.length);
    const more = upTo !== null;
    const last = upTo ?? members.at(-1)?.custom_id ?? p.after;
    await updateOccurrence(tx, { campaignId: c.id, occurrence: o.occurrence, state: more ? 'fanning_out' : 'sending', cursor: last, addTargeted: rows.length, now: at });
    if (more) await deps.queue.enqueue(tx, [{ topic: topics.campaignFanout, payload: { campaign_id: c.id, occurrence: o.occurrence, after: last } satisfies CampaignFanoutPayload }]);
    else await analyzeLedger(tx, o.planned_at);
    // Every page (re)starts the send chain: a chain that caught up with the fan-out and ended
    // finds this page's rows, and a new link makes the one before it exit.
    await enqueueSendLink(tx, deps.queue, c.id, o.occurrence);
  });

  return async (jobs: Job[]): Promise<void> => {
    for (const job of jobs) {
      await page(job.payload as CampaignFanoutPayload);
      await deps.queue.ack([job]);
    }
  };
}
