/**
 * The outbox: every call the SDK makes to Herald is written here first, in order, and deleted only
 * once Herald has acknowledged it. It survives reloads, closed tabs and offline periods; it is shared
 * by every tab of the origin and by the service worker. It is bounded: past the limit the oldest
 * entries are dropped, and the count is kept to be reported at the next send.
 */
import { metaStore, outboxStore, request, transaction } from './idb.js';
import { newId } from './ids.js';
import type { OutboxItem } from './types.js';

export interface OutboxEntry {
  seq: number;
  item: OutboxItem;
}

/** Entries lost before Herald acknowledged them: reported once, under a fixed id, then cleared. */
export interface DropReport {
  id: string;
  /** Dropped because the outbox was full. */
  overflow: number;
  /** Refused by Herald for good (a 4xx other than 408 and 429). */
  rejected: number;
}

const overflowKey = 'dropped_overflow';
const rejectedKey = 'dropped_rejected';
const reportKey = 'drop_report';
/** The installation as last registered: sent again when Herald no longer knows it. */
export const installationBodyKey = 'installation_body';

async function counter(store: IDBObjectStore, key: string): Promise<number> {
  const v: unknown = await request(store.get(key));
  return typeof v === 'number' ? v : 0;
}

/** Writes `item` after the others and trims the oldest past `limit`; resolves once committed. */
export function append(item: OutboxItem, limit: number): Promise<void> {
  return transaction([outboxStore, metaStore], 'readwrite', async (tx) => {
    const outbox = tx.objectStore(outboxStore);
    await request(outbox.add(item));
    const excess = (await request(outbox.count())) - limit;
    if (excess > 0) {
      const keys = await request(outbox.getAllKeys(null, excess));
      const first = keys[0];
      const last = keys[keys.length - 1];
      if (first !== undefined && last !== undefined) await request(outbox.delete(IDBKeyRange.bound(first, last)));
      const meta = tx.objectStore(metaStore);
      await request(meta.put((await counter(meta, overflowKey)) + keys.length, overflowKey));
    }
  });
}

/** The oldest `max` entries, oldest first. */
export function head(max: number): Promise<OutboxEntry[]> {
  return transaction([outboxStore], 'readonly', async (tx) => {
    const outbox = tx.objectStore(outboxStore);
    const [keys, items] = await Promise.all([
      request(outbox.getAllKeys(null, max)),
      request(outbox.getAll(null, max) as IDBRequest<OutboxItem[]>),
    ]);
    return items.map((item, i) => ({ seq: keys[i] as number, item }));
  });
}

/** Deletes acknowledged entries; `rejected` of them were refused for good and are counted. */
export function remove(seqs: number[], rejected = 0): Promise<void> {
  return transaction([outboxStore, metaStore], 'readwrite', async (tx) => {
    const outbox = tx.objectStore(outboxStore);
    await Promise.all(seqs.map((seq) => request(outbox.delete(seq))));
    if (rejected > 0) {
      const meta = tx.objectStore(metaStore);
      await request(meta.put((await counter(meta, rejectedKey)) + rejected, rejectedKey));
    }
  });
}

export function size(): Promise<number> {
  return transaction([outboxStore], 'readonly', (tx) => request(tx.objectStore(outboxStore).count()));
}

/**
 * The drop report to send next, if anything was dropped. Its counts move out of the counters into
 * the report in one transaction, and the report keeps its id until acknowledged: a report re-sent
 * after a lost answer is deduplicated by Herald like any event, and drops after it go to the next one.
 */
export function pendingDropReport(): Promise<DropReport | undefined> {
  return transaction([metaStore], 'readwrite', async (tx) => {
    const meta = tx.objectStore(metaStore);
    const existing = (await request(meta.get(reportKey))) as DropReport | undefined;
    if (existing) return existing;
    const overflow = await counter(meta, overflowKey);
    const rejected = await counter(meta, rejectedKey);
    if (overflow === 0 && rejected === 0) return undefined;
    const report: DropReport = { id: newId(), overflow, rejected };
    await request(meta.put(report, reportKey));
    await request(meta.put(0, overflowKey));
    await request(meta.put(0, rejectedKey));
    return report;
  });
}

export function clearDropReport(): Promise<void> {
  return transaction([metaStore], 'readwrite', async (tx) => {
    await request(tx.objectStore(metaStore).delete(reportKey));
  });
}

export function readMeta<T>(key: string): Promise<T | undefined> {
  return transaction([metaStore], 'readonly', (tx) => request(tx.objectStore(metaStore).get(key)) as Promise<T | undefined>);
}

export function writeMeta(key: string, value: unknown): Promise<void> {
  return transaction([metaStore], 'readwrite', async (tx) => {
    await request(tx.objectStore(metaStore).put(value, key));
  });
}

/** The install id, created on first use; two contexts racing to create it agree on one. */
export function installId(): Promise<string> {
  return transaction([metaStore], 'readwrite', async (tx) => {
    const meta = tx.objectStore(metaStore);
    const existing: unknown = await request(meta.get('install_id'));
    if (typeof existing === 'string') return existing;
    const id = newId();
    await request(meta.put(id, 'install_id'));
    return id;
  });
}
