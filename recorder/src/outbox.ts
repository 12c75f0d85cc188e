/** Unsent batches in IndexedDB, so they survive a reload, a crash or an offline spell. */

export interface StoredBatch {
  /** `${sid}:${seq}` */
  id: string;
  sid: string;
  seq: number;
  /** The page load that made it. */
  page: string;
  /** When it was made, ms since the epoch. */
  at: number;
  /** gzip bytes, or the JSON text where the browser cannot compress. */
  body: Uint8Array | string;
}

const STORE = 'batches';
let db: Promise<IDBDatabase | null> | undefined;

function settle<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Run one request on the store; null when IndexedDB is unavailable or the request failed. */
async function run<T>(mode: IDBTransactionMode, action: (store: IDBObjectStore) => IDBRequest<T>): Promise<T | null> {
  try {
    db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('replaydesk', 1);
      open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: 'id' });
      open.onsuccess = () => resolve(open.result);
      // Blocked: another tab holds an older version open. Do without the outbox.
      open.onerror = open.onblocked = reject;
    }).catch(() => null);
    const handle = await db;
    return handle && (await settle(action(handle.transaction(STORE, mode).objectStore(STORE))));
  } catch {
    return null;
  }
}

/** Whether the batch is now stored. */
export const storeBatch = async (batch: StoredBatch): Promise<boolean> =>
  (await run('readwrite', (s) => s.put(batch))) !== null;

export const deleteBatch = (id: string): void => void run('readwrite', (s) => s.delete(id));

export const storedBatches = async (): Promise<StoredBatch[]> =>
  (await run('readonly', (s) => s.getAll() as IDBRequest<StoredBatch[]>)) || [];

export const clearBatches = (): void => void run('readwrite', (s) => s.clear());
