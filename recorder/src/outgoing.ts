/** The upload queue: gzip, IndexedDB, retries with backoff, the kill switch, and the exit path.
 *
 * Batches go out one at a time, oldest first. The service stores a repeated (session_id, seq)
 * once, so every retry is safe; a batch a beacon took at exit is still not sent again: the next
 * page load learns which ones those were and drops them from the outbox. */

import { packBatch } from './compress';
import type { Config } from './options';
import { clearBatches, deleteBatch, storeBatch, storedBatches, type StoredBatch } from './outbox';
import { claimant } from './session';
import { drop, load, save, SITE, warn } from './storage';

/** Why the service stopped the recording: a refused key or site, or an erased user. */
export type Refusal = 401 | 403 | 410;

interface Batch extends Omit<StoredBatch, 'body'> {
  /** The JSON text, kept until the batch is safe in the outbox. */
  json?: string | undefined;
  /** What is sent: gzip bytes, or the JSON where the browser cannot compress. */
  body?: Uint8Array | string | undefined;
  stored?: boolean;
  done?: boolean;
  ready: Promise<unknown>;
}

type Spilled = Omit<StoredBatch, 'body'> & { json: string };

const SPILL_KEY = 'replaydesk:spill';
/** Batch id -> when a beacon took it, for the page loads after this one. */
const BEACONED_KEY = 'replaydesk:beaconed';
const SPILL_MAX_CHARS = 1024 * 1024;
/** sendBeacon (like keepalive fetch) has a 64 KiB limit on what is in flight. */
const EXIT_BUDGET = 60 * 1024;
// Bound before the network capture wraps it: the recorder's own uploads are not recorded.
const beacon = navigator.sendBeacon?.bind(navigator);
const MAX_RETRY_AFTER_MS = 3600 * 1000;

let config: Config;
/** From the exit path until the page is back from the back-forward cache (or gone): nothing
 * is sent or stored, since an answer arriving while the page sits frozen there evicts it. */
let leaving = false;
let page: string;
let send: typeof fetch;
let onRefused: (status: Refusal) => void;
let onWatched: (watched: boolean) => void;
let queue: Batch[] = [];
let busy = false;
let timer = 0;
let attempt = 0;
let halted = false;
let inflight: AbortController | undefined;

/** Start uploading for this page; `fetchFn` is the page's fetch from before network capture. */
export function startUploads(
  cfg: Config,
  pageId: string,
  fetchFn: typeof fetch,
  refused: (status: Refusal) => void,
  watched: (watched: boolean) => void = () => undefined,
): void {
  config = cfg;
  page = pageId;
  send = fetchFn;
  onRefused = refused;
  onWatched = watched;
  halted = false;
}

const sizeOf = (b: Batch): number => (b.body || b.json || '').length;

/** Compress (unless it comes from the outbox already) and keep it in the outbox. */
function track(b: Omit<Batch, 'ready'>): Batch {
  const batch = b as Batch;
  batch.ready = batch.body
    ? Promise.resolve()
    : packBatch(batch.json!).then((gz) => {
        const { id, sid, seq, at } = batch;
        const body = (batch.body = gz || batch.json!);
        // At exit the batch went by beacon or into the spill; stored now, it would evict the page.
        if (leaving) return;
        void storeBatch({ id, sid, seq, page: batch.page, at, body }).then((stored) => {
          if (stored) batch.json = undefined;
          batch.stored = stored;
          if (batch.done) deleteBatch(id);
        });
      });
  return batch;
}

/** Out of the queue, and out of the outbox unless `keepStored` (see uploadOnExit). */
function finish(b: Batch, keepStored = false): void {
  b.done = true;
  queue = queue.filter((other) => other !== b);
  if (!keepStored) deleteBatch(b.id);
}

/** The oldest batches go when the queue is over its size or age bound (a long offline spell). */
function bound(now: number): void {
  let total = queue.reduce((sum, b) => sum + sizeOf(b), 0);
  let dropped = 0;
  for (const b of queue.slice(busy ? 1 : 0)) {
    if (total <= config.maxQueueBytes && now - b.at <= config.maxQueueAgeMs) break;
    total -= sizeOf(b);
    finish(b);
    dropped++;
  }
  if (dropped) warn(dropped + ' unsent batch(es) dropped: upload queue over its size or age limit');
}

/** Forget every unsent batch. */
export function clearUploads(): void {
  for (const b of queue) b.done = true;
  queue = [];
  clearBatches();
  drop(SITE, SPILL_KEY);
  clearTimeout(timer);
  timer = 0;
}

function backoff(retryAfter: string | null): number {
  const ceiling = Math.min(config.retryMaxMs, config.retryBaseMs * 2 ** attempt++);
  const told = retryAfter ? (/^\d+$/.test(retryAfter) ? +retryAfter * 1000 : Date.parse(retryAfter) - Date.now()) : 0;
  return Math.max(ceiling / 2 + (Math.random() * ceiling) / 2, Math.min(told || 0, MAX_RETRY_AFTER_MS));
}

/** Send one batch: a retry delay (network error, 408, 429, 5xx), or nothing when it is done
 * with: stored, refused for good (400, 413, other 4xx), or the recording stopped (401, 403,
 * 410). */
async function post(b: Batch): Promise<number | void> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-ReplayDesk-Key': config.key };
  if (typeof b.body !== 'string') headers['Content-Encoding'] = 'gzip';
  let response: Response;
  try {
    inflight = new AbortController();
    // The service puts the batch's times on its own clock by this reading of ours.
    response = await send(config.ingestUrl + '?sent_at=' + Date.now(), {
      method: 'POST',
      credentials: 'omit',
      headers,
      body: b.body as BodyInit,
      signal: inflight.signal,
    });
  } catch {
    return backoff(null); // offline, DNS, connection reset
  }
  const status = response.status;
  if (status > 199 && status < 300) {
    // The answer says whether a support agent watches this session live right now.
    response.json().then(
      (answer: { live?: boolean }) => onWatched(answer?.live === true),
      () => undefined,
    );
  } else if (status === 401 || status === 403 || status === 410) {
    halted = true;
    clearUploads();
    onRefused(status);
  } else if (status === 408 || status === 429 || status > 499) {
    return backoff(response.headers.get('Retry-After'));
  } else if (status > 299) {
    // Final for this batch: 400 (the service cannot read it), 413 (too large) or another
    // refusal gets the same answer every time, and the batches behind it must not wait.
    // Returning nothing lets pump() drop it from the queue and the outbox and go on.
    const why = status === 413 ? 'too large' : status === 400 ? 'invalid' : 'refused';
    warn(`batch ${b.seq} of session ${b.sid} dropped: HTTP ${status} (${why})`);
  }
}

async function pump(): Promise<void> {
  if (busy || timer || halted) return;
  busy = true;
  try {
    while (queue[0] && !halted && !leaving) {
      const b = queue[0];
      await b.ready;
      if (leaving) break;
      if (b.done) continue;
      const delay = await post(b);
      if (halted) break;
      if (delay) {
        timer = setTimeout(() => {
          timer = 0;
          void pump();
        }, delay) as unknown as number;
        break;
      }
      attempt = 0;
      finish(b);
    }
  } finally {
    busy = false;
  }
}

/** Queue a new batch. At exit it is only queued, as JSON or as the gzip made ahead of it: the
 * exit path sends or spills it, and nothing may still be running when the page is frozen in
 * the back-forward cache. */
export function upload(sid: string, seq: number, json: string, atExit?: boolean, gzipped?: Uint8Array): void {
  const at = Date.now();
  const batch = { id: sid + ':' + seq, sid, seq, page, at, json };
  queue.push(atExit ? { ...batch, body: gzipped || json, ready: Promise.resolve() } : track(batch));
  bound(at);
  if (!atExit) void pump();
}

/** Take over what earlier page loads left unsent: the outbox, and the exit spill. */
export async function adoptOrphans(now: number): Promise<void> {
  leaving = false; // a new page load, or this one back from the back-forward cache
  const spilled = load<Spilled[]>(SITE, SPILL_KEY) || [];
  drop(SITE, SPILL_KEY);
  const stored = await storedBatches();
  const seen = new Set(queue.map((b) => b.id));
  const orphans: Batch[] = [];
  // Read after the outbox: a page that beacons meanwhile has written its list by then.
  const beaconed = load<Record<string, number>>(SITE, BEACONED_KEY) || {};
  for (const item of [...stored, ...spilled]) {
    // A batch of another page that is still open is that page's to send.
    if (seen.has(item.id) || (item.page !== page && claimant(item.sid, now) === item.page)) continue;
    seen.add(item.id);
    if (now - item.at > config.maxQueueAgeMs || item.id in beaconed) deleteBatch(item.id);
    else orphans.push(track({ ...item, stored: 'body' in item }));
  }
  forgetBeaconed(now);
  if (halted) return;
  orphans.sort((a, b) => a.at - b.at || a.seq - b.seq);
  queue.splice(busy ? 1 : 0, 0, ...orphans);
  bound(now);
  void pump();
}

/** The list of beaconed batches keeps only what an outbox may still hold. */
function forgetBeaconed(now: number): void {
  const beaconed = load<Record<string, number>>(SITE, BEACONED_KEY) || {};
  for (const [id, at] of Object.entries(beaconed)) if (now - at > config.maxQueueAgeMs) delete beaconed[id];
  if (Object.keys(beaconed).length) save(SITE, BEACONED_KEY, beaconed);
  else drop(SITE, BEACONED_KEY);
}

/** Send now if a retry is waiting: the browser is back online. */
export function wakeUploads(): void {
  if (timer) {
    clearTimeout(timer);
    timer = 0;
    void pump();
  }
}

/** The page is going away: beacon what fits, and spill what is not stored yet into
 * localStorage (synchronous, unlike IndexedDB) for the next page load to send. */
export function uploadOnExit(): void {
  leaving = true;
  if (halted) return;
  // An answer arriving while the page sits frozen in the back-forward cache would evict it;
  // the batch goes out by beacon below, and stays queued (and stored) for a later retry.
  inflight?.abort();
  // A beacon gets no answer, so nothing of this page runs for it later: a page frozen in the
  // back-forward cache that had to handle a response would be evicted from it.
  const url = config.ingestUrl + '?key=' + encodeURIComponent(config.key) + '&sent_at=' + Date.now();
  let budget = navigator.onLine === false ? 0 : EXIT_BUDGET;
  const unsaved: Spilled[] = [];
  const beaconed: Record<string, number> = {};
  const now = Date.now();
  for (const b of queue.slice()) {
    const raw = b.body || b.json!;
    const body = typeof raw === 'string' ? new TextEncoder().encode(raw) : raw;
    // text/plain: a CORS "simple" request, without preflight. The service recognises gzip by
    // its magic bytes.
    if (body.length <= budget && beacon?.(url, new Blob([body as BlobPart], { type: 'text/plain' }))) {
      budget -= body.length;
      // A queued beacon is as good as sent (the browser delivers it after the page is gone):
      // no later page sends it again. Its stored copy is deleted by the next page load (or by
      // this one, back from the back-forward cache), which reads the list of beaconed batches:
      // deleting it now would answer after the page is frozen there, and evict it.
      beaconed[b.id] = now;
      finish(b, true);
    } else if (!b.stored && b.json) {
      unsaved.push({ id: b.id, sid: b.sid, seq: b.seq, page: b.page, at: b.at, json: b.json });
    }
  }
  if (Object.keys(beaconed).length) {
    save(SITE, BEACONED_KEY, { ...load<Record<string, number>>(SITE, BEACONED_KEY), ...beaconed });
  }
  if (unsaved.length) {
    const all = [...(load<Spilled[]>(SITE, SPILL_KEY) || []), ...unsaved];
    let chars = all.reduce((sum, b) => sum + b.json.length, 0);
    while (chars > SPILL_MAX_CHARS) chars -= all.shift()!.json.length;
    save(SITE, SPILL_KEY, all);
  }
}
