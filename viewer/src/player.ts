// The replay itself: rrweb's Replayer in a sandboxed frame, with our controls and timeline.

import { Replayer } from "@rrweb/replay";
import type { RawEvent } from "./event_stream";
import type { Marker } from "./entries";
import { formatOffset, h } from "./dom";

type ReplayerEvent = ConstructorParameters<typeof Replayer>[0][number];

const SPEEDS = [1, 2, 4, 8];
const FULL_SNAPSHOT = 2;
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
const MARKER_LEAD_MS = 500;

export class ReplayPlayer {
  readonly root: HTMLElement;
  private readonly stage = h("div", { class: "stage" });
  private readonly frame = h("div", { class: "frame", "data-testid": "replay-frame" });
  private readonly playButton = h("button", { class: "play", type: "button" }, "Play");
  private readonly clock = h("span", { class: "clock", "data-testid": "clock" }, "00:00 / 00:00");
  private readonly track = h("div", { class: "track", "data-testid": "timeline" });
  private readonly progress = h("div", { class: "progress" });
  private readonly markerLayer = h("div", { class: "markers" });
  private replayer: Replayer | null = null;
  private pending: RawEvent[] = [];
  private startTs = 0;
  private playing = false;
  private listeners: Array<(offset: number) => void> = [];
  private readyWaiters: Array<() => void> = [];
  private markers: Marker[] = [];
  private lastOffset = -1;
  private clockStart = 0;

  constructor() {
    const speed = h("select", { class: "speed", "aria-label": "Speed" });
    for (const value of SPEEDS) speed.appendChild(h("option", { value }, `${value}×`));
    speed.addEventListener("change", () =>
      this.replayer?.setConfig({ speed: Number(speed.value) }),
    );
    const skip = h("input", { type: "checkbox", checked: true, "aria-label": "Skip inactivity" });
    skip.addEventListener("change", () => this.replayer?.setConfig({ skipInactive: skip.checked }));
    this.playButton.addEventListener("click", () => this.toggle());
    this.track.append(this.progress, this.markerLayer);
    this.track.addEventListener("click", (e) => {
      if (e.target !== this.track && e.target !== this.progress) return;
      const box = this.track.getBoundingClientRect();
      this.seek(((e.clientX - box.left) / box.width) * this.duration());
    });
    this.stage.appendChild(this.frame);
    this.root = h(
      "section",
      { class: "player" },
      this.stage,
      h(
        "div",
        { class: "controls" },
        this.playButton,
        this.clock,
        speed,
        h("label", { class: "skip" }, skip, " Skip inactivity"),
      ),
      this.track,
    );
    new ResizeObserver(() => this.fit()).observe(this.stage);
  }

  /** Feed events as they stream in; playback can start once the first full snapshot is here. */
  add(events: RawEvent[]): void {
    if (this.replayer) {
      for (const event of events) this.replayer.addEvent(event as unknown as ReplayerEvent);
      this.render();
      return;
    }
    this.pending.push(...events);
    if (this.pending.some((e) => e.type === FULL_SNAPSHOT)) this.start();
  }

  /** Called when the stream ended; a session with no full snapshot still gets a player. */
  finish(): void {
    if (!this.replayer && this.pending.length) this.start();
    this.render();
  }

  get ready(): Promise<void> {
    return this.replayer
      ? Promise.resolve()
      : new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  get firstTimestamp(): number {
    return this.startTs;
  }

  /** Show times from the session's start when the recording starts `ms` into it (a window). */
  setClockStart(ms: number): void {
    this.clockStart = ms;
    this.render();
  }

  onTime(listener: (offset: number) => void): void {
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
    this.emit(target);
  }

  seekToTimestamp(ts: number, lead = MARKER_LEAD_MS): void {
    this.seek(ts - this.startTs - lead);
  }

  private start(): void {
    const events = this.pending;
    this.pending = [];
    this.startTs = events[0]?.timestamp ?? 0;
    this.replayer = new Replayer(events as unknown as ReplayerEvent[], {
      root: this.frame,
      skipInactive: true,
      showWarning: false,
      mouseTail: false,
      triggerFocus: false,
      // Recorded pages are hostile: no scripts, no canvas replay (which needs allow-scripts).
      UNSAFE_replayCanvas: false,
    });
    this.replayer.on("resize", () => this.fit());
    this.replayer.on("finish", () => {
      this.playing = false;
      this.playButton.textContent = "Play";
    });
    this.replayer.pause(0);
    performance.mark("replaydesk:first-frame");
    this.frame.dataset.started = "true";
    this.fit();
    this.tick();
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }

  private duration(): number {
    return this.replayer ? this.replayer.getMetaData().totalTime : 0;
  }

  private toggle(): void {
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

  private tick(): void {
    const offset = this.replayer ? this.replayer.getCurrentTime() : 0;
    if (offset !== this.lastOffset) this.emit(offset);
    requestAnimationFrame(() => this.tick());
  }

  private emit(offset: number): void {
    this.lastOffset = offset;
    const total = this.duration();
    this.clock.textContent = `${formatOffset(this.clockStart + offset)} / ${formatOffset(this.clockStart + total)}`;
    this.clock.dataset.offset = String(Math.round(offset));
    this.progress.style.width = total ? `${Math.min(100, (offset / total) * 100)}%` : "0";
    for (const listener of this.listeners) listener(offset);
  }

  private render(): void {
    const total = this.duration();
    this.markerLayer.replaceChildren(
      ...this.markers.map((marker) => {
        const offset = marker.ts - this.startTs;
        const shown = formatOffset(this.clockStart + offset);
        const button = h("button", {
          class: `marker marker-${marker.kind}`,
          type: "button",
          title: `${MARKER_TITLES[marker.kind]} at ${shown}: ${marker.label}`,
          "aria-label": `${MARKER_TITLES[marker.kind]} at ${shown}`,
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
