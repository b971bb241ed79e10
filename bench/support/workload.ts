/**
 * The transactional workload of the benchmarks: the push every send carries and fresh device tokens,
 * the same as bench/transactional.ts phase (b), so that every pipeline is measured on one workload.
 */
import { uuidv7 } from '../../src/domain/ids.js';

export const benchPush = { title: 'Benchmark', body: 'A push of the transactional benchmark', deeplink: 'bench://home' };

let tokenCounter = 0;
/** A unique 64-hex-character APNs device token. */
export const newToken = (): string => (++tokenCounter).toString(16).padStart(16, '0') + uuidv7().replace(/-/g, '') + 'a'.repeat(16);

/** The body of one `POST /v1/transactional/send` to `n` fresh iOS tokens. */
export function sendBody(n: number): string {
  return JSON.stringify({
    group_id: 'bench', recipients: { tokens: Array.from({ length: n }, () => ({ platform: 'ios', token: newToken() })) }, push: benchPush,
  });
}
