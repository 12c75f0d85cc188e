// The console panel: every console line of the session, filtered by level and text.

import type { ConsoleEntry } from "./entries";
import { formatOffset, h } from "./dom";
import { VirtualList } from "./virtual_list";

/** The filter's levels; each console method belongs to one. */
export const LEVEL_GROUPS = ["error", "warn", "info", "log", "debug"] as const;
type LevelGroup = (typeof LEVEL_GROUPS)[number];
const GROUP_NAMES: Record<LevelGroup, string> = {
  error: "Errors",
  warn: "Warnings",
  info: "Info",
  log: "Logs",
  debug: "Debug",
};

export function levelGroup(level: string): LevelGroup {
  if (level === "error" || level === "assert") return "error";
  if (level === "warn" || level === "info" || level === "debug") return level;
  return "log"; // log, trace, dir, table, count, time, group...
}

/** A panel's parts the tabs need: its body, its list, and what its tab says. */
export interface TimedPanel {
  readonly root: HTMLElement;
  readonly search: HTMLInputElement | null;
  count(): number;
  setPlayhead(ts: number, reveal: boolean): void;
  shown(): void;
}

export class ConsolePanel implements TimedPanel {
  readonly root: HTMLElement;
  readonly search: HTMLInputElement;
  private readonly list: VirtualList<ConsoleEntry>;
  private readonly detail = h("section", { class: "detail", "data-testid": "console-detail", "aria-label": "Console entry" });
  private readonly levelButtons = new Map<LevelGroup, HTMLButtonElement>();
  private readonly chosen = new Set<LevelGroup>();
  private entries: ConsoleEntry[] = [];
  private start = 0;
  private lastQuery = "";

  constructor(private readonly seek: (ts: number) => void) {
    this.list = new VirtualList<ConsoleEntry>({
      testId: "console-panel",
      label: "Console",
      empty: "No console output.",
      renderRow: (entry) => this.row(entry),
      onActivate: (entry) => this.seek(entry.ts),
      onSelect: (entry) => this.showDetail(entry),
    });
    this.search = h("input", {
      type: "search",
      class: "search",
      placeholder: "Search console",
      "aria-label": "Search console messages",
      "data-testid": "console-search",
    });
    this.search.addEventListener("input", () => this.apply());
    const levels = h("div", { class: "levels", role: "group", "aria-label": "Show levels" });
    for (const group of LEVEL_GROUPS) {
      const button = h("button", { type: "button", class: "level-filter", "data-level": group, "aria-pressed": "false" });
      button.addEventListener("click", () => this.toggle(group));
      levels.appendChild(button);
      this.levelButtons.set(group, button);
    }
    this.detail.hidden = true;
    this.root = h(
      "div",
      { class: "panel console" },
      h("div", { class: "toolbar" }, levels, this.search),
      this.list.el,
      this.detail,
    );
    this.apply();
  }

  setEntries(entries: ConsoleEntry[], start: number): void {
    this.entries = entries;
    this.start = start;
    this.apply();
  }

  count(): number {
    return this.entries.length;
  }

  setPlayhead(ts: number, reveal: boolean): void {
    this.list.setPlayhead(ts, reveal);
  }

  shown(): void {
    this.list.refresh();
  }

  /** Only these levels (none chosen: all of them). */
  toggle(group: LevelGroup): void {
    if (this.chosen.has(group)) this.chosen.delete(group);
    else this.chosen.add(group);
    this.apply();
  }

  private apply(): void {
    const query = this.search.value.trim().toLowerCase();
    const counts = new Map<LevelGroup, number>(LEVEL_GROUPS.map((g) => [g, 0]));
    const shown = this.entries.filter((entry) => {
      const group = levelGroup(entry.level);
      const matches = !query || entry.message.toLowerCase().includes(query);
      if (matches) counts.set(group, counts.get(group)! + 1);
      return matches && (this.chosen.size === 0 || this.chosen.has(group));
    });
    for (const [group, button] of this.levelButtons) {
      const pressed = this.chosen.has(group);
      button.setAttribute("aria-pressed", String(pressed));
      button.textContent = `${GROUP_NAMES[group]} ${counts.get(group)}`;
      button.title = pressed ? `Stop filtering to ${GROUP_NAMES[group].toLowerCase()}` : `Show only ${GROUP_NAMES[group].toLowerCase()} (with any others chosen)`;
    }
    if (query !== this.lastQuery) {
      this.lastQuery = query;
      this.list.resumeFollowing();
    }
    this.list.setItems(shown);
  }

  private row(entry: ConsoleEntry): HTMLElement {
    const group = levelGroup(entry.level);
    return h(
      "div",
      { class: `row level-${entry.level}${group === "error" ? " error" : ""}${group === "warn" ? " warn" : ""}` },
      timeButton(entry.ts, this.start, this.seek),
      h("span", { class: "level" }, entry.level),
      h("span", { class: "message", title: entry.message }, entry.message),
      entry.stack.length ? h("span", { class: "has-stack", title: "Has a stack trace" }, "stack") : null,
    );
  }

  private showDetail(entry: ConsoleEntry | null): void {
    this.detail.hidden = entry === null;
    if (!entry) return this.detail.replaceChildren();
    const close = h("button", { type: "button", class: "close", "aria-label": "Close the console entry" }, "×");
    close.addEventListener("click", () => {
      this.list.select(null);
      this.list.el.focus();
    });
    this.detail.replaceChildren(
      h(
        "header",
        {},
        h("strong", {}, `${entry.level} at ${formatOffset(entry.ts - this.start)}`),
        goToButton(entry.ts, this.start, this.seek),
        close,
      ),
      h(
        "div",
        { class: "detail-body" },
        h("pre", { class: "full-message" }, entry.message),
        entry.stack.length ? h("pre", { class: "stack" }, entry.stack.join("\n")) : null,
      ),
    );
  }
}

/** The time a row happened; clicking it seeks there (rows are focused as a list, not one by one). */
export function timeButton(ts: number, start: number, seek: (ts: number) => void): HTMLElement {
  const at = formatOffset(ts - start);
  const exact = `Go to ${at} (+${Math.round(ts - start)} ms)`;
  const button = h("button", { type: "button", class: "time", tabindex: -1, title: exact, "aria-label": exact }, at);
  button.addEventListener("click", (e) => {
    e.stopPropagation();
    seek(ts);
  });
  return button;
}

export function goToButton(ts: number, start: number, seek: (ts: number) => void): HTMLElement {
  const at = formatOffset(ts - start);
  const button = h("button", { type: "button", class: "go-to", "data-testid": "go-to-moment", title: "Go to this moment" }, `Go to ${at}`);
  button.addEventListener("click", () => seek(ts));
  return button;
}
