/**
 * LISTEN/NOTIFY wake-ups for idle consumers. One LISTEN connection per process; each NOTIFY bumps
 * its topic's generation and wakes the consumers waiting on that topic. A consumer compares the
 * generation it saw before looking for work with the current one, so no wake-up falls in a gap.
 *
 * Notifications sent while the LISTEN connection is down are lost; postgres.js re-listens after a
 * reconnect and calls `onlisten`, where every waiter is woken to look again.
 */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { Clock } from '../../domain/clock.js';

export interface Wakeups {
  /** Resolves once the LISTEN is in place (so a job enqueued after it cannot be missed). */
  ready(): Promise<void>;
  generation(topic: string): number;
  /** Waits until the topic's generation moves past `seen`, `ms` pass, or the signal aborts. */
  wait(topic: string, seen: number, ms: number, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** `ms` is on `clock`: a test clock moved forward ends the wait (a lease or delay it was timing ran out). */
export function createWakeups(sql: Sql, channel: string, log: Logger, clock: Clock): Wakeups {
  const generations = new Map<string, number>();
  const waiters = new Map<string, Set<() => void>>();
  let listening: Promise<{ unlisten(): Promise<void> }> | undefined;
  let closed = false;

  const wake = (topic: string) => {
    generations.set(topic, (generations.get(topic) ?? 0) + 1);
    for (const w of waiters.get(topic) ?? []) w();
  };
  const wakeAll = () => {
    for (const topic of new Set([...generations.keys(), ...waiters.keys()])) wake(topic);
  };

  return {
    ready() {
      listening ??= sql.listen(channel, (topic) => wake(topic), () => {
        log.debug('queue wake-ups listening');
        wakeAll();
      });
      return listening.then(() => undefined);
    },
    generation: (topic) => generations.get(topic) ?? 0,
    wait(topic, seen, ms, signal) {
      if (closed || signal?.aborted || (generations.get(topic) ?? 0) !== seen) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const set = waiters.get(topic) ?? new Set();
        waiters.set(topic, set);
        const timer = new AbortController();
        const done = () => {
          timer.abort();
          set.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        void clock.sleep(ms, timer.signal).then(done);
        signal?.addEventListener('abort', done, { once: true });
        set.add(done);
      });
    },
    async close() {
      closed = true;
      wakeAll();
      const l = await listening?.catch(() => undefined);
      await l?.unlisten().catch(() => undefined);
    },
  };
}
