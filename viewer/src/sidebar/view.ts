// The sidebar's states as DOM: loading, a problem, nobody found, and the list of sessions.
// Everything shown comes from the requester or the recording: text only, never markup.

import { h } from "../dom";
import {
  durationText,
  environmentText,
  FIELD_NAMES,
  signalsText,
  type Candidate,
  type SessionSummary,
} from "./sessions";

export function statusView(text: string): HTMLElement {
  return h("p", { class: "rd-status", role: "status", "data-testid": "status" }, text);
}

/** A problem that stops the sidebar: what happened, and what to do about it. */
export function problemView(title: string, advice: string): HTMLElement {
  return h(
    "div",
    { class: "rd-problem", role: "alert", "data-testid": "problem" },
    h("p", { class: "rd-problem-title" }, title),
    advice ? h("p", {}, advice) : null,
  );
}

export function lookedUpText(tried: Candidate[]): string {
  return tried.length
    ? "Looked up by " + tried.map((c) => `${FIELD_NAMES[c.field]} ${c.userId}`).join(", then ") + "."
    : "";
}

export function emptyView(text: string, tried: Candidate[]): HTMLElement {
  return h(
    "div",
    { class: "rd-empty", "data-testid": "empty" },
    h("p", { class: "rd-empty-title" }, text),
    tried.length ? h("p", { class: "rd-muted" }, lookedUpText(tried)) : null,
  );
}

/** What a session's Watch buttons do: open a replay of it (`live`: while it is recording). */
export type Watch = (session: SessionSummary, live: boolean, row: SessionRow) => void;

export class SessionRow {
  readonly element: HTMLLIElement;
  private readonly notice: HTMLElement;
  private readonly buttons: HTMLButtonElement[] = [];

  constructor(session: SessionSummary, nearest: boolean, watch: Watch) {
    const started = new Date(session.started_at);
    const when = started.toLocaleString(undefined, {
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    });
    const button = (text: string, live: boolean): HTMLButtonElement => {
      const el = h(
        "button",
        {
          type: "button",
          class: live ? "rd-watch rd-watch-live" : "rd-watch",
          "data-testid": live ? "watch-live" : "watch",
          "aria-label": `${text}: the session of ${when}`,
        },
        text,
      );
      el.addEventListener("click", () => watch(session, live, this));
      this.buttons.push(el);
      return el;
    };
    const environment = environmentText(session.environment);
    this.notice = h("p", { class: "rd-row-notice", role: "alert", "data-testid": "row-notice", hidden: true });
    this.element = h(
      "li",
      {
        class: nearest ? "rd-session rd-nearest" : "rd-session",
        "data-testid": "session",
        "data-session-id": session.session_id,
      },
      nearest ? h("p", { class: "rd-badge", "data-testid": "nearest" }, "Nearest the ticket") : null,
      h(
        "p",
        { class: "rd-when" },
        h("time", { datetime: session.started_at }, when),
        ` · ${durationText(session.duration_ms)}`,
        session.active ? h("span", { class: "rd-recording" }, " · recording") : null,
      ),
      h(
        "p",
        { class: session.counts.errors || session.counts.rage_clicks ? "rd-signals rd-bad" : "rd-signals", title: session.pages.join("\n") },
        signalsText(session),
      ),
      environment ? h("p", { class: "rd-muted rd-environment" }, environment) : null,
      h("p", { class: "rd-actions" }, button("Watch", false), session.active ? button("Watch live", true) : null),
      this.notice,
    );
  }

  busy(on: boolean): void {
    for (const button of this.buttons) button.disabled = on;
    this.element.setAttribute("aria-busy", String(on));
  }

  /** Say something under the session (a refusal, or a link to open by hand); empty: nothing. */
  say(text: string, link?: string): void {
    this.notice.replaceChildren(text);
    if (link) {
      this.notice.append(
        " ",
        h("a", { href: link, target: "_blank", rel: "noopener noreferrer", "data-testid": "replay-link" }, "Open the replay"),
      );
    }
    this.notice.hidden = !text && !link;
  }
}

export function listView(
  requester: Candidate,
  sessions: SessionSummary[],
  nearest: string | null,
  watch: Watch,
): { element: HTMLElement; rows: SessionRow[] } {
  const rows = sessions.map((s) => new SessionRow(s, s.session_id === nearest, watch));
  const element = h(
    "section",
    { class: "rd-list", "aria-labelledby": "rd-heading" },
    h("h1", { id: "rd-heading", class: "rd-heading" }, "Recorded sessions"),
    h("p", { class: "rd-muted rd-who", "data-testid": "requester" }, `${FIELD_NAMES[requester.field]}: ${requester.userId}`),
    h("ul", { class: "rd-sessions", "data-testid": "sessions" }, ...rows.map((row) => row.element)),
  );
  return { element, rows };
}
