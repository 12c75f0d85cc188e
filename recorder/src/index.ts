/** The public API, `window.ReplayDesk`: init, identify, getSessionId, stop, optOut, optIn. */

import { resolveConfig, type Config, type InitOptions } from './options';
import { isOptedOut, sendsGlobalPrivacyControl, setOptedOut } from './privacy';
import { discardRecording, identifyUser, recordingSessionId, startRecording, stopRecording } from './recorder';
import { load, save, TAB, warn } from './storage';

export type { ConsoleOptions, InitOptions, NetworkOptions } from './options';

/** Set for the tab once the service refused the ingest key, so reloads do not ask again. */
const REFUSED_KEY = 'replaydesk:refused';

// Read while the script runs: `document.currentScript` is null afterwards.
const scriptSrc = (document.currentScript as HTMLScriptElement | null)?.src;
// The page's fetch before network capture wraps it: uploads are not the page's requests.
const nativeFetch = window.fetch?.bind(window);

let active = false;
let identity: [string, Record<string, unknown> | undefined] | undefined;

/** Start recording this page view (continuing the tab's session). */
export function init(options: InitOptions): void {
  if (active) return warn('init() was called twice; the second call is ignored');
  let config: Config;
  try {
    config = resolveConfig(options, scriptSrc ? new URL(scriptSrc).origin : null);
  } catch (error) {
    return warn(String(error));
  }
  if (
    isOptedOut() ||
    !nativeFetch ||
    (config.respectGlobalPrivacyControl && sendsGlobalPrivacyControl()) ||
    load(TAB, REFUSED_KEY) === config.key
  ) {
    return;
  }
  try {
    active = startRecording(config, nativeFetch, (status) => {
      active = false;
      if (status !== 410) save(TAB, REFUSED_KEY, config.key);
      warn(status === 410 ? 'this user was erased; recording stopped' : `ingest refused (HTTP ${status}); recording stopped`);
    });
  } catch (error) {
    return warn('could not start: ' + String(error));
  }
  if (active && identity) identifyUser(...identity);
  identity = undefined;
}

/** Name the user of this session (at any time, also before init). */
export function identify(userId: string, traits?: Record<string, unknown>): void {
  if (!userId) return;
  if (active) identifyUser(String(userId), traits);
  else identity = [String(userId), traits];
}

/** The current session's id, or null when nothing is being recorded. */
export const getSessionId = (): string | null => (active ? recordingSessionId() : null);

/** End the session and stop recording (until the next init). */
export function stop(): void {
  if (active) stopRecording(true);
  active = false;
}

/** Stop and never record this browser on this site again (until optIn); unsent data is dropped. */
export function optOut(): void {
  setOptedOut(true);
  if (active) discardRecording();
  active = false;
}

/** Undo optOut(); recording starts with the next init(). */
export const optIn = (): void => setOptedOut(false);

export const version = '0.1.0';

const api = { init, identify, getSessionId, stop, optOut, optIn, version };

declare global {
  interface Window {
    ReplayDesk?: typeof api;
  }
}

// A second copy of the script on the page leaves the first one in charge.
window.ReplayDesk ||= api;
