/** The options of `ReplayDesk.init()` and their defaults. */

import type { LogLevel } from '@rrweb/rrweb-plugin-console-record';

export type UrlPattern = string | RegExp;

export interface ConsoleOptions {
  /** Console methods recorded (uncaught errors and rejections come with `error`). */
  levels?: LogLevel[];
  /** Each argument is cut to this many characters. Default 1000. */
  maxArgLength?: number;
  /** At most this many console entries per page view. Default 500. */
  maxEntries?: number;
}

export interface NetworkOptions {
  /** Request headers recorded. Authorization, Cookie and the like never are. Default none. */
  requestHeaders?: string[];
  /** Response headers recorded. Set-Cookie never is. Default none. */
  responseHeaders?: string[];
  /** Request and response bodies are recorded only for URLs matching one of these (a string
   * is a prefix of the absolute URL, or of the path on this site). Default none: no bodies. */
  bodyUrls?: UrlPattern[];
  /** Recorded bodies are cut to this many characters. Default 10000. */
  maxBodyLength?: number;
}

export interface InitOptions {
  /** The project's public ingest key. */
  key: string;
  /** Base URL of the ReplayDesk service. Default: where recorder.js was loaded from. */
  endpoint?: string;
  /** Who is using the site; sessions are found again by this ID. */
  userId?: string;
  /** The site's release (a version or commit), shown with the session and its errors. */
  release?: string;
  /** Where the site runs, like `production` or `staging`. */
  environment?: string;
  /** Share of sessions recorded, 0 to 1. Default 1. */
  sampleRate?: number;
  /** Record nothing for visitors whose browser sends Global Privacy Control. Default false. */
  respectGlobalPrivacyControl?: boolean;
  /** Replace every text on the page with asterisks. Default false. */
  maskAllText?: boolean;
  /** Leave images, video, audio, canvas and embedded frames out. Default false. */
  blockMedia?: boolean;
  /** Elements matching this are recorded as empty boxes (as are `.rd-block`, `[data-rd-block]`
   * and password fields). */
  blockSelector?: string;
  /** Text inside elements matching this is masked (as in `.rd-mask`, `[data-rd-mask]` and
   * editable elements). */
  maskTextSelector?: string;
  /** Console capture; `false` turns it off. */
  console?: false | ConsoleOptions;
  /** Network capture; `false` turns it off. */
  network?: false | NetworkOptions;
  /** A batch is sent at least this often while something happens. Default 5000 ms. */
  flushIntervalMs?: number;
  /** While a support agent watches live, the customer is told so (`notify`, the default), asked
   * first (`ask`: nothing reaches the agent until they allow it), or nothing is shown (`off`);
   * the service asks for batches every second meanwhile. */
  liveNotice?: 'notify' | 'ask' | 'off';
  /** A batch is sent early once its events reach this many characters of JSON. Default 32 KiB:
   * what is not yet compressed when the page is left goes out by beacon as it is, and a
   * beacon carries at most 64 KiB. */
  maxBatchBytes?: number;
  /** A tab idle this long starts a new session at its next interaction. Default 30 min. */
  idleTimeoutMs?: number;
  /** First retry delay after a failed upload; it doubles up to `retryMaxMs`. Default 1000 ms. */
  retryBaseMs?: number;
  /** Longest retry delay. Default 60000 ms. */
  retryMaxMs?: number;
  /** Unsent batches kept (in memory and IndexedDB) up to this many bytes. Default 5 MiB. */
  maxQueueBytes?: number;
  /** Unsent batches older than this are dropped. Default 24 h. */
  maxQueueAgeMs?: number;
}

type Defaulted = Required<
  Omit<InitOptions, 'userId' | 'endpoint' | 'blockSelector' | 'maskTextSelector' | 'release' | 'environment'>
>;

export interface Config extends Defaulted {
  endpoint: string;
  ingestUrl: string;
  userId?: string;
  release?: string;
  environment?: string;
  blockSelector?: string;
  maskTextSelector?: string;
  console: Required<ConsoleOptions> | false;
  network: Required<NetworkOptions> | false;
}

const DEFAULTS = {
  sampleRate: 1,
  respectGlobalPrivacyControl: false,
  maskAllText: false,
  blockMedia: false,
  flushIntervalMs: 5000,
  liveNotice: 'notify' as const,
  maxBatchBytes: 32 * 1024,
  idleTimeoutMs: 30 * 60 * 1000,
  retryBaseMs: 1000,
  retryMaxMs: 60000,
  maxQueueBytes: 5 * 1024 * 1024,
  maxQueueAgeMs: 24 * 3600 * 1000,
};

/** The options filled in with defaults; throws with a message a site owner can act on. */
export function resolveConfig(options: InitOptions, scriptOrigin: string | null): Config {
  const endpoint = (options?.endpoint || scriptOrigin || '').replace(/\/+$/, '');
  if (!options?.key || !/^https?:\/\//.test(endpoint)) {
    throw new Error('init() needs { key: "<ingest key>", endpoint: "https://<ReplayDesk host>" }');
  }
  return {
    ...DEFAULTS,
    ...options,
    endpoint,
    ingestUrl: endpoint + '/api/v1/ingest',
    console: options.console !== false && {
      levels: ['log', 'info', 'warn', 'error', 'assert', 'trace'],
      maxArgLength: 1000,
      maxEntries: 500,
      ...options.console,
    },
    network: options.network !== false && {
      requestHeaders: [],
      responseHeaders: [],
      bodyUrls: [],
      maxBodyLength: 10000,
      ...options.network,
    },
  };
}
