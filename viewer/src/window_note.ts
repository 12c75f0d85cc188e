// A windowed link shows part of a session: the page says which part, and maps the report's
// times (offsets from the session's start) onto the player's (which starts at the window).

import type { Summary } from "./api";
import { formatOffset, h } from "./dom";
import "./window_note.css";

// The service stamps the events that rebuild the page at the window's start with that very
// time, the player's zero; rrweb applies events at once only when they lie before the time it
// is asked for, so a paused player shows the rebuilt page from this offset on.
export const REBUILT_AT_MS = 1;

/** Milliseconds from the session's start to where the player starts: 0 without a window. */
export function windowStart(summary: Summary): number {
  return summary.window?.from_ms ?? 0;
}

/** `34-minute`, or `45-second` for a session under a minute. */
function length(ms: number): string {
  if (ms < 60_000) return `${Math.max(1, Math.round(ms / 1000))}-second`;
  return `${Math.round(ms / 60_000)}-minute`;
}

/** "Showing 10:02–10:12 of a 34-minute session"; null for a link to the whole session. */
export function windowNote(summary: Summary): HTMLElement | null {
  const window = summary.window;
  if (!window) return null;
  return h(
    "span",
    {
      class: "window-note",
      "data-testid": "window-note",
      title: "This link shows only part of the session. Ask for a link to the whole session to see the rest.",
    },
    `Showing ${formatOffset(window.from_ms)}–${formatOffset(window.to_ms)} of a ${length(summary.duration_ms)} session`,
  );
}
