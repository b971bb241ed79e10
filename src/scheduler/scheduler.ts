/**
 * The scheduler role: periodic upkeep. Today it expires idempotency keys and event ids past their
 * retention, removes bulk uploads a stopped API process left half-staged, forgets audience changes
 * applied a week ago, forgets webhook events and attempts after 30 days, deletes export files past
 * their week, forgets capping's counted sends and in-app events older than any rule's window, drops the inbox's weeks
 * past their retention (store/inbox.ts), runs the reconciler (reconciler.ts), plans campaigns'
 * occurrences (campaigns.ts) and runs trigger automations' journeys (automations.ts).
 */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { WorkQueue } from '../queue/queue.js';
import { deleteExpiredIdempotencyKeys } from '../store/idempotency.js';
import { startReconciler } from './reconciler.js';
import { deleteExpiredEventIds } from '../store/events.js';
import { deleteAbandonedUploads } from '../store/import-jobs.js';
import { deleteAppliedChanges } from '../store/audiences.js';
import { deleteOldWebhookEvents, webhookRetentionMs } from '../store/webhook-deliveries.js';
import { deleteOldCappingSends } from '../store/capping.js';
import type { Clock } from '../domain/clock.js';
import { every } from './every.js';
import { expireExports } from '../store/exports.js';
import { deleteExportFile } from '../store/export-files.js';
import { startDueOccurrences } from './campaigns.js';
import { defaultInboxRetentionDays, dropExpiredInboxWeeks } from '../store/inbox.js';
import { deleteOldInAppEvents } from '../store/in-app.js';
import { startAutomations } from './automations.js';

/** How often started campaigns are looked at for an occurrence to plan: a campaign sent "now" starts within it. */
const campaignLookMs = 1_000;
/** Hourly is plenty: keys are kept 48 h, the promise is 24 h. */
const upkeepEveryMs = 3_600_000;

export function startScheduler(deps: {
  sql: Sql; log: Logger; queue: WorkQueue; reconcileAfterMs: number; clock: Clock; exportsDir?: string | undefined; inboxRetentionDays?: number | undefined;
}): { stop(): Promise<void> } {
  const reconciler = startReconciler({ sql: deps.sql, queue: deps.queue, log: deps.log, graceMs: deps.reconcileAfterMs, clock: deps.clock });
  const upkeep = async () => {
    const now = new Date(deps.clock.now());
    try {
      const n = await deleteExpiredIdempotencyKeys(deps.sql, now);
      if (n) deps.log.info({ deleted: n }, 'expired idempotency keys removed');
      const ids = await deleteExpiredEventIds(deps.sql, now);
      if (ids) deps.log.info({ deleted: ids }, 'expired event ids removed');
      const uploads = await deleteAbandonedUploads(deps.sql, now);
      if (uploads) deps.log.info({ deleted: uploads }, 'bulk uploads abandoned by a stopped process removed');
      const changes = await deleteAppliedChanges(deps.sql, now);
      if (changes) deps.log.info({ deleted: changes }, 'audience changes applied past their retention removed');
      const hooks = await deleteOldWebhookEvents(deps.sql, new Date(now.getTime() - webhookRetentionMs));
      if (hooks) deps.log.info({ deleted: hooks }, 'webhook events past their retention removed');
      if (deps.exportsDir) {
        const expired = await expireExports(deps.sql, now);
        for (const e of expired) await deleteExportFile(deps.exportsDir, e);
        if (expired.length) deps.log.info({ deleted: expired.length }, 'export files past their retention removed');
      }
      const sends = await deleteOldCappingSends(deps.sql, now);
      if (sends) deps.log.info({ deleted: sends }, 'counted sends older than any capping window removed');
      const inApp = await deleteOldInAppEvents(deps.sql, now);
      if (inApp) deps.log.info({ deleted: inApp }, 'in-app events older than any capping window removed');
      const weeks = await dropExpiredInboxWeeks(deps.sql, now, deps.inboxRetentionDays ?? defaultInboxRetentionDays);
      if (weeks.length) deps.log.info({ dropped: weeks }, 'inbox weeks past their retention dropped');
    } catch (err) {
      deps.log.warn({ err }, 'upkeep failed; will try again');
    }
  };
  const periodic = every(deps.clock, upkeepEveryMs, upkeep, { now: true });
  const campaigns = every(deps.clock, campaignLookMs, async () => {
    await startDueOccurrences(deps).catch((err: unknown) => deps.log.warn({ err }, 'campaign look failed; will try again'));
  }, { now: true });
  // Trigger automations: kept events into journeys, due journeys one step at a time (automations.ts).
  const automations = startAutomations(deps);
  return {
    stop: async () => {
      await automations.stop();
      await periodic.stop();
      await campaigns.stop();
      await reconciler.stop();
    },
  };
}
