/**
 * Starting campaign occurrences: the scheduler's look at every started campaign. A one-off
 * campaign's single occurrence is planned when it is started (`now`, a local time whose earliest
 * zone is hours away) or shortly before its instant (`at`); a recurring campaign's next occurrence
 * shortly before its earliest zone's send time, so its audience is read as late as possible.
 * Planning an occurrence writes its row and its first fan-out job in one transaction under the
 * campaign's row lock: two schedulers racing plan it once. A recurring campaign whose series has
 * ended finishes once its last occurrence is done.
 */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { WorkQueue } from '../queue/queue.js';
import type { Clock } from '../domain/clock.js';
import { nextOccurrence, occurrenceOn } from '../domain/campaigns/plan.js';
import { formatDate, parseDate } from '../domain/campaigns/local-time.js';
import { parseWhen } from '../domain/campaigns/when.js';
import { activeCampaigns, getCampaignForWork, projectTimezone, transitionCampaign } from '../store/campaigns.js';
import { insertOccurrence } from '../store/campaign-ledger.js';
import { topics, type CampaignFanoutPayload } from '../worker/topics.js';

/** How long before its first send time an occurrence is planned: its audience is read then. */
export const planAheadMs = 10 * 60_000;

export async function startDueOccurrences(deps: { sql: Sql; queue: WorkQueue; clock: Clock; log: Logger }): Promise<number> {
  let planned = 0;
  for (const listed of await activeCampaigns(deps.sql, 1_000)) {
    try {
      planned += await deps.sql.begin(async (tx) => {
        const c = await getCampaignForWork(tx, listed.id, 'update');
        if (!c || (c.state !== 'scheduled' && c.state !== 'running')) return 0;
        const now = deps.clock.now();
        const at = new Date(now);
        const when = parseWhen(c.definition.when);
        const zone = await projectTimezone(tx, c.project_id);
        let localDate: string | null = null;
        if (when.type === 'recurring') {
          const [last] = await tx<{ local_date: string | null; state: string }[]>`
            select local_date::text as local_date, state from campaign_occurrences where campaign_id = ${c.id} order by occurrence desc limit 1`;
          const previous = last?.local_date ? occurrenceOn(when, zone, parseDate(last.local_date)!) : null;
          const next = nextOccurrence(when, zone, previous ? previous.latest : (c.started_at ?? at).getTime() - 1);
          if (!next) {
            // The series has ended: finished once nothing is still being sent.
            const [open] = await tx`select 1 from campaign_occurrences where campaign_id = ${c.id} and state in ('fanning_out', 'sending') limit 1`;
            if (!open) await transitionCampaign(tx, c.project_id, c.id, ['scheduled', 'running'], 'finished', at);
            return 0;
          }
          if (next.earliest - planAheadMs > now) return 0;
          localDate = formatDate(next.date);
        } else {
          if (c.occurrences > 0) return 0;
          if (when.type === 'at' && when.instant - planAheadMs > now) return 0;
        }
        const occurrence = c.occurrences + 1;
        await insertOccurrence(tx, { campaignId: c.id, projectId: c.project_id, occurrence, plannedAt: at, localDate });
        await tx`update campaigns set occurrences = ${occurrence}, state = 'running', updated_at = ${at} where id = ${c.id}`;
        await deps.queue.enqueue(tx, [{ topic: topics.campaignFanout, payload: { campaign_id: c.id, occurrence, after: '' } satisfies CampaignFanoutPayload }]);
        return 1;
      });
    } catch (err) {
      deps.log.error({ err, campaign_id: listed.id }, 'could not plan the campaign\'s next occurrence; will try again');
    }
  }
  return planned;
}
