/**
 * A simulator's ceiling as one sender reaches it: `pushes` sends straight to the simulator, 500 in
 * flight, with no pipeline in front. The "bare sender" each end-to-end benchmark sets its rate
 * beside (bench/transactional.ts, bench/campaign.ts), measured in the same run.
 */
import { pool } from './stats.js';
import type { BenchSender } from './channel-workload.js';

/** Pushes/s of `pushes` straight to the simulator, 500 in flight, and the failures with the first reason. */
export async function ceilingWith(sender: BenchSender, pushes: number): Promise<{ rate: number; failures: number; first?: string | undefined }> {
  let failures = 0;
  let first: string | undefined;
  const started = performance.now();
  await pool(pushes, 500, async (i) => {
    const why = await sender.send(i);
    if (why === undefined) return;
    failures++;
    first ??= why;
  });
  const rate = pushes / ((performance.now() - started) / 1000);
  await sender.close();
  return { rate, failures, first };
}
