/**
 * Per-project rate limits of the profile and SDK data endpoints: a token bucket per project and
 * family, in this process (several API processes each allow the rate). A request costs its units
 * of work (operations, events); over the rate it is refused whole with a 429 and Retry-After, and
 * nothing is stored.
 */
import { createTokenBucket, type TokenBucket } from '../domain/token-bucket.js';
import { ApiError } from './errors.js';
import { loadConfig } from '../config.js';

export interface RateLimits {
  /** Profile operations per second per project (REST update and PUT); bursts of one second's worth. */
  profileOperationsPerSecond: number;
  /** SDK events, push events and attribute changes per second per project. */
  sdkEventsPerSecond: number;
}

/** The configuration's defaults (src/config.ts declares them once), for an app built without a config. */
export const defaultRateLimits: RateLimits = loadConfig({}, {}).rateLimits;

/** Projects remembered per family before the oldest are forgotten (a forgotten one starts full). */
const maxProjects = 10_000;

export type RateFamily = 'profiles' | 'sdk';

export function createRateLimiter(limits: RateLimits, clock: () => number = Date.now) {
  const buckets = new Map<string, TokenBucket>();
  const rate = (family: RateFamily) => (family === 'profiles' ? limits.profileOperationsPerSecond : limits.sdkEventsPerSecond);
  return {
    /** Takes `units` for the project, or throws rate_limited. */
    take(family: RateFamily, projectId: string, units: number): void {
      const key = family + ':' + projectId;
      let bucket = buckets.get(key);
      if (!bucket) {
        if (buckets.size >= maxProjects) buckets.delete(buckets.keys().next().value!);
        bucket = createTokenBucket({ ratePerSecond: rate(family), burst: rate(family) });
        buckets.set(key, bucket);
      }
      const waitMs = bucket.take(Math.max(1, units), clock());
      if (waitMs > 0) {
        throw new ApiError('rate_limited', `this project is limited to ${rate(family)} ${family === 'sdk' ? 'SDK events' : 'profile operations'} per second`,
          { 'retry-after': String(Math.ceil(waitMs / 1000)) });
      }
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;
