// Generated from wire/vocabulary.json by wire/generate-types.mjs: edit the vocabulary, then
// run `node wire/generate-types.mjs`.

/** rrweb's console plugin: a console call, an uncaught error or an unhandled rejection. */
export interface ConsolePayload {
  /** The console method; uncaught errors and rejections are `error`. */
  level: "assert" | "clear" | "count" | "countReset" | "debug" | "dir" | "dirxml" | "error" | "group" | "groupCollapsed" | "groupEnd" | "info" | "log" | "table" | "time" | "timeEnd" | "timeLog" | "trace" | "warn";
  /** The call's arguments, each JSON-encoded (a string arrives quoted). */
  payload: Array<string>;
  /** Stack frames, innermost first, each `function (file:line:column)` or `file:line:column`; empty unless `level` is in `consoleStackLevels`. */
  trace: Array<string>;
}

/** A fetch, XMLHttpRequest or sendBeacon call, sent as it settles. */
export interface NetworkPayload {
  kind: "fetch" | "xhr" | "beacon";
  /** Upper case. */
  method: string;
  /** Absolute, with secrets scrubbed. */
  url: string;
  /** 0: no answer (offline, CORS, aborted), and always for a beacon. */
  status: number;
  /** Milliseconds from the call to the answer (or the failure). */
  duration: number;
  /** Where known without reading the body. */
  requestSize?: number | undefined;
  responseSize?: number | undefined;
  /** Why the request failed, where it did. */
  error?: string | undefined;
  /** Allow-listed headers, lower-case names; never credentials. */
  requestHeaders?: Record<string, string> | undefined;
  responseHeaders?: Record<string, string> | undefined;
  /** Only for allow-listed URLs, cut and scrubbed. */
  requestBody?: string | undefined;
  responseBody?: string | undefined;
  /** Where the page's code made the call: its first stack frame outside the recorder, `function (file:line:column)`, scrubbed like console traces; absent when the browser gives no stack. */
  initiator?: string | undefined;
}

/** An in-page route change (history API, back/forward, hash); page loads are Meta events. */
export interface NavigationPayload {
  /** The new address, with secrets scrubbed. */
  url: string;
  kind: "push" | "replace" | "pop" | "hash";
}

/** ReplayDesk.identify(): the user of this session from now on. */
export interface IdentifyPayload {
  userId: string;
  /** As the page gave them. */
  traits?: Record<string, unknown> | undefined;
}

/** What the click just before it hit, in words a person reads. */
export interface ClickLabelPayload {
  /** The element's words (masked where its text is); absent when it has none. */
  label?: string | undefined;
  /** Like `button#pay` or `input[name="email"]`. */
  selector: string;
  /** The element's tag name, lower case. */
  tag: string;
}

/** Where the session is watched from, sent once a page load's recording starts (and again when a new session starts in the same page). */
export interface PagePayload {
  /** The page's address, with secrets scrubbed. */
  url: string;
  /** How the page was loaded (the Navigation Timing type); absent for a session started again in a page already recording. */
  navigation?: "navigate" | "reload" | "back_forward" | "prerender" | undefined;
  /** `navigator.userAgent`. */
  userAgent: string;
  /** `navigator.language`, like `en-NZ`. */
  language: string;
  /** The IANA time zone, like `Pacific/Auckland`. */
  timeZone: string;
  /** The window's inner size in CSS pixels. */
  viewport: {
  width: number;
  height: number;
};
  /** The screen's size in CSS pixels. */
  screen: {
  width: number;
  height: number;
};
  /** `devicePixelRatio`. */
  pixelRatio: number;
  /** The site's release, from `init({ release })`. */
  release?: string | undefined;
  /** Like `production` or `staging`, from `init({ environment })`. */
  environment?: string | undefined;
}
