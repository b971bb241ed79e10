/**
 * A counting semaphore: at most `limit` holders at once, the rest wait in arrival order. Twilio
 * limits how many API requests an account may have open at once (K: it answers 429 / 20429 past
 * it), so the SMS sender keeps one per account rather than finding the limit by being refused.
 */
export interface Semaphore {
  /** Resolves when a slot is free; call the returned function exactly once to give it back. */
  acquire(): Promise<() => void>;
  readonly inUse: number;
  readonly waiting: number;
}

export function createSemaphore(limit: number): Semaphore {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('a semaphore needs a limit of at least 1');
  let inUse = 0;
  const queue: (() => void)[] = [];
  const releaser = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = queue.shift();
      // The slot passes straight to the next waiter, so a newcomer cannot overtake it.
      if (next) next();
      else inUse--;
    };
  };
  return {
    acquire() {
      if (inUse < limit) {
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
