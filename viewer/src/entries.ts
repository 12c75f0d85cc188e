// What the console and network panels and the timeline show, derived from the event stream as it
// arrives (the steps panel shows the report's steps).

import type { ClickLabelPayload, ConsolePayload, NavigationPayload, NetworkPayload } from "../../wire/payloads";
import { consoleStackLevels, plugins, tags } from "../../wire/vocabulary.json";
import type { RawEvent } from "./event_stream";

const STACK_LEVELS: ReadonlySet<string> = new Set(consoleStackLevels);

export type ConsoleEntry = {
  ts: number;
  level: string;
  message: string;
  stack: string[];
};

export type NetworkEntry = {
  /** When the request settled (the recorder sends it then); it started `duration` earlier. */
  ts: number;
  kind: string;
  method: string;
  url: string;
  status: number;
  duration: number | null;
  error: string | null;
  failed: boolean;
  requestSize: number | null;
  responseSize: number | null;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string>;
  requestBody: string | null;
  responseBody: string | null;
  /** The page's code that made the call, `function (file:line:column)`; older recordings lack it. */
  initiator: string | null;
};

// Rage, dead and error clicks come from the report (the server's one definition), never from
// the stream.
export type MarkerKind = "page" | "click" | "rage" | "dead" | "error-click" | "error" | "request";

export type Marker = { ts: number; kind: MarkerKind; label: string };

const EVENT_META = 4;
const EVENT_CUSTOM = 5;
const EVENT_PLUGIN = 6;
const EVENT_INCREMENTAL = 3;
const SOURCE_MOUSE_INTERACTION = 2;
const INTERACTION_CLICK = 2;
// A click label is emitted right after its click; pair the two within this window.
const CLICK_LABEL_WINDOW_MS = 100;
// Clicks on one element closer than this are one "×N" click marker, to keep the timeline legible.
const REPEAT_CLICK_WINDOW_MS = 1000;

type Obj = Record<string, unknown>;
/** A payload as stored: the field names of its type in wire/vocabulary.json, values unchecked
 * (a recording is not trusted to be what the recorder sends). */
type Stored<T> = { [K in keyof T]?: unknown };

function obj(value: unknown): Obj {
  return value !== null && typeof value === "object" ? (value as Obj) : {};
}

const stored = <T>(payload: unknown): Stored<T> => obj(payload) as Stored<T>;

function str(value: unknown): string {
  return typeof value === "string" ? value : value === undefined || value === null ? "" : String(value);
}

function consoleArg(arg: unknown): string {
  // The console plugin stores each argument JSON-encoded; show strings without their quotes.
  if (typeof arg !== "string") return str(arg);
  try {
    const parsed: unknown = JSON.parse(arg);
    return typeof parsed === "string" ? parsed : arg;
  } catch {
    return arg;
  }
}

function size(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : null;
}

function headers(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(obj(value)).map(([name, text]) => [name, str(text)]));
}

const text = (value: unknown): string | null => (typeof value === "string" ? value : null);

function pathOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.pathname + parsed.search;
  } catch {
    return url;
  }
}

export class SessionEntries {
  readonly console: ConsoleEntry[] = [];
  readonly network: NetworkEntry[] = [];
  readonly markers: Marker[] = [];
  /** How many events arrived, and the timestamp of the latest. */
  count = 0;
  loadedUntil = 0;
  private lastClick: { node: number; ts: number; text: string; count: number; marker: Marker } | null = null;
  private pendingClick: { node: number; ts: number } | null = null;

  add(events: RawEvent[]): void {
    for (const event of events) {
      this.count += 1;
      if (event.timestamp > this.loadedUntil) this.loadedUntil = event.timestamp;
      this.addOne(event);
    }
  }

  private addOne(event: RawEvent): void {
    const data = obj(event.data);
    if (event.type === EVENT_META) {
      const href = str(data.href);
      if (href) this.page(event.timestamp, href);
    } else if (event.type === EVENT_PLUGIN) {
      const ts = event.timestamp;
      if (data.plugin === plugins.console) this.consoleEvent(ts, stored<ConsolePayload>(data.payload));
      else if (data.plugin === plugins.network) this.networkEvent(ts, stored<NetworkPayload>(data.payload));
      else if (data.plugin === plugins.navigation) this.page(ts, str(stored<NavigationPayload>(data.payload).url));
    } else if (event.type === EVENT_CUSTOM && data.tag === tags.click) {
      this.labelClick(event.timestamp, stored<ClickLabelPayload>(data.payload));
    } else if (event.type === EVENT_INCREMENTAL) {
      if (data.source === SOURCE_MOUSE_INTERACTION && data.type === INTERACTION_CLICK) {
        this.click(event.timestamp, Number(data.id));
      }
    }
  }

  private page(ts: number, url: string): void {
    this.lastClick = null;
    this.markers.push({ ts, kind: "page", label: `Opened ${url}` });
  }

  private consoleEvent(ts: number, payload: Stored<ConsolePayload>): void {
    const args = Array.isArray(payload.payload) ? payload.payload : [];
    const level = str(payload.level) || "log";
    // Sessions stored before the service dropped other levels' traces still have them.
    const trace = Array.isArray(payload.trace) && STACK_LEVELS.has(level) ? payload.trace.map(str) : [];
    const entry: ConsoleEntry = { ts, level, message: args.map(consoleArg).join(" "), stack: trace };
    this.console.push(entry);
    if (entry.level === "error" || entry.level === "assert") {
      this.markers.push({ ts, kind: "error", label: `Console error: ${entry.message}` });
    }
  }

  private networkEvent(ts: number, payload: Stored<NetworkPayload>): void {
    const status = Number(payload.status) || 0;
    const error = payload.error === undefined ? null : str(payload.error);
    const kind = str(payload.kind) || "fetch";
    const entry: NetworkEntry = {
      ts,
      kind,
      method: (str(payload.method) || "GET").toUpperCase(),
      url: str(payload.url),
      status,
      duration: typeof payload.duration === "number" ? payload.duration : null,
      error,
      failed: status >= 400 || (status === 0 && kind !== "beacon") || error !== null,
      requestSize: size(payload.requestSize),
      responseSize: size(payload.responseSize),
      requestHeaders: headers(payload.requestHeaders),
      responseHeaders: headers(payload.responseHeaders),
      requestBody: text(payload.requestBody),
      responseBody: text(payload.responseBody),
      initiator: text(payload.initiator),
    };
    this.network.push(entry);
    if (entry.failed) {
      const outcome = status ? String(status) : error || "no answer";
      this.markers.push({ ts, kind: "request", label: `${entry.method} ${pathOf(entry.url)} → ${outcome}` });
    }
  }

  private click(ts: number, node: number): void {
    this.pendingClick = { node, ts };
    const last = this.lastClick;
    if (last && last.node === node && ts - last.ts <= REPEAT_CLICK_WINDOW_MS) {
      last.count += 1;
      last.ts = ts;
      last.text = last.text.replace(/( ×\d+)?$/, ` ×${last.count}`);
      const marker = last.marker;
      if (marker) marker.label = last.text;
      return;
    }
    const marker: Marker = { ts, kind: "click", label: "Clicked an element" };
    this.markers.push(marker);
    this.lastClick = { node, ts, text: "Clicked an element", count: 1, marker };
  }

  private labelClick(ts: number, payload: Stored<ClickLabelPayload>): void {
    const pending = this.pendingClick;
    const label = str(payload.label).trim();
    if (!pending || !label || Math.abs(ts - pending.ts) > CLICK_LABEL_WINDOW_MS) return;
    const last = this.lastClick;
    if (last && last.node === pending.node && last.count === 1) {
      last.text = `Clicked '${label}'`;
      last.marker.label = last.text;
    }
    this.pendingClick = null;
  }
}
