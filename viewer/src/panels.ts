// The console, network and steps panels as tabs, all following the playhead.

import { ConsolePanel, type TimedPanel } from "./console_panel";
import type { ConsoleEntry, NetworkEntry } from "./entries";
import { h } from "./dom";
import { NetworkPanel } from "./network_panel";
import { StepsPanel, type StepEntry } from "./steps_panel";

export type { StepEntry };
export type TabName = "Console" | "Network" | "Steps";

export class Panels {
  readonly root: HTMLElement;
  readonly console: ConsolePanel;
  readonly network: NetworkPanel;
  readonly steps: StepsPanel;
  private readonly tabs = new Map<TabName, { button: HTMLButtonElement; panel: TimedPanel; count: HTMLElement }>();
  private active: TabName = "Console";
  private playhead = Number.NEGATIVE_INFINITY;

  constructor(seek: (ts: number) => void) {
    this.console = new ConsolePanel(seek);
    this.network = new NetworkPanel(seek);
    this.steps = new StepsPanel(seek);
    const bar = h("div", { class: "tabs", role: "tablist", "aria-label": "Panels" });
    const bodies = h("div", { class: "panel-bodies" });
    const panels: Array<[TabName, TimedPanel]> = [
      ["Console", this.console],
      ["Network", this.network],
      ["Steps", this.steps],
    ];
    for (const [name, panel] of panels) {
      const id = `tab-${name.toLowerCase()}`;
      const count = h("span", { class: "count" });
      const button = h(
        "button",
        { type: "button", role: "tab", id, "data-tab": name, "aria-controls": `${id}-panel` },
        name,
        count,
      );
      // The accessible name stays the tab's name; the count is read as its description.
      count.setAttribute("aria-hidden", "true");
      button.addEventListener("click", () => this.show(name));
      button.addEventListener("keydown", (e) => this.arrowBetweenTabs(e, name));
      panel.root.id = `${id}-panel`;
      panel.root.setAttribute("role", "tabpanel");
      panel.root.setAttribute("aria-labelledby", id);
      bar.appendChild(button);
      bodies.appendChild(panel.root);
      this.tabs.set(name, { button, panel, count });
    }
    this.root = h("aside", { class: "panels", "aria-label": "Session panels" }, bar, bodies);
    this.show("Console");
  }

  show(name: TabName): void {
    this.active = name;
    for (const [tab, { button, panel }] of this.tabs) {
      const active = tab === name;
      button.classList.toggle("active", active);
      button.setAttribute("aria-selected", String(active));
      button.tabIndex = active ? 0 : -1;
      panel.root.hidden = !active;
      if (active) panel.shown();
    }
    this.follow(this.playhead, true);
  }

  /** The search field of the panel on show, if it has one. */
  activeSearch(): HTMLInputElement | null {
    return this.tabs.get(this.active)!.panel.search;
  }

  setConsole(entries: ConsoleEntry[], start: number): void {
    this.console.setEntries(entries, start);
    this.counted();
  }

  setNetwork(entries: NetworkEntry[], start: number): void {
    this.network.setEntries(entries, start);
    this.counted();
  }

  setSteps(steps: StepEntry[], start: number): void {
    this.steps.setSteps(steps, start);
    this.counted();
  }

  /** Mark each panel's rows against the playhead (epoch ms); `reveal` after a seek. */
  follow(ts: number, reveal = false): void {
    this.playhead = ts;
    for (const { panel } of this.tabs.values()) panel.setPlayhead(ts, reveal);
  }

  private counted(): void {
    for (const { panel, count } of this.tabs.values()) count.textContent = String(panel.count());
  }

  private arrowBetweenTabs(e: KeyboardEvent, name: TabName): void {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    // Inside the tab list the arrows move between tabs (the tabs pattern), not the playhead.
    e.preventDefault();
    e.stopPropagation();
    const names = [...this.tabs.keys()];
    const next = names[(names.indexOf(name) + (e.key === "ArrowRight" ? 1 : names.length - 1)) % names.length]!;
    this.show(next);
    this.tabs.get(next)!.button.focus();
  }
}
