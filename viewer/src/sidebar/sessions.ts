// What the sidebar shows of a requester's sessions: whom to look up, in which order to list
// them, and their one-line texts. Pure functions, tested under node (viewer/tests).

import type { Environment } from "../api";

/** A session summary as `GET /api/v1/users/{user_id}/sessions` lists it (the fields used here). */
export type SessionSummary = {
  session_id: string;
  user_id: string | null;
  started_at: string;
  ended_at: string;
  duration_ms: number;
  pages: string[];
  counts: { events: number; clicks: number; errors: number; failed_requests: number; rage_clicks: number };
  first_error_at: string | null;
  active: boolean;
  environment?: Environment | null;
};

export type SessionList = { sessions: SessionSummary[]; next_before: string | null };

/** The requester's fields that can hold the site's user ID, as the Zendesk plugin names them. */
export const REQUESTER_FIELDS = ["external_id", "email"] as const;
export type RequesterField = (typeof REQUESTER_FIELDS)[number];
export const DEFAULT_LOOKUP: RequesterField[] = ["external_id", "email"];

export const FIELD_NAMES: Record<RequesterField, string> = { external_id: "external ID", email: "e-mail" };

/** Session times come from the customer's browser clock, ticket times from Zendesk's: two
 * minutes absorbs the usual drift (the same margin the plugin's ticket note uses). */
export const CLOCK_SKEW_MS = 2 * 60 * 1000;

/** The fields of a lookup setting (`external_id,email`) in order; null when it is blank or
 * names anything else, so that the next setting in line applies. */
export function lookupOrder(value: unknown): RequesterField[] | null {
  if (typeof value !== "string") return null;
  const parts = value
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
  if (!parts.length || !parts.every((part) => (REQUESTER_FIELDS as readonly string[]).includes(part))) return null;
  return [...new Set(parts as RequesterField[])];
}

export type Requester = { externalId?: unknown; email?: unknown };
export type Candidate = { field: RequesterField; userId: string };

/** The user IDs to try for a requester, in lookup order: blank and repeated values skipped. */
export function candidates(requester: Requester, order: RequesterField[]): Candidate[] {
  const values: Record<RequesterField, unknown> = { external_id: requester.externalId, email: requester.email };
  const seen = new Set<string>();
  const found: Candidate[] = [];
  for (const field of order) {
    const raw = values[field];
    const userId = typeof raw === "string" || typeof raw === "number" ? String(raw).trim() : "";
    if (!userId || seen.has(userId)) continue;
    seen.add(userId);
    found.push({ field, userId });
  }
  return found;
}

/** The session the ticket is most likely about: the one running when it was created (the
 * latest started, when two tabs were), else the one that ended last before it, else the first
 * one after it. Null without sessions or a ticket time. */
export function nearestSession(sessions: SessionSummary[], ticketAt: number | null): SessionSummary | null {
  if (ticketAt === null || !sessions.length) return null;
  const start = (s: SessionSummary): number => Date.parse(s.started_at);
  const end = (s: SessionSummary): number => Date.parse(s.ended_at);
  const before = sessions.filter((s) => start(s) <= ticketAt + CLOCK_SKEW_MS);
  const running = before.filter((s) => end(s) >= ticketAt - CLOCK_SKEW_MS);
  const latest = (pool: SessionSummary[], key: (s: SessionSummary) => number): SessionSummary =>
    pool.reduce((best, s) => (key(s) > key(best) ? s : best));
  if (running.length) return latest(running, start);
  if (before.length) return latest(before, end);
  return latest(sessions, (s) => -start(s));
}

/** The sessions to list: the nearest one to the ticket first, then the others newest first. */
export function orderForTicket(
  sessions: SessionSummary[],
  ticketAt: number | null,
): { sessions: SessionSummary[]; nearest: string | null } {
  const unique = [...new Map(sessions.map((s) => [s.session_id, s])).values()];
  unique.sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at));
  const nearest = nearestSession(unique, ticketAt);
  if (nearest === null) return { sessions: unique, nearest: null };
  return { sessions: [nearest, ...unique.filter((s) => s !== nearest)], nearest: nearest.session_id };
}

/** Whether the newest page of sessions may miss the one nearest the ticket: it is full and
 * every session on it started after the ticket. */
export function needsOlderPage(list: SessionList, ticketAt: number | null): boolean {
  if (ticketAt === null || list.next_before === null || !list.sessions.length) return false;
  return list.sessions.every((s) => Date.parse(s.started_at) > ticketAt + CLOCK_SKEW_MS);
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** `4:05`, `1:02:05`: how long a session ran. */
export function durationText(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

/** `Firefox 133 · Windows 10 · mobile`; empty when the recorder sent nothing. */
export function environmentText(environment: Environment | null | undefined): string {
  if (!environment) return "";
  const named = (name?: string, version?: string): string => (name ? [name, version].filter(Boolean).join(" ") : "");
  const device = environment.device && environment.device !== "desktop" ? environment.device : "";
  return [named(environment.browser, environment.browser_version), named(environment.os, environment.os_version), device]
    .filter(Boolean)
    .join(" · ");
}

/** `3 pages · 1 error · 2 rage clicks`. */
export function signalsText(session: SessionSummary): string {
  return [
    plural(session.pages.length, "page"),
    plural(session.counts.errors, "error"),
    plural(session.counts.rage_clicks, "rage click"),
  ].join(" · ");
}
