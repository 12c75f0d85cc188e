// The replay itself: rrweb's Replayer in a sandboxed frame, with our controls and timeline.

import { Replayer } from "@rrweb/replay";
import type { RawEvent } from "./event_stream";
import type { Marker } from "./entries";
import { formatOffset, h } from "./dom";
import { applyScrolls, SeekHistory, settleAnimations } from "./seek_repair";

type ReplayerEvent = ConstructorParameters<typeof Replayer>[0][number];

export const SPEEDS = [1, 2, 4, 8];
const FULL_SNAPSHOT = 2;
const META = 4;
const CUSTOM = 5;
const MARKER_TITLES: Record<Marker["kind"], string> = {
  page: "Page view",
  click: "Click",
  rage: "Rage click",
  dead: "Dead click",
  "error-click": "Click followed by an error",
  error: "Console error",
  request: "Failed request",
};
// Seek a little before a marker so the moment itself is seen, not just its aftermath.
export const MARKER_LEAD_MS = 500;
// Markers of one kind closer than this share of the timeline are drawn as one, so a session
// with thousands of errors keeps a timeline that can be read and clicked.
const MARKER_BUCKETS = 400;
// rrweb's Replayer wants two events; a session of one gets this harmless custom event after it.
const PADDING_TAG = "replaydesk/viewer-padding";

export class ReplayPlayer {
  readonly root: HTMLElement;
  private readonly stage = h("div", { class: "stage" });
  private readonly frame = h("div", { class: "frame", "data-testid": "replay-frame" });
  private readonly notice = h("p", { class: "stage-notice", "data-testid": "stage-notice", role: "status" });
  private readonly playButton = h(
    "button",
    { class: "play", type: "button", "aria-keyshortcuts": "Space", "data-testid": "play" },
    "Play",
  );
  private readonly speedSelect = h("select", { class: "speed", "aria-label": "Speed", "aria-keyshortcuts": "1 2 3 4" });
  private readonly clock = h("span", { class: "clock", "data-testid": "clock", "aria-live": "off" }, "00:00 / 00:00");
  private readonly track = h("div", {
    class: "track",
    "data-testid": "timeline",
    role: "slider",
    tabindex: 0,
    "aria-label": "Playhead",
    "aria-valuemin": 0,
    "aria-valuenow": 0,
  });
  private readonly progress = h("div", { class: "progress" });
  private readonly markerLayer = h("div", { class: "markers" });
  private replayer: Replayer | null = null;
  private pending: RawEvent[] = [];
  private startTs = 0;
  /** True from the first animation frame that shows the recorded page. */
  drawn = false;
  private started = false;
  private playing = false;
  private readonly eventOffsets: number[] = [];
  private listeners: Array<(offset: number, seeked: boolean) => void> = [];
  private readyWaiters: Array<() => void> = [];
  private markers: Marker[] = [];
  private lastOffset = -1;
  private sawSnapshot = false;
  private clockStart = 0;
  private readonly history = new SeekHistory();
  private seeks = 0;

  /** `live`: the replay follows events added after it started (rrweb's live mode). */
  constructor(private readonly live = false) {
    for (const value of SPEEDS) this.speedSelect.appendChild(h("option", { value }, `${value}×`));
    this.speedSelect.addEventListener("change", () => this.replayer?.setConfig({ speed: Number(this.speedSelect.value) }));
    const skip = h("input", { type: "checkbox", checked: true });
    skip.addEventListener("change", () => this.replayer?.setConfig({ skipInactive: skip.checked }));
    this.playButton.addEventListener("click", () => this.toggle());
    this.track.append(this.progress, this.markerLayer);
    this.track.addEventListener("click", (e) => {
      if (e.target !== this.track && e.target !== this.progress) return;
      const box = this.track.getBoundingClientRect();
      this.seek(((e.clientX - box.left) / box.width) * this.duration());
    });
    this.notice.hidden = true;
    this.stage.append(this.frame, this.notice);
    this.root = h(
      "section",
      { class: "player", "aria-label": "Replay" },
      this.stage,
      h(
        "div",
        { class: "controls" },
        this.playButton,
        this.clock,
        this.speedSelect,
        h("label", { class: "skip" }, skip, " Skip inactivity"),
      ),
      this.track,
    );
    new ResizeObserver(() => this.fit()).observe(this.stage);
  }

  /** Feed events as they stream in; playback can start once the first full snapshot is here. */
  add(events: RawEvent[]): void {
    if (!this.started && events.length) {
      this.started = true;
      this.startTs = events[0]!.timestamp;
    }
    for (const event of events) {
      this.eventOffsets.push(event.timestamp - this.startTs);
      if (event.type === FULL_SNAPSHOT) this.sawSnapshot = true;
    }
    this.history.add(events);
    if (this.replayer) {
      for (const event of events) this.replayer.addEvent(event as unknown as ReplayerEvent);
      this.render();
      return;
    }
    this.pending.push(...events);
    if (this.sawSnapshot) this.start();
  }

  /** Called when the stream ended: any session with an event gets a player. */
  finish(): void {
    if (!this.replayer && this.pending.length) this.start();
    if (this.replayer && !this.sawSnapshot) {
      this.showNotice("No screen was recorded in this session (no page snapshot): the timeline and the panels show what was.");
      this.frame.hidden = true;
    }
    this.render();
  }

  /** Instead of a replay: the session has nothing to play. */
  showNotice(text: string): void {
    this.notice.textContent = text;
    this.notice.hidden = false;
  }

  get ready(): Promise<void> {
    return this.replayer ? Promise.resolve() : new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  get firstTimestamp(): number {
    return this.startTs;
  }

  /** Show times from the session's start when the recording starts `ms` into it (a window). */
  setClockStart(ms: number): void {
    this.clockStart = ms;
    this.render();
  }

  get offset(): number {
    return this.replayer ? this.replayer.getCurrentTime() : 0;
  }

  get isPlaying(): boolean {
    return this.playing;
  }

  /** `seeked` is true when the playhead jumped (a seek), false while it plays on. */
  onTime(listener: (offset: number, seeked: boolean) => void): void {
    this.listeners.push(listener);
  }

  setMarkers(markers: Marker[]): void {
    this.markers = markers;
    this.render();
  }

  seek(offset: number): void {
    if (!this.replayer) return;
    const target = Math.max(0, Math.min(offset, this.duration()));
    if (this.playing) this.replayer.play(target);
    else this.replayer.pause(target);
    this.repair(target);
    this.emit(target, true);
  }

  seekToTimestamp(ts: number, lead = MARKER_LEAD_MS): void {
    this.seek(ts - this.startTs - lead);
  }

  /** Pause on the next (or previous) recorded event: the finest step the recording has. */
  step(direction: 1 | -1): void {
    if (!this.replayer) return;
    if (this.playing) this.toggle();
    const now = this.offset;
    const offsets = this.eventOffsets;
    // Offsets arrive in time order; the first after (or last before) now, by binary search.
    let low = 0;
    let high = offsets.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (direction === 1 ? offsets[mid]! <= now : offsets[mid]! < now) low = mid + 1;
      else high = mid;
    }
    const target = direction === 1 ? offsets[low] : offsets[low - 1];
    if (target !== undefined) this.seek(target);
  }

  setSpeed(speed: number): void {
    this.speedSelect.value = String(speed);
    this.replayer?.setConfig({ speed });
  }

  toggle(): void {
    if (!this.replayer) return;
    const now = this.replayer.getCurrentTime();
    if (this.playing) {
      this.replayer.pause();
      this.playing = false;
    } else {
      this.replayer.play(now >= this.duration() ? 0 : now);
      this.playing = true;
    }
    this.playButton.textContent = this.playing ? "Pause" : "Play";
  }

  /**
   * Play from `behindMs` before the newest event and keep playing what arrives: the customer's
   * clock sets the pace from there, whatever the gap between their clock and this one.
   */
  goLive(behindMs: number): void {
    if (!this.replayer) return;
    const target = Math.max(0, this.duration() - behindMs);
    this.replayer.play(target);
    this.playing = true;
    this.playButton.textContent = "Pause";
    this.repair(target);
    this.emit(target, true);
  }

  duration(): number {
    return this.replayer ? this.replayer.getMetaData().totalTime : 0;
  }

  private start(): void {
    const events = this.pending;
    this.pending = [];
    if (events.length < 2) {
      const last = events[events.length - 1]!;
      events.push({ type: CUSTOM, timestamp: last.timestamp, data: { tag: PADDING_TAG, payload: {} } });
    }
    this.replayer = new Replayer(events as unknown as ReplayerEvent[], {
      root: this.frame,
      skipInactive: true,
      showWarning: false,
      mouseTail: false,
      triggerFocus: false,
      // Recorded pages are hostile: no scripts, no canvas replay (which needs allow-scripts).
      UNSAFE_replayCanvas: false,
      liveMode: this.live,
    });
    this.replayer.on("resize", () => this.fit());
    this.replayer.on("finish", () => {
      this.playing = false;
      this.playButton.textContent = "Play";
    });
    this.replayer.pause(0);
    this.markFirstFrame(this.replayer);
    drawFirstFrameNow(this.replayer, events);
    this.frame.dataset.started = "true";
    this.fit();
    this.emit(0, true);
    this.tick();
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }

  /** After a seek: the scroll positions and animation states rrweb's fast-forward loses. */
  private repair(target: number): void {
    const replayer = this.replayer;
    if (!replayer) return;
    const start = replayer.getMetaData().startTime;
    const state = this.history.stateAt(start + target);
    applyScrolls(replayer, state);
    settleAnimations(replayer, state);
    const seek = ++this.seeks;
    // Layout can still grow in the next frame (late styles, images): scroll again then, unless
    // another seek came or playback has reached the next recorded scroll.
    requestAnimationFrame(() => {
      if (seek === this.seeks && start + replayer.getCurrentTime() < state.nextScrollAt) applyScrolls(replayer, state);
    });
  }

  /**
   * The first-frame mark goes on the first animation frame in which the replay frame shows the
   * recorded page: rrweb rebuilds the first snapshot in a timer of its own, not in `pause(0)`.
   */
  private markFirstFrame(replayer: Replayer): void {
    // rrweb shows its frame when it applies the recording's first size, in another timer.
    const check = (): void => {
      if (replayer.iframe.style.display === "none") {
        requestAnimationFrame(check);
        return;
      }
      performance.mark("replaydesk:first-frame");
      this.frame.dataset.drawn = "true";
      this.drawn = true;
    };
    const onRebuilt = (): void => {
      replayer.off("fullsnapshot-rebuilded", onRebuilt);
      requestAnimationFrame(check);
    };
    replayer.on("fullsnapshot-rebuilded", onRebuilt);
  }

  private tick(): void {
    const offset = this.replayer ? this.replayer.getCurrentTime() : 0;
    if (offset !== this.lastOffset) this.emit(offset, false);
    requestAnimationFrame(() => this.tick());
  }

  private emit(offset: number, seeked: boolean): void {
    this.lastOffset = offset;
    const total = this.duration();
    this.clock.textContent = `${formatOffset(this.clockStart + offset)} / ${formatOffset(this.clockStart + total)}`;
    this.clock.dataset.offset = String(Math.round(offset));
    this.track.setAttribute("aria-valuemax", String(Math.round(total)));
    this.track.setAttribute("aria-valuenow", String(Math.round(offset)));
    this.track.setAttribute(
      "aria-valuetext",
      `${formatOffset(this.clockStart + offset)} of ${formatOffset(this.clockStart + total)}`,
    );
    this.progress.style.width = total ? `${Math.min(100, (offset / total) * 100)}%` : "0";
    for (const listener of this.listeners) listener(offset, seeked);
  }

  private render(): void {
    const total = this.duration();
    const buckets = new Map<string, { marker: Marker; count: number }>();
    for (const marker of this.markers) {
      const offset = marker.ts - this.startTs;
      const key = `${marker.kind}:${total ? Math.floor((offset / total) * MARKER_BUCKETS) : 0}`;
      const bucket = buckets.get(key);
      if (bucket) bucket.count += 1;
      else buckets.set(key, { marker, count: 1 });
    }
    this.markerLayer.replaceChildren(
      ...[...buckets.values()].map(({ marker, count }) => {
        const offset = marker.ts - this.startTs;
        const title = MARKER_TITLES[marker.kind];
        const shown = formatOffset(this.clockStart + offset);
        const what = count > 1 ? `${count} × ${title} from ${shown}` : `${title} at ${shown}`;
        const button = h("button", {
          class: `marker marker-${marker.kind}`,
          type: "button",
          tabindex: -1,
          title: `${what}: ${marker.label}`,
          "aria-label": what,
          "data-kind": marker.kind,
          "data-offset": Math.round(offset),
        });
        button.style.left = total ? `${Math.min(100, Math.max(0, (offset / total) * 100))}%` : "0";
        button.addEventListener("click", () => this.seekToTimestamp(marker.ts));
        return button;
      }),
    );
  }

  /** Scale the recorded viewport to the space the page gives the stage. */
  private fit(): void {
    const wrapper = this.frame.querySelector<HTMLElement>(".replayer-wrapper");
    const iframe = wrapper?.querySelector("iframe");
    if (!wrapper || !iframe) return;
    const width = iframe.offsetWidth || 1;
    const height = iframe.offsetHeight || 1;
    const box = this.stage.getBoundingClientRect();
    const scale = Math.min(box.width / width, box.height / height, 1);
    wrapper.style.transform = `scale(${scale})`;
    wrapper.style.transformOrigin = "top left";
    this.frame.style.width = `${width * scale}px`;
    this.frame.style.height = `${height * scale}px`;
  }
}

/** The parts of rrweb's Replayer (2.x) that build its first frame; not in its typings. */
type FirstFrameInternals = {
  emitter?: { emit(type: string, payload: unknown): void };
  firstFullSnapshot?: unknown;
  rebuildFullSnapshot?: (event: unknown) => void;
};

/**
 * rrweb's Replayer builds its first frame in two timers of its own (the page's size, then the
 * snapshot), which Chromium ran 80-160 ms late in one open of three while the rest of the event
 * stream was read. The same two steps run here at once, and rrweb's timers then find the frame
 * built. With a Replayer of another shape, its timers do the work as before.
 */
function drawFirstFrameNow(replayer: Replayer, events: RawEvent[]): void {
  const internals = replayer as unknown as FirstFrameInternals;
  const snapshot = events.find((event) => event.type === FULL_SNAPSHOT);
  if (!snapshot || !internals.emitter || typeof internals.rebuildFullSnapshot !== "function") return;
  if (internals.firstFullSnapshot) return;
  const meta = events.find((event) => event.type === META);
  if (meta) internals.emitter.emit("resize", meta.data);
  internals.firstFullSnapshot = snapshot;
  internals.rebuildFullSnapshot(snapshot);
  const offset = (snapshot.data as { initialOffset?: ScrollToOptions }).initialOffset;
  if (offset) replayer.iframe.contentWindow?.scrollTo(offset);
}
