/**
 * Keeps this worker process's share of the provider accounts (domain/process-share.ts) current:
 * a heartbeat every few seconds registers it and counts the live worker processes. So an account's
 * rate and connection budget hold across processes: with three workers each sends at a third.
 *
 * Between a worker's start and the others' next heartbeat, the account may briefly see up to one
 * share more than its budget; a provider's 429 in that window slows the sender as any 429 does.
 * When PostgreSQL is unreachable, the last share stays in force.
 */
import { hostname } from 'node:os';
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { uuidv7 } from '../domain/ids.js';
import { shareOf, type Share } from '../domain/process-share.js';
import { heartbeat, leave } from '../store/worker-processes.js';

export interface ProcessShare {
  share: Share;
  /** Worker processes alive at the last heartbeat, this one included. */
  readonly processes: number;
  stop(): Promise<void>;
}

export async function startProcessShare(o: { sql: Sql; log: Logger; everyMs?: number }): Promise<ProcessShare> {
  const everyMs = o.everyMs ?? 5_000;
  // Three missed heartbeats and a process no longer counts.
  const liveMs = everyMs * 3;
  const me = { id: uuidv7(), host: hostname(), pid: process.pid };
  let processes = await heartbeat(o.sql, me, liveMs);
  // The heartbeat under way, if any: stop() waits for it, or it could register the process again
  // after stop() removed it.
  let beating: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (beating) return;
    beating = heartbeat(o.sql, me, liveMs).then((n) => {
      if (n !== processes) o.log.info({ workers: n, share: shareOf(n) }, 'worker processes changed: provider budgets re-shared');
      processes = n;
    }, (err: Error) => o.log.warn({ err }, 'worker heartbeat failed; keeping the last share'))
      .finally(() => { beating = undefined; });
  }, everyMs);
  timer.unref();
  return {
    share: () => shareOf(processes),
    get processes() {
      return processes;
    },
    async stop() {
      clearInterval(timer);
      await beating;
      await leave(o.sql, me.id).catch((err: Error) => o.log.warn({ err }, 'could not unregister the worker process'));
    },
  };
}
