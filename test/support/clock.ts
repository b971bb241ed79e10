/**
 * A clock a test moves forward. It runs with real time (so everything that is not about time keeps
 * working as in production) plus an offset that `advance` grows: leases end, delayed jobs come due
 * and breakers cool down at once, and every `sleep` whose end the jump passed wakes, so a waiting
 * loop re-reads the clock instead of sleeping through the jump.
 */
import type { Clock } from '../../src/domain/clock.js';

export interface TestClock extends Clock {
  /** Moves the clock `ms` forward and wakes the sleeps that ended. */
  advance(ms: number): void;
}

export function testClock(): TestClock {
  let offset = 0;
  const now = () => Date.now() + offset;
  const sleepers = new Set<{ until: number; timer: NodeJS.Timeout | undefined; wake(): void; arm(): void }>();
  return {
    now,
    sleep(ms, signal) {
      return new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const s = {
          until: now() + Math.max(0, ms),
          timer: undefined as NodeJS.Timeout | undefined,
          wake() {
            clearTimeout(s.timer);
            sleepers.delete(s);
            signal?.removeEventListener('abort', s.wake);
            resolve();
          },
          arm() {
            clearTimeout(s.timer);
            const left = s.until - now();
            if (left <= 0) s.wake();
            else s.timer = setTimeout(() => s.arm(), left);
          },
        };
        sleepers.add(s);
        signal?.addEventListener('abort', s.wake, { once: true });
        s.arm();
      });
    },
    advance(ms) {
      offset += ms;
      for (const s of [...sleepers]) s.arm();
    },
  };
}
