/**
 * The scheduler role: periodic upkeep. Today it expires idempotency keys past their retention;
 * campaigns and automations will start here too.
 */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { deleteExpiredIdempotencyKeys } from '../store/idempotency.js';

/** Hourly is plenty: keys are kept 48 h, the promise is 24 h. */
const upkeepEveryMs = 3_600_000;

export function startScheduler(deps: { sql: Sql; log: Logger }): { stop(): Promise<void> } {
  const upkeep = async () => {
    try {
      const n = await deleteExpiredIdempotencyKeys(deps.sql);
      if (n) deps.log.info({ deleted: n }, 'expired idempotency keys removed');
    } catch (err) {
      deps.log.warn({ err }, 'upkeep failed; will try again');
    }
  };
  const timer = setInterval(upkeep, upkeepEveryMs);
  timer.unref();
  void upkeep();
  return { stop: async () => clearInterval(timer) };
}
