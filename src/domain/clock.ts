/**
 * The one clock every decision about time reads: leases, run_at, retry delays, breaker cool-downs,
 * throttles, expiries, the scheduler's periods and the timestamps written with them. Herald builds
 * one (`systemClock`) in server.ts and hands it to every part, so a test can hand in its own and
 * move time forward instead of waiting for it (test/support/clock.ts).
 *
 * `sleep` is part of the clock because a wait for a clock time (a lease's end, a delayed job's
 * run_at) must end when that clock gets there, which a test clock does when it is moved forward.
 * Waits for something outside the process (a socket, a server's own timer) use real timers.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves once `ms` have passed on this clock, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  }),
};
