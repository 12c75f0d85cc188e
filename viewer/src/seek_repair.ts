// What a seek must restore that rrweb's fast-forward does not: the scroll positions the page had
// at the target time, and entrance animations as far along as they were on the live page.
//
// rrweb applies the events before the target in one synchronous pass. A scroll applied in that
// pass can land on a node that is not scrollable yet (its content or styles arrive later in the
// same pass) and is clamped to 0, or a later step re-applies the scroll of an earlier seek; and
// every element the pass rebuilt starts its CSS animations from their first frame, where a
// paused replay leaves them (often invisible). So after each seek the player asks this module
// what the events say and puts the rebuilt page in that state.

import type { RawEvent } from "./event_stream";

const FULL_SNAPSHOT = 2;
const INCREMENTAL = 3;
const SOURCE_MUTATION = 0;
const SOURCE_SCROLL = 3;
// Attribute changes that can start an element's animations again on the live page: a new class
// or `open`/`hidden` state, or an inline style that names an animation or a display.
const RESTARTING_ATTRIBUTES: ReadonlySet<string> = new Set(["class", "open", "hidden"]);
const RESTARTING_STYLE = /animation|display/i;

export type ScrollPosition = { x: number; y: number };

/** What the recording says about the page at one moment, beyond what rrweb rebuilds. */
export type SeekState = {
  /** Timestamp of the moment. */
  at: number;
  /** When the full snapshot the page was rebuilt from was taken; null before any snapshot. */
  snapshotAt: number | null;
  /** Last recorded scroll of each node scrolled since that snapshot (the document's included). */
  scrolls: Map<number, ScrollPosition>;
  /** When each node entered the page, or last changed in a way that restarts its animations. */
  startedAt: Map<number, number>;
  /** When the next scroll after the moment was recorded (Infinity if none). */
  nextScrollAt: number;
};

type SerializedNode = { id?: unknown; childNodes?: unknown };
type MutationData = {
  adds?: Array<{ node?: SerializedNode }>;
  attributes?: Array<{ id?: unknown; attributes?: Record<string, unknown> }>;
};
type ScrollData = { id?: unknown; x?: unknown; y?: unknown };

function isScroll(event: RawEvent): boolean {
  return event.type === INCREMENTAL && (event.data as { source?: unknown } | null)?.source === SOURCE_SCROLL;
}

function restartsAnimations(attributes: Record<string, unknown>): boolean {
  for (const [name, value] of Object.entries(attributes)) {
    if (RESTARTING_ATTRIBUTES.has(name)) return true;
    if (name !== "style" || value === null || value === undefined) continue;
    // rrweb sends a style attribute whole (a string) or as the properties that changed.
    const text = typeof value === "string" ? value : Object.keys(value as object).join(" ");
    if (RESTARTING_STYLE.test(text)) return true;
  }
  return false;
}

/** The recording, kept as it streams in, and the state it gives any moment. */
export class SeekHistory {
  private readonly events: RawEvent[] = [];
  private readonly snapshots: number[] = [];

  add(events: readonly RawEvent[]): void {
    for (const event of events) {
      if (event.type === FULL_SNAPSHOT) this.snapshots.push(this.events.length);
      this.events.push(event);
    }
  }

  /**
   * The state at timestamp `at`, from the events strictly before it: rrweb applies those when
   * it seeks and leaves an event at the target itself for playback.
   */
  stateAt(at: number): SeekState {
    const events = this.events;
    const end = firstAtOrAfter(events, at);
    let from = -1;
    for (const index of this.snapshots) {
      if (index >= end) break;
      from = index;
    }
    const scrolls = new Map<number, ScrollPosition>();
    const startedAt = new Map<number, number>();
    let snapshotAt: number | null = null;
    if (from >= 0) {
      const snapshot = events[from]!;
      snapshotAt = snapshot.timestamp;
      const data = snapshot.data as { node?: { id?: unknown }; initialOffset?: { left?: unknown; top?: unknown } };
      const documentId = data.node?.id;
      const offset = data.initialOffset;
      if (typeof documentId === "number" && typeof offset?.left === "number" && typeof offset.top === "number") {
        scrolls.set(documentId, { x: offset.left, y: offset.top });
      }
      for (let i = from + 1; i < end; i++) apply(events[i]!, scrolls, startedAt);
    }
    let nextScrollAt = Infinity;
    for (let i = end; i < events.length; i++) {
      if (isScroll(events[i]!)) {
        nextScrollAt = events[i]!.timestamp;
        break;
      }
    }
    return { at, snapshotAt, scrolls, startedAt, nextScrollAt };
  }
}

/** Index of the first event at or after `at` (events arrive in time order). */
function firstAtOrAfter(events: readonly RawEvent[], at: number): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (events[mid]!.timestamp < at) low = mid + 1;
    else high = mid;
  }
  return low;
}

function apply(event: RawEvent, scrolls: Map<number, ScrollPosition>, startedAt: Map<number, number>): void {
  if (event.type !== INCREMENTAL || event.data === null || typeof event.data !== "object") return;
  const source = (event.data as { source?: unknown }).source;
  if (source === SOURCE_SCROLL) {
    const { id, x, y } = event.data as ScrollData;
    if (typeof id === "number" && id >= 0 && typeof x === "number" && typeof y === "number") {
      scrolls.set(id, { x, y });
    }
  } else if (source === SOURCE_MUTATION) {
    const data = event.data as MutationData;
    for (const add of data.adds ?? []) {
      if (add.node) entered(add.node, event.timestamp, scrolls, startedAt);
    }
    for (const change of data.attributes ?? []) {
      if (typeof change.id === "number" && change.attributes && restartsAnimations(change.attributes)) {
        startedAt.set(change.id, event.timestamp);
      }
    }
  }
}

/** A node (re)inserted: its animations start now, and a re-inserted box has lost its scroll. */
function entered(
  node: SerializedNode,
  ts: number,
  scrolls: Map<number, ScrollPosition>,
  startedAt: Map<number, number>,
): void {
  if (typeof node.id === "number") {
    startedAt.set(node.id, ts);
    scrolls.delete(node.id);
  }
  if (Array.isArray(node.childNodes)) {
    for (const child of node.childNodes as SerializedNode[]) {
      if (child && typeof child === "object") entered(child, ts, scrolls, startedAt);
    }
  }
}

/** How the repair reaches rrweb's rebuilt page: its frame and the map from ids to nodes. */
export type ReplayedPage = {
  iframe: HTMLIFrameElement;
  getMirror(): { getNode(id: number): Node | null; getId(node: Node | undefined | null): number };
};

const DOCUMENT_NODE = 9;
const ELEMENT_NODE = 1;

/** Scroll each node the recording scrolled to where it was; returns how many were scrolled. */
export function applyScrolls(page: ReplayedPage, state: SeekState): number {
  const mirror = page.getMirror();
  const frameDocument = page.iframe.contentDocument;
  let applied = 0;
  for (const [id, { x, y }] of state.scrolls) {
    const node = mirror.getNode(id);
    if (!node) continue;
    // "instant": a page's `scroll-behavior: smooth` would otherwise leave it mid-way.
    const to: ScrollToOptions = { left: x, top: y, behavior: "instant" };
    if (node === frameDocument) page.iframe.contentWindow?.scrollTo(to);
    else if (node.nodeType === DOCUMENT_NODE) (node as Document).defaultView?.scrollTo(to);
    else if (node.nodeType === ELEMENT_NODE) (node as Element).scrollTo(to);
    else continue;
    applied++;
  }
  return applied;
}

/**
 * Put each CSS animation and transition of the rebuilt page where it was on the live page at the
 * moment: `elapsed` since its element (or an ancestor) entered or last changed class, state or
 * display. A finished entrance animation is then finished here too, and a running one resumes
 * from the right frame when playback goes on. Returns how many were moved.
 */
export function settleAnimations(page: ReplayedPage, state: SeekState): number {
  const frameDocument = page.iframe.contentDocument;
  if (!frameDocument || state.snapshotAt === null || typeof frameDocument.getAnimations !== "function") return 0;
  const mirror = page.getMirror();
  let moved = 0;
  for (const animation of frameDocument.getAnimations()) {
    const effect = animation.effect as KeyframeEffect | null;
    let start = state.snapshotAt;
    for (let node: Node | null = effect?.target ?? null; node; node = node.parentNode) {
      const started = state.startedAt.get(mirror.getId(node));
      if (started !== undefined && started > start) start = started;
    }
    const elapsed = state.at - start;
    if (elapsed <= 0) continue;
    // Setting the time keeps the play state CSS gives it (rrweb pauses animations while the
    // replay is paused); past its end a finite animation is finished, as it was live.
    animation.currentTime = elapsed;
    moved++;
  }
  return moved;
}
