/**
 * The few IndexedDB calls the SDK needs, as promises. The page and the service worker open the same
 * database (one per origin), so the service worker can read the page's configuration and both write
 * to one outbox.
 */

const databaseName = 'herald';
/** Bump with an upgrade step in `upgrade` when the stores change. */
const databaseVersion = 1;

/** Outbox entries in write order: the key is an auto-incremented sequence number. */
export const outboxStore = 'outbox';
/** Small named values: configuration, install id, drop counters. */
export const metaStore = 'meta';

function upgrade(db: IDBDatabase): void {
  if (!db.objectStoreNames.contains(outboxStore)) db.createObjectStore(outboxStore, { autoIncrement: true });
  if (!db.objectStoreNames.contains(metaStore)) db.createObjectStore(metaStore);
}

let opened: Promise<IDBDatabase> | undefined;

export function openDatabase(): Promise<IDBDatabase> {
  opened ??= new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(databaseName, databaseVersion);
    req.onupgradeneeded = () => upgrade(req.result);
    req.onsuccess = () => {
      const db = req.result;
      // Another context upgrading the schema: let it, and reopen on the next call.
      db.onversionchange = () => {
        db.close();
        opened = undefined;
      };
      resolve(db);
    };
    req.onerror = () => {
      opened = undefined;
      reject(req.error);
    };
  });
  return opened;
}

export function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * Runs `work` in one transaction and resolves with its result once the transaction has committed
 * (not merely when the last request succeeded): a caller told "written" can rely on it surviving a
 * reload. `work` must only issue requests on `tx`, never await anything else, or the transaction
 * closes under it.
 */
export async function transaction<T>(
  stores: string[],
  mode: IDBTransactionMode,
  work: (tx: IDBTransaction) => Promise<T>,
): Promise<T> {
  const db = await openDatabase();
  // 'strict' durability: the commit event waits for the data to reach disk (Chromium defaults to
  // 'relaxed', which may lose the last writes on a crash).
  const tx = db.transaction(stores, mode, { durability: 'strict' });
  const committed = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'));
    tx.onerror = () => reject(tx.error);
  });
  let result: T;
  try {
    result = await work(tx);
  } catch (err) {
    try {
      tx.abort();
    } catch {
      // Already finished: the error below is the one worth reporting.
    }
    throw err;
  }
  await committed;
  return result;
}
