/**
 * A token bucket: `ratePerSecond` tokens flow in, at most `burst` are held. A request takes as many
 * tokens as it carries units of work (operations, events); when too few are left it takes none and
 * learns how long until enough have flowed in. Pure: time is passed in.
 */
export interface TokenBucket {
  /** Takes `n` tokens at `now` (ms): 0 when granted, else the ms to wait before `n` are there. */
  take(n: number, now: number): number;
}

export function createTokenBucket(o: { ratePerSecond: number; burst: number }): TokenBucket {
  let tokens = o.burst;
  let at = -Infinity;
  return {
    take(n, now) {
      tokens = Math.min(o.burst, tokens + Math.max(0, now - at) * o.ratePerSecond / 1000);
      at = now;
      // A request larger than the burst could never pass; it goes through on a full bucket instead.
      const needed = Math.min(n, o.burst);
      if (tokens >= needed) {
        tokens -= n;
        return 0;
      }
      return Math.ceil((needed - tokens) * 1000 / o.ratePerSecond);
    },
  };
}
