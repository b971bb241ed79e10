/**
 * Runs `task` every `periodMs` on Herald's clock (domain/clock.ts) until stopped: a test that moves
 * its clock forward gets the next run at once, where an interval timer would make it wait.
 * The first run is `periodMs` after the start (or at once with `now: true`).
 */
import type { Clock } from '../domain/clock.js';

export function every(clock: Clock, periodMs: number, task: () => Promise<void>, o: { now?: boolean } = {}): { stop(): Promise<void> } {
  const stopped = new AbortController();
  const loop = (async () => {
    if (!o.now) await clock.sleep(periodMs, stopped.signal);
    while (!stopped.signal.aborted) {
      await task();
      await clock.sleep(periodMs, stopped.signal);
    }
  })();
  return {
    stop: async () => {
      stopped.abort();
      await loop;
    },
  };
}
