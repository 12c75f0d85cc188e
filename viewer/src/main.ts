// The replay page: reads the link's token, streams the session and wires player and panels.

import "@rrweb/replay/dist/style.css";
import "./viewer.css";
import { LinkRefused, ReplayApi, takeToken, type Report, type Struggle } from "./api";
import { loadAssetCopies } from "./asset_copies";
import { AssetRewriter } from "./asset_rewrite";
import { announce, copyText } from "./clipboard";
import { append, formatOffset, h } from "./dom";
import { SessionEntries, type Marker } from "./entries";
import { EventBuffer, readEventStream, type RawEvent } from "./event_stream";
import { header, pendingHeader, reportMissing, type Signal } from "./header";
import { endedText, followLive, isLiveLink, LIVE_BEHIND_MS, LiveStatus } from "./live";
import { LiveAssets } from "./live_assets";
import { momentLink, readOpenAt } from "./moment_link";
import { Panels } from "./panels";
import { ReplayPlayer, SPEEDS } from "./player";
import { bindShortcuts, ShortcutsOverlay } from "./shortcuts";
import { REBUILT_AT_MS, windowStart } from "./window_note";

// Panels are rebuilt from the entries at most this often while events stream in.
const REFRESH_MS = 400;
const REFUSED = "This replay link is invalid or has expired. Ask for a new link.";
const EMPTY = "Nothing was recorded in this session: it has no events.";

function showMessage(text: string): void {
  document.body.replaceChildren(
    h("main", { class: "message-page", "data-testid": "link-refused" }, h("h1", {}, "ReplayDesk"), h("p", {}, text)),
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

const offsetsOf = (items: Array<{ offset_ms?: number }>): number[] =>
  items.flatMap((item) => (typeof item.offset_ms === "number" ? [item.offset_ms] : [])).sort((a, b) => a - b);

/** The header's counts, each with where its occurrences are; the report is the one source. */
function signalsOf(report: Report): Signal[] {
  const counts = report.session.counts;
  const signal = (kind: string, noun: string, short: string | undefined, offsets: number[], counted?: number): Signal => ({
    kind,
    noun,
    short,
    offsets,
    count: Math.max(counted ?? 0, offsets.length),
  });
  return [
    signal("error", "error", undefined, offsetsOf(report.console_errors), counts.errors),
    signal("request", "failed request", "failed", offsetsOf(report.failed_requests), counts.failed_requests),
    signal("rage", "rage click", "rage", offsetsOf(report.rage_clicks)),
    signal("dead", "dead click", "dead", offsetsOf(report.dead_clicks)),
    signal("error-click", "error click", "err-click", offsetsOf(report.error_clicks ?? [])),
  ];
}

async function boot(): Promise<void> {
  const sessionId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() ?? "");
  const token = takeToken(sessionId);
  if (!token) return showMessage(REFUSED);
  const api = new ReplayApi(sessionId, token);
  const openAt = readOpenAt(location.search);
  const live = isLiveLink(location.search);

  // The first frame waits for nothing but the events and the asset copies (replayed pages load
  // only the service's copies, or nothing: see asset_rewrite.ts). The small asset map is asked
  // for first, so the service answers it before it starts on the events. The report (header,
  // steps, struggle markers) is asked for once the map is in, since building it keeps the
  // service busy for a while on a long session, and fills in when it comes. A live view gets
  // its events from the live stream instead.
  const download = (path: string): Promise<Blob> => api.assetBytes(path);
  const assetMap = api.assets().catch(() => null);
  const copies = assetMap
    .then((map) => (map ? loadAssetCopies(map, download) : new Map<string, string>()))
    .catch(() => new Map<string, string>());
  const eventsAnswer = live ? null : api.events();
  eventsAnswer?.catch(() => undefined); // rethrown where it is awaited
  const reportAnswer = copies.then(() => api.report());
  reportAnswer.catch(() => undefined); // a refused link is told by whichever answer comes first
  const player = new ReplayPlayer(live);
  // The stream is read and parsed while the rest is on its way; the player takes the events once
  // the asset copies are known. Until the first frame is drawn, parsing gives way often.
  const buffer = new EventBuffer();
  const reading = eventsAnswer
    ? readEventStream(await eventsAnswer, buffer.push, () => !buffer.ready || !player.drawn)
    : null;
  reading?.catch(() => undefined); // rethrown where it is awaited
  let report: Report | null = live ? await reportAnswer : null;

  const entries = new SessionEntries();
  const liveStatus = live ? new LiveStatus(() => player.goLive(LIVE_BEHIND_MS)) : null;
  const panels = new Panels((ts) => player.seekToTimestamp(ts, 0));
  let signals: Signal[] = [];
  let troubles: Signal | null = null;
  // The report's offsets and `?at=` count from the session's start; a windowed player starts
  // `shift` later.
  let shift = 0;
  const sessionStart = (): number => player.firstTimestamp - shift;
  const sessionOffset = (): number => player.offset + shift;

  const firstError = (): number | null => {
    const fromStream = entries.markers.find((m) => m.kind === "error" || m.kind === "request");
    if (fromStream) return fromStream.ts;
    const offset = report?.session.first_error_offset_ms ?? null;
    return offset === null ? null : sessionStart() + offset;
  };
  const jumpToFirstError = (): void => {
    const ts = firstError();
    if (ts !== null) player.seekToTimestamp(ts);
  };

  // The next occurrence after the playhead; pressed again at the moment it went to, the one
  // after that (seeking lands a little before a moment, so "after the playhead" alone repeats).
  let lastVisit: { signal: Signal; index: number; landed: number } | null = null;
  const visit = (signal: Signal, direction: 1 | -1 = 1): void => {
    const offsets = signal.offsets;
    if (!offsets.length) return;
    const now = sessionOffset();
    let index: number;
    if (lastVisit && lastVisit.signal === signal && Math.abs(lastVisit.landed - now) < 1) {
      index = (lastVisit.index + direction + offsets.length) % offsets.length;
    } else if (direction === 1) {
      index = offsets.findIndex((offset) => offset > now);
      if (index < 0) index = 0;
    } else {
      index = offsets.length - 1;
      while (index >= 0 && offsets[index]! >= now) index--;
      if (index < 0) index = offsets.length - 1;
    }
    player.seekToTimestamp(sessionStart() + offsets[index]!);
    lastVisit = { signal, index, landed: sessionOffset() };
    announce(`${signal.noun[0]!.toUpperCase()}${signal.noun.slice(1)} ${index + 1} of ${offsets.length} at ${formatOffset(offsets[index]!)}`);
  };

  const overlay = new ShortcutsOverlay();
  const copyLink = (): void => {
    const offset = sessionOffset();
    void copyText(momentLink(location.href, token, offset), `Link copied: it opens at ${formatOffset(offset)}`);
  };
  const actions = { next: (signal: Signal) => visit(signal), jumpToFirstError, copyLink, showShortcuts: () => overlay.show() };

  let top = pendingHeader(actions);
  document.body.replaceChildren();
  append(
    document.body,
    top,
    ...(liveStatus ? [liveStatus.root] : []),
    h("main", { class: "layout" }, player.root, panels.root),
    overlay.root,
  );
  player.onTime((offset, seeked) => panels.follow(player.firstTimestamp + offset, seeked));
  bindShortcuts(
    {
      togglePlay: () => player.toggle(),
      seekBy: (ms) => player.seek(player.offset + ms),
      step: (direction) => player.step(direction),
      speed: (index) => player.setSpeed(SPEEDS[index] ?? 1),
      nextError: (direction) => troubles && visit(troubles, direction),
      focusSearch: () => {
        const search = panels.activeSearch();
        search?.focus();
        return search !== null;
      },
    },
    overlay,
  );

  let dirty = false;
  const refresh = (): void => {
    dirty = false;
    const start = sessionStart();
    panels.setConsole(entries.console, start);
    panels.setNetwork(entries.network, start);
    if (report) {
      panels.setSteps(
        report.steps.map((s) => ({ ts: start + s.offset_ms, text: s.text, kind: s.kind })),
        start,
      );
    }
    player.setMarkers([...entries.markers, ...(report ? struggleMarkers(report, start) : [])]);
  };
  const timer = window.setInterval(() => dirty && refresh(), REFRESH_MS);

  let opened = openAt === null;
  let streamed = false;
  const openWhereAsked = (): void => {
    if (opened || openAt === null || report === null) return;
    const ts = openAt.kind === "offset" ? sessionStart() + openAt.ms : firstError();
    if (ts === null) {
      opened = streamed;
      return;
    }
    if (streamed || entries.loadedUntil >= ts) {
      opened = true;
      void player.ready.then(() =>
        openAt.kind === "offset" ? player.seek(openAt.ms - shift) : player.seekToTimestamp(ts),
      );
    }
  };

  const showReport = (answer: Report): void => {
    report = answer;
    signals = signalsOf(answer);
    troubles = {
      kind: "trouble",
      noun: "error",
      offsets: [...signals[0]!.offsets, ...signals[1]!.offsets].sort((a, b) => a - b),
      count: 0,
    };
    shift = windowStart(answer.session);
    player.setClockStart(shift);
    if (answer.session.window) void player.ready.then(() => player.seek(REBUILT_AT_MS));
    const full = header(answer, signals, actions);
    top.replaceWith(full);
    top = full;
    document.title = `Replay · ${answer.session.user_id ?? sessionId}`;
    refresh();
    openWhereAsked();
  };
  // Without its report the replay still plays; the header says what is missing.
  const reportShown = report
    ? Promise.resolve(showReport(report))
    : reportAnswer.then(showReport, (error: unknown) =>
        error instanceof LinkRefused ? showMessage(REFUSED) : reportMissing(top),
      );

  let firstChunk = true;
  const found = await copies;
  const rewriter = new AssetRewriter((url) => found.get(url));
  const take = (events: RawEvent[]): void => {
    rewriter.rewrite(events);
    entries.add(events);
    player.add(events);
    dirty = true;
    // The first frame comes with its panels; later chunks are gathered every REFRESH_MS.
    if (firstChunk) {
      firstChunk = false;
      refresh();
    }
    openWhereAsked();
  };
  if (reading) {
    buffer.deliverTo(take);
    await reading;
    performance.mark("replaydesk:all-events");
  } else if (liveStatus) {
    // Batches reach the player in order, each once the copies of what it names are in.
    const assets = new LiveAssets(found, await assetMap, () => api.assets(true), download);
    let delivered = Promise.resolve();
    const inOrder = (step: () => void | Promise<void>): void => {
      delivered = delivered.then(step).catch(() => undefined);
    };
    const ended = await followLive(api, {
      batch: (events) => inOrder(() => assets.prepare(events).then(() => take(events))),
      caughtUp: () =>
        inOrder(() => {
          refresh();
          liveStatus.following();
          void player.ready.then(() => player.goLive(LIVE_BEHIND_MS));
        }),
      waiting: () => liveStatus.waitingForCustomer(),
      connection: (state) => (state === "lost" ? liveStatus.reconnecting() : liveStatus.following()),
    });
    await delivered;
    liveStatus.ended(endedText(ended));
  }
  player.finish();
  window.clearInterval(timer);
  streamed = true;
  refresh();
  openWhereAsked();
  const empty = entries.count === 0;
  if (empty) {
    player.showNotice(EMPTY);
    document.body.dataset.empty = "true";
  }
  // An empty session's buttons go off once the report's header (with its own) is in.
  await reportShown;
  if (empty) {
    for (const button of document.querySelectorAll<HTMLButtonElement>(".controls button, [data-testid=copy-link]")) {
      button.disabled = true;
    }
  }
  // "Loaded" means everything is shown, the report's parts included.
  document.body.dataset.loaded = "true";
}

boot().catch((error: unknown) => {
  showMessage(error instanceof LinkRefused ? REFUSED : "ReplayDesk could not load this replay. Try again.");
});
