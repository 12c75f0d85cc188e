// The page's header: whose session, where it was recorded, what went wrong, and what to do next.

import type { Environment, Report, Summary } from "./api";
import { formatOffset, h } from "./dom";
import { windowNote } from "./window_note";

/** A kind of trouble the header counts, and where its occurrences are (ms from the start);
 * `short` is its noun where the header is narrow. */
export type Signal = { kind: string; noun: string; short?: string; count: number; offsets: number[] };

export type HeaderActions = {
  /** Go to the next occurrence of a signal after the playhead (the first again after the last). */
  next: (signal: Signal) => void;
  jumpToFirstError: () => void;
  copyLink: () => void;
  showShortcuts: () => void;
};

const named = (name?: string, version?: string): string => (name ? (version ? `${name} ${version}` : name) : "");

/** `Chrome 131 · Windows 10 · desktop · 1280×720 · release 4.2.0`; the rest on hover. */
export function environmentText(environment: Environment): [string, string] {
  const e = environment;
  const shown = [
    named(e.browser, e.browser_version),
    named(e.os, e.os_version),
    e.device ?? "",
    e.viewport ? `${e.viewport.width}×${e.viewport.height}` : "",
    e.release ? `release ${e.release}` + (e.environment ? ` (${e.environment})` : "") : (e.environment ?? ""),
  ].filter(Boolean);
  const details = [
    e.language ? `Language ${e.language}` : "",
    e.time_zone ? `Time zone ${e.time_zone}` : "",
    e.screen ? `Screen ${e.screen.width}×${e.screen.height} @${e.pixel_ratio ?? 1}x` : "",
    e.user_agent ?? "",
  ].filter(Boolean);
  return [shown.join(" · "), details.join("\n")];
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function startedText(summary: Summary): string {
  return new Date(summary.started_at).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

function signalButton(signal: Signal, actions: HeaderActions): HTMLElement {
  const count = signal.count;
  const text = plural(count, signal.noun);
  const button = h(
    "button",
    {
      type: "button",
      class: `signal signal-${signal.kind}${count ? " bad" : ""}`,
      "data-testid": `signal-${signal.kind}`,
      "data-count": count,
      title: count ? `${text}: go to the next one` : `No ${signal.noun}s`,
      "aria-label": count ? `${text}: go to the next one` : `No ${signal.noun}s`,
    },
    h("span", { class: `dot dot-${signal.kind}`, "aria-hidden": "true" }),
    h("span", { class: "long" }, text),
    h("span", { class: "short", "aria-hidden": "true" }, signal.short ? `${count} ${signal.short}` : text),
  );
  button.disabled = count === 0;
  button.addEventListener("click", () => actions.next(signal));
  return button;
}

/** The buttons at the header's right; jumping waits for the report to know of an error. */
function actionButtons(actions: HeaderActions, hasError: boolean): HTMLElement {
  const jump = h("button", { type: "button", class: "jump", "data-testid": "jump-to-error" }, "Jump to first error");
  jump.disabled = !hasError;
  jump.addEventListener("click", actions.jumpToFirstError);
  const copy = h(
    "button",
    { type: "button", "data-testid": "copy-link", title: "Copy this page's link, opening at the current moment" },
    "Copy link at this moment",
  );
  copy.addEventListener("click", actions.copyLink);
  const help = h(
    "button",
    { type: "button", class: "help", "aria-label": "Keyboard shortcuts", "aria-keyshortcuts": "?", title: "Keyboard shortcuts (?)" },
    "?",
  );
  help.addEventListener("click", actions.showShortcuts);
  return h("span", { class: "actions" }, jump, copy, help);
}

/**
 * The header while the session's report is on its way: the same two rows, so the replay below
 * does not move when the full header takes its place.
 */
export function pendingHeader(actions: HeaderActions): HTMLElement {
  // A chip as tall as a signal's, holding the second row's height.
  const placeholderChip = h("button", { type: "button", class: "signal", "aria-hidden": "true", tabindex: "-1" }, "\u00a0");
  placeholderChip.disabled = true;
  return h(
    "header",
    { class: "top", "aria-busy": "true" },
    h(
      "div",
      { class: "top-row" },
      h("strong", { class: "brand" }, "ReplayDesk"),
      h("span", { class: "fact muted", "data-testid": "report-status" }, "Loading the session's details…"),
      h("span", { class: "spacer" }),
      actionButtons(actions, false),
    ),
    h(
      "div",
      { class: "top-row" },
      h("span", { class: "environment muted", "data-testid": "environment" }, "\u00a0"),
      h("span", { class: "spacer" }),
      h("span", { class: "signals" }, placeholderChip),
    ),
  );
}

/** The report could not be read: the replay and its panels work, the header says what is missing. */
export function reportMissing(pending: HTMLElement): void {
  pending.removeAttribute("aria-busy");
  const status = pending.querySelector("[data-testid=report-status]");
  if (status) status.textContent = "The session's details could not be loaded: reload to try again.";
}

export function header(report: Report, signals: Signal[], actions: HeaderActions): HTMLElement {
  const s = report.session;
  const [environment, details] = s.environment ? environmentText(s.environment) : ["", ""];
  const user = s.user_id ?? "unknown user";
  return h(
    "header",
    { class: "top" },
    h(
      "div",
      { class: "top-row" },
      h("strong", { class: "brand" }, "ReplayDesk"),
      h("span", { class: "user", title: `User ${user}`, "data-testid": "user" }, user),
      h("span", { class: "fact", "data-testid": "started" }, startedText(s)),
      h("span", { class: "fact", title: "Duration", "data-testid": "duration" }, formatOffset(s.duration_ms)),
      ...[windowNote(s)].filter((note): note is HTMLElement => note !== null),
      h("span", { class: "spacer" }),
      actionButtons(actions, s.first_error_at !== null),
    ),
    h(
      "div",
      { class: "top-row" },
      environment
        ? h("span", { class: "environment", title: details, "data-testid": "environment" }, environment)
        : h("span", { class: "environment muted", "data-testid": "environment" }, "Environment not recorded"),
      h("span", { class: "spacer" }),
      h("span", { class: "signals", role: "group", "aria-label": "What went wrong" }, ...signals.map((signal) => signalButton(signal, actions))),
    ),
  );
}
