/** The tab's session: one per tab across page loads (sessionStorage), ended by an idle timeout.
 *
 * A duplicated tab inherits a copy of sessionStorage; the live-page claim in localStorage
 * makes the copy start a session of its own, so two pages never number batches of one session
 * independently. One recorder runs per page, so this module holds the page's one session. */

import { drop, keysOf, load, randomId, save, SITE, TAB } from './storage';

const STATE_KEY = 'replaydesk:session';
const CLAIM_PREFIX = 'replaydesk:tab:';
/** A claim not refreshed for this long belongs to a page that died without `pagehide`. */
const CLAIM_STALE_MS = 5 * 60 * 1000;

interface SessionState {
  /** Session id. */
  id: string;
  /** The next batch number. */
  seq: number;
  /** Last user interaction, ms since the epoch. */
  active: number;
  /** Whether this session is recorded at all (sampling). */
  sampled: boolean;
  /** User id from init() or identify(). */
  user?: string | undefined;
  /** Set once an idle timeout ended the session; the next interaction starts a new one. */
  ended?: boolean;
  /** Each stylesheet URL's text as sent in this session (stylesheets.ts). */
  css?: Record<string, string | 0>;
}

interface Claim {
  page: string;
  at: number;
}

let state: SessionState;
let page = '';
let idleTimeoutMs = 0;
let sampleRate = 1;

/** The page that holds a session right now, if a live page does. */
export function claimant(sessionId: string, now: number): string | null {
  const claim = load<Claim>(SITE, CLAIM_PREFIX + sessionId);
  return claim && now - claim.at < CLAIM_STALE_MS ? claim.page : null;
}

const fresh = (now: number, user: string | undefined): SessionState => ({
  id: randomId(),
  seq: 0,
  active: now,
  sampled: Math.random() < sampleRate,
  user,
});

const persistState = (): void => save(TAB, STATE_KEY, state);
const stored = (): SessionState | null => load<SessionState>(TAB, STATE_KEY);
const claim = (now: number): void => save(SITE, CLAIM_PREFIX + state.id, { page, at: now } satisfies Claim);

/** Continue the tab's session, or start one; `userId` is the user init() was given. */
export function openSession(
  pageId: string,
  idleMs: number,
  rate: number,
  userId: string | undefined,
  now: number,
): void {
  page = pageId;
  idleTimeoutMs = idleMs;
  sampleRate = rate;
  const prior = stored();
  const usable =
    prior?.id &&
    !prior.ended &&
    now - prior.active < idleMs &&
    (claimant(prior.id, now) ?? page) === page &&
    // A different user signing in starts a new session.
    !(userId && prior.user && prior.user !== userId);
  state = usable ? prior : fresh(now, userId ?? prior?.user);
  if (userId) state.user = userId;
  state.active = now;
  // Claims of pages that died without pagehide would otherwise pile up.
  for (const key of keysOf(SITE)) {
    if (key.startsWith(CLAIM_PREFIX) && !claimant(key.slice(CLAIM_PREFIX.length), now)) drop(SITE, key);
  }
  persistState();
  claim(now);
}

export const sessionId = (): string => state.id;
export const sessionUser = (): string | undefined => state.user;
export const sessionSampled = (): boolean => state.sampled;
export const sessionEnded = (): boolean => !!state.ended;
/** Kept with the session's state when the next batch is numbered. */
export const sentStylesheets = (): Record<string, string | 0> => (state.css ||= {});

/** Whether an interaction at `now` belongs to a new session. */
export const sessionExpired = (now: number): boolean => !!state.ended || now - state.active >= idleTimeoutMs;

/** Note a user interaction. */
export const touchSession = (now: number): void => void (state.active = now);

/** How many batches the session has numbered, on this page and earlier ones of the tab. */
function numbered(): number {
  // Another page of this tab (back-forward cache) may have numbered batches meanwhile.
  const saved = stored();
  if (saved?.id === state.id && saved.seq > state.seq) state.seq = saved.seq;
  return state.seq;
}

/** Whether the session has sent anything yet. */
export const sessionStarted = (): boolean => numbered() > 0;

/** The number the next batch will likely get (another page of the tab may take it first). */
export const upcomingSeq = (): number => state.seq;

/** The next batch number of the session; never reused, across page loads too. */
export function nextSeq(): number {
  const seq = numbered();
  state.seq = seq + 1;
  persistState();
  return seq;
}

export function setSessionUser(userId: string): void {
  state.user = userId;
  persistState();
}

/** The idle timeout ended the session. */
export function endSession(): void {
  state.ended = true;
  persistState();
  releaseSession();
}

/** A new session for the same visitor. */
export function rotateSession(now: number): void {
  releaseSession();
  state = fresh(now, state.user);
  persistState();
  claim(now);
}

/** Re-read the tab's state: the page came back from the back-forward cache. */
export function reloadSession(now: number): void {
  state = stored() ?? state;
  claim(now);
}

/** Save the state and refresh this page's claim on the session. */
export function persistSession(now: number): void {
  persistState();
  if (!state.ended) claim(now);
}

/** Give up the claim: the page is going away. */
export function releaseSession(): void {
  if (claimant(state.id, Date.now()) === page) drop(SITE, CLAIM_PREFIX + state.id);
}
