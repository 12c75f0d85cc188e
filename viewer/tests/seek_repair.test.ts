// What a seek restores: the last scroll of each node and when each node's animations started,
// read from the events before the target only.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RawEvent } from "../src/event_stream";
import { SeekHistory } from "../src/seek_repair";

const T = 1_700_000_000_000;

function snapshot(ts: number, top = 0): RawEvent {
  return { type: 2, timestamp: ts, data: { node: { type: 0, id: 1, childNodes: [] }, initialOffset: { left: 0, top } } };
}

function scroll(ts: number, id: number, y: number): RawEvent {
  return { type: 3, timestamp: ts, data: { source: 3, id, x: 0, y } };
}

function added(ts: number, id: number, children: unknown[] = []): RawEvent {
  const node = { type: 2, id, tagName: "div", attributes: {}, childNodes: children };
  return { type: 3, timestamp: ts, data: { source: 0, texts: [], attributes: [], removes: [], adds: [{ parentId: 1, node }] } };
}

function attributes(ts: number, id: number, changed: Record<string, unknown>): RawEvent {
  return { type: 3, timestamp: ts, data: { source: 0, texts: [], removes: [], adds: [], attributes: [{ id, attributes: changed }] } };
}

function history(...events: RawEvent[]): SeekHistory {
  const kept = new SeekHistory();
  kept.add(events);
  return kept;
}

test("the last scroll of each node before the moment, the document's from its snapshot on", () => {
  const kept = history(snapshot(T, 40), scroll(T + 100, 1, 600), scroll(T + 200, 7, 300), scroll(T + 300, 1, 900));
  assert.deepEqual([...kept.stateAt(T + 50).scrolls], [[1, { x: 0, y: 40 }]]);
  assert.deepEqual(
    [...kept.stateAt(T + 250).scrolls],
    [
      [1, { x: 0, y: 600 }],
      [7, { x: 0, y: 300 }],
    ],
  );
  // An event at the moment itself is the replay's next step, not part of the moment.
  assert.equal(kept.stateAt(T + 300).scrolls.get(1)?.y, 600);
  assert.equal(kept.stateAt(T + 301).scrolls.get(1)?.y, 900);
  assert.equal(kept.stateAt(T + 250).nextScrollAt, T + 300);
  assert.equal(kept.stateAt(T + 400).nextScrollAt, Infinity);
});

test("a later full snapshot starts over: scrolls before it are gone", () => {
  const kept = history(snapshot(T), scroll(T + 100, 7, 300), snapshot(T + 1000, 120), scroll(T + 1100, 9, 50));
  const state = kept.stateAt(T + 1200);
  assert.equal(state.snapshotAt, T + 1000);
  assert.deepEqual(
    [...state.scrolls],
    [
      [1, { x: 0, y: 120 }],
      [9, { x: 0, y: 50 }],
    ],
  );
  assert.equal(kept.stateAt(T + 500).snapshotAt, T);
});

test("a node inserted again has lost its scroll, as a live box does", () => {
  const kept = history(snapshot(T), scroll(T + 100, 7, 300), added(T + 200, 5, [{ type: 2, id: 7, childNodes: [] }]));
  assert.equal(kept.stateAt(T + 150).scrolls.get(7)?.y, 300);
  assert.equal(kept.stateAt(T + 250).scrolls.has(7), false);
});

test("animations start when a node enters or changes class, state or display, not on other changes", () => {
  const kept = history(
    snapshot(T),
    added(T + 100, 20, [{ type: 2, id: 21, childNodes: [] }]),
    attributes(T + 200, 30, { class: "dialog open" }),
    attributes(T + 300, 31, { "aria-label": "Close" }),
    attributes(T + 400, 32, { style: { display: "block" } }),
    attributes(T + 500, 33, { style: { color: "red" } }),
    attributes(T + 600, 34, { style: "animation: enter 1s" }),
  );
  const state = kept.stateAt(T + 1000);
  assert.equal(state.snapshotAt, T);
  assert.deepEqual(
    [...state.startedAt],
    [
      [20, T + 100],
      [21, T + 100],
      [30, T + 200],
      [32, T + 400],
      [34, T + 600],
    ],
  );
  assert.equal(kept.stateAt(T + 150).startedAt.has(30), false);
});

test("before any snapshot there is nothing to restore", () => {
  const kept = history({ type: 4, timestamp: T, data: { href: "https://shop.test/", width: 800, height: 600 } }, snapshot(T + 5));
  const state = kept.stateAt(T + 2);
  assert.equal(state.snapshotAt, null);
  assert.equal(state.scrolls.size, 0);
});
