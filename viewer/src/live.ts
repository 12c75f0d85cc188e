// Following a session live: the service's server-sent events, read with fetch (so the token
// travels in a header, not the URL), resumed after a dropped connection from the last batch.

import { LinkRefused, type ReplayApi } from "./api";
import { h } from "./dom";
import type { RawEvent } from "./event_stream";

// How far behind the customer's newest event the live replay plays: batches come every second
// while someone watches, so this hides the wait for the next one.
export const LIVE_BEHIND_MS = 1000;

/** Whether the page was opened from a live link (`?live=1`). */
export function isLiveLink(search: string): boolean {
  return new URLSearchParams(search).get("live") === "1";
}

/** The bar above a live replay: following, reconnecting or ended, and "Back to live". */
export class LiveStatus {
  readonly root: HTMLElement;
  private readonly text = h("span", { class: "live-text", role: "status", "aria-live": "polite" }, "Connecting…");
  private readonly back = h("button", { type: "button", class: "live-back", "data-testid": "back-to-live" }, "Back to live");

  constructor(goLive: () => void) {
    this.back.addEventListener("click", goLive);
    this.root = h("div", { class: "live-bar", "data-testid": "live-status", "data-state": "connecting" }, this.text, this.back);
  }

  following(): void {
    this.set("live", "Live: following the customer, a second or two behind");
  }

  reconnecting(): void {
    this.set("reconnecting", "Connection lost: reconnecting…");
  }

  ended(text: string): void {
    this.set("ended", text);
    this.back.hidden = true;
  }

  private set(state: string, text: string): void {
    this.root.dataset.state = state;
    this.text.textContent = text;
  }
}

export type LiveEnd = "final" | "idle" | "gone" | "revoked" | "expired" | "refused" | "lost";

export interface LiveHandlers {
  /** A batch of the session: the stored ones first, then each as it arrives. */
  batch(events: RawEvent[], seq: number): void;
  /** Every batch stored before the view began has been handed over. */
  caughtUp(): void;
  /** The connection dropped; `resumed` once it is back. */
  connection(state: "lost" | "resumed"): void;
}

type ServerEvent = { event: string; data: string; id: string | null };

/** Splits `text/event-stream` text into events as it arrives (the format's own rules). */
export class EventStreamParser {
  private buffer = "";
  private event = "message";
  private data: string[] = [];
  private id: string | null = null;

  push(chunk: string): ServerEvent[] {
    this.buffer += chunk;
    const out: ServerEvent[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      if (line === "") {
        if (this.data.length) out.push({ event: this.event, data: this.data.join("\n"), id: this.id });
        this.event = "message";
        this.data = [];
        this.id = null;
        continue;
      }
      if (line.startsWith(":")) continue; // a heartbeat
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") this.event = value;
      else if (field === "data") this.data.push(value);
      else if (field === "id") this.id = value;
    }
    return out;
  }
}

// How long to wait before reconnecting, and how many times in a row before giving up.
const RECONNECT_MS = 2000;
const MAX_RECONNECTS = 15;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Follow the session until it ends; resolves with why it ended. */
export async function followLive(api: ReplayApi, handlers: LiveHandlers): Promise<LiveEnd> {
  let lastSeq: number | null = null;
  let caughtUp = false;
  let failures = 0;
  for (;;) {
    let response: Response;
    try {
      response = await api.live(lastSeq);
    } catch (error) {
      if (error instanceof LinkRefused) return "refused";
      if (++failures > MAX_RECONNECTS) return "lost";
      handlers.connection("lost");
      await pause(RECONNECT_MS);
      continue;
    }
    if (failures) handlers.connection("resumed");
    failures = 0;
    const parser = new EventStreamParser();
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const message of parser.push(value)) {
          if (message.event === "batch") {
            const batch = JSON.parse(message.data) as { seq: number; events: RawEvent[] };
            lastSeq = lastSeq === null ? batch.seq : Math.max(lastSeq, batch.seq);
            handlers.batch(batch.events, batch.seq);
          } else if (message.event === "caught-up" && !caughtUp) {
            caughtUp = true;
            handlers.caughtUp();
          } else if (message.event === "ended") {
            const reason = (JSON.parse(message.data) as { reason: LiveEnd }).reason;
            return reason;
          }
        }
      }
    } catch {
      // The connection dropped mid-stream: reconnect from the last batch.
    }
    if (++failures > MAX_RECONNECTS) return "lost";
    handlers.connection("lost");
    await pause(RECONNECT_MS);
  }
}

/** What the page says when the live view ends. */
export function endedText(reason: LiveEnd): string {
  switch (reason) {
    case "final":
      return "The customer left the page: the session has ended.";
    case "idle":
      return "Nothing has arrived from the customer for a while: the session has ended.";
    case "gone":
      return "This session was erased.";
    case "revoked":
    case "refused":
      return "This live link was revoked or is no longer valid.";
    case "expired":
      return "This live link has expired. Ask for a new one.";
    case "lost":
      return "The connection to ReplayDesk was lost.";
  }
}
