// The replay page: reads the link's token, streams the session and wires player and panels.

import "@rrweb/replay/dist/style.css";
import "./viewer.css";
import { LinkRefused, ReplayApi, takeToken, type Environment, type Report, type Struggle } from "./api";
import { append, formatOffset, h } from "./dom";
import { SessionEntries, type Marker } from "./entries";
import { readEventStream } from "./event_stream";
import { Panels } from "./panels";
import { ReplayPlayer } from "./player";
import { REBUILT_AT_MS, windowNote, windowStart } from "./window_note";

// Panels are rebuilt from the entries at most this often while events stream in.
const REFRESH_MS = 400;
const REFUSED = "This replay link is invalid or has expired. Ask for a new link.";

function showMessage(text: string): void {
  document.body.replaceChildren(
    h("main", { class: "message-page", "data-testid": "link-refused" }, h("h1", {}, "ReplayDesk"), h("p", {}, text)),
  );
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

const named = (name?: string, version?: string): string => (name ? (version ? `${name} ${version}` : name) : "");

/** `Chrome 131 · Windows 10 · desktop · 1280×720 · release 4.2.0`; the rest on hover. */
function environmentText(environment: Environment): [string, string] {
  const e = environment;
  const shown = [
    named(e.browser, e.browser_version),
    named(e.os, e.os_version),
    e.device ?? "",
    e.viewport ? `${e.viewport.width}×${e.viewport.height}` : "",
    e.release ? `release ${e.release}` + (e.environment ? ` (${e.environment})` : "") : (e.environment ?? ""),
  ].filter(Boolean);
  const details = [
    e.language ? `Language ${e.language}` : "",
    e.time_zone ? `Time zone ${e.time_zone}` : "",
    e.screen ? `Screen ${e.screen.width}×${e.screen.height} @${e.pixel_ratio ?? 1}x` : "",
    e.user_agent ?? "",
  ].filter(Boolean);
  return [shown.join(" · "), details.join("\n")];
}

function environmentSpan(environment: Environment): HTMLElement {
  const [shown, details] = environmentText(environment);
  return h("span", { class: "environment", title: details, "data-testid": "environment" }, shown);
}

function header(report: Report, onJump: () => void): HTMLElement {
  const s = report.session;
  const started = new Date(s.started_at);
  const jump = h("button", { type: "button", class: "jump", "data-testid": "jump-to-error" }, "Jump to first error");
  jump.disabled = s.first_error_at === null;
  jump.addEventListener("click", onJump);
  return h(
    "header",
    { class: "top" },
    h("strong", {}, "ReplayDesk"),
    h("span", {}, `User ${s.user_id ?? "unknown"}`),
    h("span", {}, started.toISOString().replace("T", " ").slice(0, 19) + " UTC"),
    h("span", {}, formatOffset(s.duration_ms)),
    windowNote(s),
    ...(s.environment ? [environmentSpan(s.environment)] : []),
    h("span", { class: s.counts.errors ? "bad" : "" }, plural(s.counts.errors ?? 0, "error")),
    h(
      "span",
      { class: s.counts.failed_requests ? "bad" : "" },
      plural(s.counts.failed_requests ?? 0, "failed request"),
    ),
    jump,
  );
}

function target(click: Struggle): string {
  return click.label ? ` on '${click.label}'` : click.selector ? ` on ${click.selector}` : "";
}

/** One marker per struggle signal of the report: the server's definition, never recomputed. */
function struggleMarkers(report: Report, start: number): Marker[] {
  const at = (click: Struggle): number => start + click.offset_ms;
  return [
    ...report.rage_clicks.map((c) => ({ ts: at(c), kind: "rage" as const, label: `${c.count} fast clicks${target(c)}` })),
    ...report.dead_clicks.map((c) => ({ ts: at(c), kind: "dead" as const, label: `Nothing happened${target(c)}` })),
    ...(report.error_clicks ?? []).map((c) => ({
      ts: at(c),
      kind: "error-click" as const,
      label: `An error followed${target(c)}`,
    })),
  ];
}

async function boot(): Promise<void> {
  const sessionId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() ?? "");
  const token = takeToken(sessionId);
  if (!token) return showMessage(REFUSED);
  const api = new ReplayApi(sessionId, token);
  const openAtFirstError = new URLSearchParams(location.search).get("at") === "first-error";

  // Both requests go out at once: the first frame must not wait for the report.
  const eventsResponse = api.events();
  eventsResponse.catch(() => undefined); // refused links are reported once, by the report call
  const report = await api.report();
  const entries = new SessionEntries();
  const player = new ReplayPlayer();
  const panels = new Panels((ts) => player.seekToTimestamp(ts, 0));
  // The report's offsets count from the session's start; a windowed player starts later.
  const sessionStart = (): number => player.firstTimestamp - windowStart(report.session);
  player.setClockStart(windowStart(report.session));
  if (report.session.window) void player.ready.then(() => player.seek(REBUILT_AT_MS));
  const firstError = (): number | null => {
    const fromStream = entries.markers.find((m) => m.kind === "error" || m.kind === "request");
    if (fromStream) return fromStream.ts;
    const offset = report.session.first_error_offset_ms;
    return offset === null ? null : sessionStart() + offset;
  };
  const jumpToFirstError = (): void => {
    const ts = firstError();
    if (ts !== null) player.seekToTimestamp(ts);
  };

  document.body.replaceChildren();
  append(document.body, header(report, jumpToFirstError), h("main", { class: "layout" }, player.root, panels.root));
  document.title = `Replay · ${report.session.user_id ?? sessionId}`;
  player.onTime((offset) => panels.follow(player.firstTimestamp + offset));

  let dirty = false;
  const refresh = (): void => {
    dirty = false;
    const start = sessionStart();
    panels.setConsole(entries.console, start);
    panels.setNetwork(entries.network, start);
    panels.setSteps(
      report.steps.map((s) => ({ ts: start + s.offset_ms, text: s.text, kind: s.kind })),
      start,
    );
    player.setMarkers([...entries.markers, ...struggleMarkers(report, start)]);
  };
  const timer = window.setInterval(() => dirty && refresh(), REFRESH_MS);

  let jumped = false;
  const maybeJump = (): void => {
    const ts = firstError();
    if (!openAtFirstError || jumped || ts === null) return;
    const loadedUntil = entries.markers.length ? Math.max(...entries.markers.map((m) => m.ts)) : 0;
    if (loadedUntil >= ts) {
      jumped = true;
      void player.ready.then(jumpToFirstError);
    }
  };

  await readEventStream(await eventsResponse, (events) => {
    entries.add(events);
    player.add(events);
    dirty = true;
    maybeJump();
  });
  performance.mark("replaydesk:all-events");
  player.finish();
  window.clearInterval(timer);
  refresh();
  maybeJump();
  document.body.dataset.loaded = "true";
}

boot().catch((error: unknown) => {
  showMessage(error instanceof LinkRefused ? REFUSED : "ReplayDesk could not load this replay. Try again.");
});
