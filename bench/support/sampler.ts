/** A benchmark's periodic samples of figures such as queue depths: their maximum and mean. */

/** What a run's samples came to. */
export interface Backlog {
  samples: number;
  max: Record<string, number>;
  mean: Record<string, number>;
}

/** Samples `probe` every 250 ms until stopped; the maximum and the mean of each figure. */
export function sample(probe: () => Promise<Record<string, number>>): { stop(): Promise<Backlog> } {
  const max: Record<string, number> = {};
  const sum: Record<string, number> = {};
  let samples = 0;
  let running = true;
  let failures = 0;
  const loop = (async () => {
    while (running) {
      try {
        const got = await probe();
        samples++;
        for (const [k, v] of Object.entries(got)) {
          max[k] = Math.max(max[k] ?? 0, v);
          sum[k] = (sum[k] ?? 0) + v;
        }
      } catch (err) {
        if (++failures === 1) console.error(`note: a backlog sample failed: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { samples, max, mean: Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, v / samples])) };
    },
  };
}
