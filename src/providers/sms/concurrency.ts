/**
 * A counting semaphore: at most `limit` holders at once, the rest wait in arrival order. Twilio
 * limits how many API requests an account may have open at once (it answers 429 / 20429 past it:
 * https://www.twilio.com/docs/api/errors/20429), so the SMS sender keeps one per account rather than finding the limit by being refused.
 * The limit may be a function, read on every acquire: a process's share of the account's budget
 * changes as worker processes come and go (domain/process-share.ts).
 */
export interface Semaphore {
  /** Resolves when a slot is free; call the returned function exactly once to give it back. */
  acquire(): Promise<() => void>;
  readonly inUse: number;
  readonly waiting: number;
}

export function createSemaphore(limit: number | (() => number)): Semaphore {
  const limitNow = typeof limit === 'number' ? () => limit : limit;
  const first = limitNow();
  if (!Number.isInteger(first) || first < 1) throw new RangeError('a semaphore needs a limit of at least 1');
  let inUse = 0;
  const queue: (() => void)[] = [];
  /** Hands free slots to waiters in arrival order (several when the limit grew). */
  const admitWaiters = () => {
    while (queue.length && inUse < limitNow()) {
      inUse++;
      queue.shift()!();
    }
  };
  const releaser = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      inUse--;
      admitWaiters();
    };
  };
  return {
    acquire() {
      // A newcomer never overtakes a waiter.
      if (!queue.length && inUse < limitNow()) {
        inUse++;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve) => queue.push(() => resolve(releaser())));
    },
    get inUse() {
      return inUse;
    },
    get waiting() {
      return queue.length;
    },
  };
}
