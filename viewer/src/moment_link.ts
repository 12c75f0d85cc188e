// Links to a moment of the replay: `?at=<ms>` (from the session's start) or `?at=first-error`.

/** Where the page was asked to open: an offset in ms, the first error, or the start. */
export type OpenAt = { kind: "offset"; ms: number } | { kind: "first-error" } | null;

export function readOpenAt(search: string): OpenAt {
  const at = new URLSearchParams(search).get("at");
  if (at === "first-error") return { kind: "first-error" };
  // Digits only: `?at=1e9`, `-5` or `12.5s` open at the start rather than somewhere surprising.
  if (at && /^\d{1,12}$/.test(at)) return { kind: "offset", ms: Number(at) };
  return null;
}

/**
 * This page's address opening at `offsetMs`, with the token this page was opened with: whoever
 * gets it sees what this link lets see (the same session, until the same expiry).
 */
export function momentLink(href: string, token: string, offsetMs: number): string {
  const url = new URL(href);
  url.searchParams.set("at", String(Math.max(0, Math.round(offsetMs))));
  url.hash = `t=${token}`;
  return url.toString();
}
