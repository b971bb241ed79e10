/**
 * When to try a failed delivery again: exponential backoff with full jitter (AWS Architecture Blog,
 * "Exponential Backoff And Jitter"), never sooner than the provider's Retry-After.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** 1 s doubling to 5 min: rides out a provider's brief 5xx without hammering it during an outage. */
export const defaultBackoff: BackoffPolicy = { baseMs: 1_000, maxMs: 300_000 };

/** Delay before attempt `attempt + 1`, given that `attempt` (1-based) just failed. */
export function retryDelayMs(
  attempt: number,
  retryAfterMs: number | undefined,
  policy: BackoffPolicy = defaultBackoff,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(ceiling / 2 + random() * (ceiling / 2));
  return Math.max(jittered, retryAfterMs ?? 0);
}
