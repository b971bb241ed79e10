/**
 * What the sandbox's simulators received (docs/sandbox.md, GET /_sandbox/deliveries), read back
 * as a benchmark's delivery count and accept→delivered latencies: the helpers of
 * bench/transactional.ts phase (b), here so that every benchmark measures deliveries the same way.
 * The APNs simulator unless a channel is named.
 */
import { summarize } from './stats.js';

export interface SandboxRecord { received_at: string; body_base64: string; id: string }

/** Forgets every record, so the next run counts only its own deliveries. */
export async function clearDeliveries(sandboxUrl: string): Promise<void> {
  await fetch(`${sandboxUrl}/_sandbox/deliveries`, { method: 'DELETE' });
}

/** Every accepted record of `channel`, paged (overlapping by 1 ms and de-duplicated by id). */
export async function allRecords(sandboxUrl: string, expected: number, channel = 'apns'): Promise<SandboxRecord[]> {
  const seen = new Map<string, SandboxRecord>();
  let since = '1970-01-01T00:00:00.000Z';
  for (;;) {
    const page = (await (await fetch(`${sandboxUrl}/_sandbox/deliveries?channel=${channel}&limit=10000&since=${since}`)).json()) as SandboxRecord[];
    let fresh = 0;
    for (const r of page) if (!seen.has(r.id)) { seen.set(r.id, r); fresh++; }
    if (page.length < 10000 || fresh === 0 || seen.size >= expected) break;
    since = new Date(Date.parse(page[page.length - 1]!.received_at) - 1).toISOString();
  }
  return [...seen.values()];
}

export async function waitForDeliveries(sandboxUrl: string, expected: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = (await (await fetch(`${sandboxUrl}/_sandbox/deliveries?channel=apns&limit=1&since=${new Date(Date.now() - 1000).toISOString()}`)).json()) as unknown[];
    // Cheap idle check first; the full count below only once deliveries stopped arriving.
    if (!r.length) {
      const all = await allRecords(sandboxUrl, expected);
      if (all.length >= expected) return;
    }
    if (Date.now() > deadline) throw new Error(`only part of ${expected} deliveries arrived in ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

/**
 * Accept→delivered latency of every record whose payload names a message in `acceptedAt` (Herald's
 * payload carries the message id as `herald.m`), and the first and last delivery times.
 */
export async function latencies(sandboxUrl: string, acceptedAt: Map<string, number>, expected: number) {
  const records = await allRecords(sandboxUrl, expected);
  const lat: number[] = [];
  let first = Infinity;
  let last = 0;
  for (const r of records) {
    const m = (JSON.parse(Buffer.from(r.body_base64, 'base64').toString('utf8')) as { herald: { m: string } }).herald.m;
    const accepted = acceptedAt.get(m);
    if (accepted === undefined) continue;
    const at = Date.parse(r.received_at);
    first = Math.min(first, at);
    last = Math.max(last, at);
    lat.push(at - accepted);
  }
  return { count: lat.length, latency: summarize(lat), first, last };
}
