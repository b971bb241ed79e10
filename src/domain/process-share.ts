/**
 * A provider account's limits (its rate, its connections) are the account's, not each process's:
 * when several worker processes send on one account, each may use only its share. The share is
 * 1 / the live worker processes (worker/process-share.ts keeps the count); these functions turn it
 * into a process's part of a budget. Pure.
 */

/** The share of each account this process may use, in (0, 1]; read again on every use, as workers come and go. */
export type Share = () => number;

export const wholeShare: Share = () => 1;

/** The share of one among `processes` live ones (at least one: this process). */
export function shareOf(processes: number): number {
  return 1 / Math.max(1, Math.floor(processes));
}

/**
 * This process's part of a budget of `total` (connections, requests in flight): rounded down, so
 * the processes together stay within it, but never below one, or a process could send nothing.
 */
export function budgetShare(total: number, share: number): number {
  return Math.max(1, Math.floor(total * share + 1e-9));
}
