/**
 * What the provider simulators received, read from the sandbox's inspection API
 * (docs/sandbox.md, GET /_sandbox/deliveries), all of it, and kept beside the history.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** One request the simulator received (the fields of docs/sandbox.md the checker reads). */
export interface SandboxRecord {
  id: string;
  channel: string;
  /** ISO 8601, millisecond precision, the sandbox's clock. */
  received_at: string;
  /** For APNs, the device token. */
  target: string;
  /** What the simulator answered: 200 is accepted (delivered), null a dropped connection. */
  status: number | null;
  reason: string | null;
  headers: Record<string, string>;
}

/** The API's page limit (docs/sandbox.md: `limit` from 1 to 10000). */
const pageSize = 10_000;

/**
 * Every record of a channel, the refused ones too, oldest first. Pages follow `since`, which is
 * strict and has millisecond precision: the next page starts one millisecond before the last
 * record's time, so records sharing that millisecond are not skipped, and the overlap is removed
 * by record id. Call it once the system is quiet: a request is listed only once it is answered.
 */
export async function fetchSandboxRecords(inspectionUrl: string, channel = 'apns'): Promise<SandboxRecord[]> {
  const byId = new Map<string, SandboxRecord>();
  let since: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ channel, include: 'rejected', limit: String(pageSize) });
    if (since) q.set('since', since);
    const res = await fetch(`${inspectionUrl}/_sandbox/deliveries?${q}`);
    if (!res.ok) throw new Error(`sandbox ${inspectionUrl} answered ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as SandboxRecord[];
    let fresh = 0;
    for (const r of page) {
      if (!byId.has(r.id)) fresh++;
      byId.set(r.id, r);
    }
    if (page.length < pageSize) break;
    if (fresh === 0) {
      // A full page inside one millisecond: cannot happen below 10,000 requests per ms; say so rather than loop.
      throw new Error(`sandbox paging made no progress at ${since}: more than ${pageSize} records in one millisecond`);
    }
    since = new Date(Date.parse(page[page.length - 1]!.received_at) - 1).toISOString();
  }
  return [...byId.values()].sort((a, b) => a.received_at.localeCompare(b.received_at));
}

export async function writeRecords(path: string, records: SandboxRecord[]): Promise<void> {
  const out = createWriteStream(path);
  for (const r of records) {
    // Keep what the checker and a reader need; the provider token (authorization) is not evidence.
    const { authorization: _auth, ...headers } = r.headers;
    if (!out.write(JSON.stringify({ ...r, headers }) + '\n')) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

export async function readRecords(path: string): Promise<SandboxRecord[]> {
  const records: SandboxRecord[] = [];
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (line.trim()) records.push(JSON.parse(line) as SandboxRecord);
  }
  return records;
}
