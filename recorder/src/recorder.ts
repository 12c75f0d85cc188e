/** One recording: rrweb with its plugins, batching, the tab's session, and the page lifecycle.
 * One recorder runs per page. */

import { record } from '@rrweb/record';
import { getRecordConsolePlugin, type LogData } from '@rrweb/rrweb-plugin-console-record';
import type { eventWithTime, RecordPlugin } from '@rrweb/types';
import { consoleStackLevels, plugins as pluginNames, tags } from '../../wire/vocabulary.json';
import type { ConsolePayload, IdentifyPayload } from '../../wire/payloads';
import { clickLabel } from './clicks';
import { packBatch, stopCompressionWorker } from './compress';
import type { Config } from './options';
import { adoptOrphans, clearUploads, startUploads, upload, uploadOnExit, wakeUploads, type Refusal } from './outgoing';
import { askLiveConsent, hideLiveNotice, showLiveNotice, withdrawLiveConsentQuestion } from './live_notice';
import { isOwnFrame, OWN_SCRIPT } from './own_script';
import { pagePayload } from './page';
import { navigationPlugin } from './plugins/navigation';
import { startedEarly } from './plugins/early';
import { networkPlugin } from './plugins/network';
import { MASK_ALL_INPUTS, maskInput, privacySelectors, type Selectors } from './privacy';
import { scrubText, scrubUrl } from './scrub';
import {
  endSession,
  nextSeq,
  openSession,
  persistSession,
  releaseSession,
  reloadSession,
  rotateSession,
  sessionEnded,
  sessionExpired,
  sessionId,
  sessionSampled,
  sessionStarted,
  sessionUser,
  sentStylesheets,
  setSessionUser,
  touchSession,
  upcomingSeq,
} from './session';
import { load, randomId, save, SITE } from './storage';
import { sendStylesheetsOnce } from './stylesheets';

// rrweb's EventType values: importing the enum would bundle a module for three numbers.
const FULL_SNAPSHOT = 2;
const META = 4;
const PLUGIN = 6;
/** The first batch of a page view, with its full snapshot, goes out this soon. */
const SNAPSHOT_SEAL_MS = 1000;
/** The longest wait for the first frame before rrweb starts anyway (hidden pages get none). */
const FIRST_FRAME_WAIT_MS = 200;
// While a support agent watches live: a batch every second instead of every flushIntervalMs.
const LIVE_FLUSH_MS = 1000;
/** User interactions: they keep a session alive, and open a new one after an idle timeout. */
const ACTIVITY = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'scroll'];
const LISTENING = { capture: true, passive: true };

let config: Config;
let selectors: Selectors;
let recording = false;
/** Between pagehide and a pageshow from the back-forward cache: nothing is claimed or sealed. */
let leaving = false;
let started = false;
/** Events recorded since the last batch, as JSON. */
let parts: string[] = [];
let bytes = 0;
/** Events not turned into JSON yet: that happens in a task of its own, after the one that
 * recorded them, so it does not lengthen the page's own (perhaps already long) task. */
let fresh: eventWithTime[] = [];
let stringifyTimer = 0;
/** The batch as it would be sealed now, with its gzip, made ahead so that the batch sealed as
 * the page is left (when nothing asynchronous can finish) leaves compressed too. */
let ahead: [string, Uint8Array] | undefined;
/** 1: compressing ahead; 2: and asked again meanwhile. */
let aheadState = 0;
let sealTimer = 0;
let ticker = 0;
let watchedLive = false;
let stopRrweb: (() => void) | undefined;
/** Counts recordings started and stopped: a start of rrweb meant for an earlier one is dropped. */
let runs = 0;
let pending: [string, unknown][] = [];
let listeners: [EventTarget, string, (event: never) => void][] = [];
let earlyStops: (() => void)[] = [];

const linkOf = (id: number): HTMLLinkElement | null => {
  const node = record.mirror.getNode(id);
  return node instanceof HTMLLinkElement ? node : null;
};

function stringify(): void {
  clearTimeout(stringifyTimer);
  stringifyTimer = 0;
  for (const event of fresh) {
    if (event.type === FULL_SNAPSHOT) sendStylesheetsOnce(event.data.node, sentStylesheets(), linkOf);
    const json = JSON.stringify(event);
    parts.push(json);
    bytes += json.length;
  }
  fresh = [];
}

function batchJson(sid: string, seq: number, final?: boolean): string {
  const user = sessionUser() ? ',"user_id":' + JSON.stringify(sessionUser()) : '';
  // A recorder that asks before a live view says the customer's answer with every batch.
  const consent = config.liveNotice === 'ask' ? `,"live_consent":"${liveConsent(sid)}"` : '';
  return `{"session_id":"${sid}","seq":${seq}${user},"events":[${parts.join()}]${final ? ',"final":true' : ''}${consent}}`;
}

/** Cut what was recorded since the last batch into a numbered batch and queue it. */
function seal(final?: boolean, atExit?: boolean): void {
  clearTimeout(sealTimer);
  sealTimer = 0;
  stringify();
  // A final batch for a session that never sent one would only create an empty session.
  if (!parts.length && !(final && sessionStarted())) return;
  const sid = sessionId();
  const seq = nextSeq();
  const json = batchJson(sid, seq, final);
  upload(sid, seq, json, atExit, atExit && ahead?.[0] === json ? ahead[1] : undefined);
  parts = [];
  bytes = 0;
  ahead = undefined;
}

function compressAhead(): void {
  if (aheadState) {
    aheadState = 2;
    return;
  }
  aheadState = 1;
  const json = batchJson(sessionId(), upcomingSeq());
  void packBatch(json).then((body) => {
    if (body && parts.length) ahead = [json, body];
    const again = aheadState > 1;
    aheadState = 0;
    if (again && !leaving) compressAhead();
  });
}

function addCustom(tag: string, payload: unknown): void {
  if (!started) pending.push([tag, payload]);
  else {
    try {
      record.addCustomEvent(tag, payload);
    } catch {
      // rrweb stopped meanwhile.
    }
  }
}

/** Console text and page URLs lose e-mails, card numbers and tokens before they are kept. */
function scrub(event: eventWithTime): void {
  if (event.type === META) {
    event.data.href = scrubUrl(event.data.href);
  } else if (event.type === PLUGIN && event.data.plugin === pluginNames.console) {
    // rrweb's type for the payload must fit the vocabulary's (wire/vocabulary.json).
    const log: ConsolePayload = event.data.payload as LogData;
    log.payload = log.payload.map((arg) => scrubText(withoutOwnFrames(withoutErrorArtifact(arg))));
    log.trace = STACK_LEVELS.has(log.level) ? log.trace.filter((frame) => !isOwnFrame(frame)).map(scrubText) : [];
  }
}

const STACK_LEVELS: ReadonlySet<string> = new Set(consoleStackLevels);
// rrweb's console plugin ends a logged Error's JSON-encoded stack with this line of its own.
const ERROR_ARTIFACT = '\\nEnd of stack for Error object"';

function withoutErrorArtifact(arg: string): string {
  return arg.endsWith(ERROR_ARTIFACT) ? `${arg.slice(0, -ERROR_ARTIFACT.length)}"` : arg;
}

/** A JSON-encoded error text without the lines of this script's frames. */
function withoutOwnFrames(arg: string): string {
  if (OWN_SCRIPT === '' || !arg.startsWith('"') || !arg.includes(OWN_SCRIPT)) return arg;
  try {
    const text = JSON.parse(arg) as string;
    return JSON.stringify(
      text
        .split('\n')
        .filter((line) => !isOwnFrame(line))
        .join('\n'),
    );
  } catch {
    return arg; // cut short by the console plugin's length limit: not JSON any more
  }
}

function onEvent(event: eventWithTime): void {
  // Between an idle timeout and the next interaction there is no session to keep events in.
  if (!recording || sessionEnded()) return;
  scrub(event);
  fresh.push(event);
  stringifyTimer ||= setTimeout(() => {
    stringify();
    if (bytes >= config.maxBatchBytes) seal();
    else if (!leaving) compressAhead();
  }) as unknown as number;
  if (event.type === FULL_SNAPSHOT) {
    if (!started) queueMicrotask(afterStart);
    sealTimer ||= setTimeout(seal, Math.min(SNAPSHOT_SEAL_MS, config.flushIntervalMs)) as unknown as number;
  }
}

function afterStart(): void {
  // Registered after rrweb's own click listener, so each label follows its click.
  started = true;
  listen(document, 'click', onClick);
  addCustom(tags.page, pagePayload(config.release, config.environment));
  for (const [tag, payload] of pending.splice(0)) addCustom(tag, payload);
}

function onClick(event: MouseEvent): void {
  const label = clickLabel(event.composedPath()[0] || event.target, selectors);
  if (label) addCustom(tags.click, label);
}

/** An interaction after the idle timeout opens a new session, which starts with a snapshot. */
function restart(now: number): void {
  if (!sessionEnded()) seal(true);
  rotateSession(now);
  if (sessionSampled()) record.takeFullSnapshot(true);
  else stopRecording();
}

function onActivity(): void {
  const now = Date.now();
  if (sessionExpired(now)) restart(now);
  touchSession(now);
}

/** A support agent started or stopped watching live: batches every second meanwhile (never
 * anything that would not be sent anyway), and the customer is told unless the site said not to,
 * or asked first (`liveNotice: 'ask'`: nothing is shown to the agent until they allow it). */
function onWatched(watched: boolean): void {
  if (watched === watchedLive || !recording) return;
  watchedLive = watched;
  if (!watched) {
    setFlushInterval(config.flushIntervalMs);
    hideLiveNotice();
    withdrawLiveConsentQuestion();
    return;
  }
  if (config.liveNotice === 'off') return setFlushInterval(LIVE_FLUSH_MS);
  if (config.liveNotice === 'notify') {
    setFlushInterval(LIVE_FLUSH_MS);
    return showLiveNotice();
  }
  const sid = sessionId();
  const consent = liveConsent(sid);
  if (consent === 'granted') {
    setFlushInterval(LIVE_FLUSH_MS);
    showLiveNotice();
  } else if (consent === 'asked') {
    askLiveConsent((granted) => {
      save(SITE, CONSENT_KEY, { sid, answer: granted ? 'granted' : 'declined' });
      if (!granted || !watchedLive) return;
      setFlushInterval(LIVE_FLUSH_MS);
      showLiveNotice();
    });
  }
}

// The customer's answer, for the session it was given in (every tab of it; one key per site).
const CONSENT_KEY = 'replaydesk:live-consent';

/** What the customer answered to live viewing in this session (`asked` until they answer). */
function liveConsent(sid: string): 'asked' | 'granted' | 'declined' {
  const saved = load<{ sid: string; answer: string }>(SITE, CONSENT_KEY);
  const answer = saved?.sid === sid ? saved.answer : null;
  return answer === 'granted' || answer === 'declined' ? answer : 'asked';
}

function setFlushInterval(ms: number): void {
  clearInterval(ticker);
  ticker = setInterval(tick, ms) as unknown as number;
}

function tick(): void {
  const now = Date.now();
  if (leaving || sessionEnded()) return;
  if (sessionExpired(now)) {
    seal(true);
    endSession();
  } else {
    seal();
    persistSession(now);
  }
}

function onPageHide(): void {
  leaving = true;
  seal(false, true);
  stopCompressionWorker();
  uploadOnExit();
  persistSession(Date.now());
  releaseSession();
}

function onPageShow(event: PageTransitionEvent): void {
  if (!event.persisted) return;
  // Back from the back-forward cache: another page of this tab may have moved the session on.
  leaving = false;
  const now = Date.now();
  reloadSession(now);
  if (sessionExpired(now)) restart(now);
  else record.takeFullSnapshot(true);
  touchSession(now);
  void adoptOrphans(now);
}

function onVisibility(): void {
  // Hidden (another tab, minimised, or about to be discarded on mobile): send what there is.
  if (document.visibilityState === 'hidden' && !leaving) {
    seal();
    persistSession(Date.now());
  }
}

function listen<E extends Event>(target: EventTarget, type: string, fn: (event: E) => void): void {
  target.addEventListener(type, fn as EventListener, LISTENING);
  listeners.push([target, type, fn]);
}

/** Start recording this page view; false when the tab's session is not sampled. */
export function startRecording(cfg: Config, nativeFetch: typeof fetch, onRefused: (status: Refusal) => void): boolean {
  const page = randomId();
  const now = Date.now();
  config = cfg;
  openSession(page, cfg.idleTimeoutMs, cfg.sampleRate, cfg.userId, now);
  if (!sessionSampled()) {
    releaseSession();
    return false;
  }
  selectors = privacySelectors(cfg);
  recording = true;
  leaving = false;
  started = false;
  parts = [];
  fresh = [];
  bytes = 0;
  pending = [];
  startUploads(
    cfg,
    page,
    nativeFetch,
    (status) => {
      stopRecording();
      onRefused(status);
    },
    onWatched,
  );
  for (const type of ACTIVITY) listen(window, type, onActivity);
  listen(window, 'pagehide', onPageHide);
  listen(window, 'pageshow', onPageShow);
  listen(window, 'online', wakeUploads);
  listen(document, 'visibilitychange', onVisibility);
  ticker = setInterval(tick, cfg.flushIntervalMs) as unknown as number;

  const plugins = [navigationPlugin()] as RecordPlugin[];
  if (cfg.console) {
    const consolePlugin = getRecordConsolePlugin({
      level: cfg.console.levels,
      lengthThreshold: cfg.console.maxEntries,
      stringifyOptions: { stringLengthLimit: cfg.console.maxArgLength, numOfKeysLimit: 50, depthOfLimit: 4 },
    });
    plugins.push(startedEarly(consolePlugin, earlyStops));
  }
  if (cfg.network) {
    const network = networkPlugin({ ...cfg.network, ignore: (url) => url.startsWith(cfg.ingestUrl) });
    plugins.push(startedEarly(network, earlyStops) as RecordPlugin);
  }
  const run = ++runs;
  afterFirstFrame(() => run === runs && startRrweb(plugins));
  void adoptOrphans(now);
  return true;
}

/** Runs `start` once the page has shown its first frame after DOMContentLoaded, in a task of its
 * own: the page's layout is done by then, so the full snapshot does not force one, and it does
 * not lengthen the page's own DOMContentLoaded work. Hidden pages get no frames: a timer starts
 * it there. */
function afterFirstFrame(start: () => void): void {
  let waiting = true;
  const once = (): void => {
    if (waiting) setTimeout(start);
    waiting = false;
  };
  const wait = (): void => {
    requestAnimationFrame(once);
    setTimeout(once, FIRST_FRAME_WAIT_MS);
  };
  if (document.readyState === 'loading') listen(document, 'DOMContentLoaded', wait);
  else wait();
}

function startRrweb(plugins: RecordPlugin[]): void {
  stopRrweb = record<eventWithTime>({
    emit: onEvent,
    plugins,
    blockSelector: selectors.block,
    maskTextSelector: selectors.mask,
    maskInputOptions: MASK_ALL_INPUTS,
    maskInputFn: maskInput,
    slimDOMOptions: 'all',
    // Payload per minute: mouse positions every 100 ms are enough to follow the pointer;
    // presses and releases add nothing to the clicks for a replay or for click signals, and
    // focus and blur change nothing in the viewer, which replays without moving focus.
    sampling: {
      mousemove: 100,
      mouseInteraction: { MouseDown: false, MouseUp: false, Focus: false, Blur: false },
      scroll: 150,
      media: 800,
      input: 'last',
    },
    // A recorder failure must never become the page's failure.
    errorHandler: () => true,
  });
}

export const recordingSessionId = (): string | null => (recording ? sessionId() : null);

export function identifyUser(userId: string, traits?: Record<string, unknown>): void {
  setSessionUser(userId);
  addCustom(tags.identify, (traits ? { userId, traits } : { userId }) satisfies IdentifyPayload);
}

/** Stop rrweb and every listener; batches already queued still go out. */
export function stopRecording(final?: boolean): void {
  if (!recording) return;
  if (final && !sessionEnded()) seal(true);
  recording = false;
  runs++; // rrweb not started yet never starts
  stopRrweb?.();
  stopRrweb = undefined;
  // Plugins that rrweb never started (it was stopped before its start) stop here.
  for (const stop of earlyStops.splice(0)) stop();
  clearInterval(ticker);
  watchedLive = false;
  hideLiveNotice();
  withdrawLiveConsentQuestion();
  clearTimeout(sealTimer);
  clearTimeout(stringifyTimer);
  for (const [target, type, fn] of listeners.splice(0)) target.removeEventListener(type, fn as EventListener, LISTENING);
  releaseSession();
}

/** Stop at once and throw away everything not yet sent. */
export function discardRecording(): void {
  parts = [];
  fresh = [];
  stopRecording();
  clearUploads();
}
