// The Zendesk ticket sidebar: the requester's recorded sessions, the one nearest the ticket
// first, each with a Watch button that opens a short-lived replay link bound to the ticket.

import "./sidebar.css";
import {
  candidates,
  CLOCK_SKEW_MS,
  DEFAULT_LOOKUP,
  lookupOrder,
  needsOlderPage,
  orderForTicket,
  type Candidate,
  type SessionList,
  type SessionSummary,
} from "./sessions";
import { emptyView, listView, problemView, statusView, type SessionRow } from "./view";
import { ApiError, apiError, ReplayDeskApi, type ZafClient } from "./zaf";

// "Recent" sessions: what fits a glance in a 320 px panel.
const PAGE = 10;
// When the newest page is all after the ticket, this many from before it hold the nearest one.
const OLDER_PAGE = 5;
// An agent opens the replay at once; the link need not outlive the call it is made for.
const LINK_TTL_SECONDS = 15 * 60;

const KEY_HELP =
  "Create one with `replaydesk keys create api --scope sessions:read --scope links:create` " +
  "and paste it into the app's API key setting (Admin Center > Apps > ReplayDesk).";

function root(): HTMLElement {
  return document.getElementById("replaydesk-sidebar") ?? document.body;
}

function show(...content: HTMLElement[]): void {
  const main = root();
  main.replaceChildren(...content);
  main.setAttribute("aria-busy", "false");
}

/** What to tell the agent about a refused call, `scope` being what the call needed. */
function refusal(error: ApiError, scope: string, doing: string): [string, string] {
  if (error.status === 401) {
    return ["The app's API key is not valid.", `ReplayDesk refused it (401). ${KEY_HELP}`];
  }
  if (error.status === 403) {
    return [`The app's API key lacks the scope ${scope}, so it cannot ${doing}.`, KEY_HELP];
  }
  if (error.status === 0) {
    return ["ReplayDesk could not be reached.", error.detail || "Check the app's ReplayDesk URL setting."];
  }
  return [`ReplayDesk could not ${doing} (${error.status}).`, error.detail];
}

function fitFrame(client: ZafClient): void {
  let last = 0;
  const resize = (): void => {
    const height = Math.ceil(document.documentElement.scrollHeight);
    if (height === last) return;
    last = height;
    void client.invoke("resize", { width: "100%", height: `${height}px` }).catch(() => undefined);
  };
  new ResizeObserver(resize).observe(document.body);
  resize();
}

function text(value: unknown): string {
  return typeof value === "string" || typeof value === "number" ? String(value).trim() : "";
}

async function sessionsOf(
  api: ReplayDeskApi,
  candidate: Candidate,
  ticketAt: number | null,
): Promise<SessionSummary[]> {
  const newest = await api.userSessions<SessionList>(candidate.userId, PAGE);
  if (!needsOlderPage(newest, ticketAt) || ticketAt === null) return newest.sessions;
  const around = new Date(ticketAt + CLOCK_SKEW_MS).toISOString();
  const older = await api.userSessions<SessionList>(candidate.userId, OLDER_PAGE, around);
  return [...newest.sessions, ...older.sessions];
}

async function run(): Promise<void> {
  const factory = window.ZAFClient;
  const client = factory ? factory.init() : null;
  if (!client) {
    show(
      problemView(
        "This page runs inside Zendesk.",
        factory
          ? "Open a ticket in Zendesk Support: the ReplayDesk app shows this panel beside it."
          : "Zendesk's app framework did not load; reload the ticket.",
      ),
    );
    return;
  }
  fitFrame(client);
  const [ticket, metadata] = await Promise.all([
    client.get(["ticket.id", "ticket.createdAt", "ticket.requester.externalId", "ticket.requester.email"]),
    client.metadata(),
  ]);
  const settings = metadata.settings ?? {};
  const ticketId = text(ticket["ticket.id"]);
  const created = Date.parse(text(ticket["ticket.createdAt"]));
  const ticketAt = Number.isNaN(created) ? null : created;
  const base = text(settings.replaydesk_url) || window.location.origin;
  const pageLookup = document.querySelector('meta[name="replaydesk-user-lookup"]')?.getAttribute("content");
  const order = lookupOrder(settings.user_lookup) ?? lookupOrder(pageLookup) ?? DEFAULT_LOOKUP;
  const tried = candidates(
    { externalId: ticket["ticket.requester.externalId"], email: ticket["ticket.requester.email"] },
    order,
  );
  if (!ticketId) {
    show(problemView("This ticket is not saved yet.", "Sessions show once the ticket has an ID."));
    return;
  }
  if (!tried.length) {
    show(emptyView("The requester has no external ID or e-mail to find their sessions by.", []));
    return;
  }
  const api = new ReplayDeskApi(client, base);
  const watch = (session: SessionSummary, live: boolean, row: SessionRow): void => {
    void openReplay(api, `zendesk:${ticketId}`, session, live, row);
  };
  for (const candidate of tried) {
    let sessions: SessionSummary[];
    try {
      sessions = await sessionsOf(api, candidate, ticketAt);
    } catch (reason) {
      show(problemView(...refusal(apiError(reason), "sessions:read", "list sessions")));
      return;
    }
    if (!sessions.length) continue;
    const ordered = orderForTicket(sessions, ticketAt);
    show(listView(candidate, ordered.sessions, ordered.nearest, watch).element);
    return;
  }
  show(emptyView("No sessions recorded for this requester.", tried));
}

/** Mint a link bound to the ticket and open it in a new tab.
 *
 * The tab is opened at the click, before the link exists: a tab opened after the request
 * returns would no longer count as the agent's doing, and popup blockers stop it. */
async function openReplay(
  api: ReplayDeskApi,
  ticket: string,
  session: SessionSummary,
  // A live link follows the session as it records (the service refuses one once it ended).
  live: boolean,
  row: SessionRow,
): Promise<void> {
  const tab = window.open("", "_blank");
  if (tab) tab.opener = null;
  row.busy(true);
  row.say("");
  try {
    const link = await api.mintLink(session.session_id, ticket, LINK_TTL_SECONDS, live);
    if (tab && !tab.closed) tab.location.replace(link.url);
    else row.say("The browser blocked the new tab.", link.url);
  } catch (reason) {
    tab?.close();
    const error = apiError(reason);
    if (live && error.status === 409) {
      row.say("The session has just ended: Watch replays it.");
      return;
    }
    const [title, advice] = refusal(error, "links:create", "open replays");
    row.say(`${title} ${advice}`.trim());
  } finally {
    row.busy(false);
  }
}

function start(): void {
  show(statusView("Loading sessions…"));
  root().setAttribute("aria-busy", "true");
  run().catch((reason: unknown) => {
    show(problemView("The sidebar could not load.", reason instanceof Error ? reason.message : String(reason)));
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
