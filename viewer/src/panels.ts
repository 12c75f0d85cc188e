// Console, network and repro-step panels that follow the playhead.

import type { ConsoleEntry, NetworkEntry } from "./entries";
import { formatOffset, h } from "./dom";

/** A repro step of the session's report (the server builds them), at its epoch-ms timestamp. */
export type StepEntry = { ts: number; text: string; kind: string };

type Row = { ts: number; el: HTMLElement };

/** A list whose rows dim until the playhead reaches them; clicking a row seeks there. */
class FollowingList {
  readonly el: HTMLElement;
  private rows: Row[] = [];
  private current = -1;

  constructor(
    testId: string,
    private readonly empty: string,
    private readonly seek: (ts: number) => void,
  ) {
    this.el = h("ol", { class: "rows", "data-testid": testId });
    this.el.appendChild(h("li", { class: "empty" }, empty));
  }

  replace(rows: Array<{ ts: number; el: HTMLElement }>): void {
    this.rows = [...rows].sort((a, b) => a.ts - b.ts);
    this.el.replaceChildren(...(this.rows.length ? this.rows.map((r) => r.el) : [h("li", { class: "empty" }, this.empty)]));
    for (const row of this.rows) {
      row.el.addEventListener("click", (e) => {
        // Opening a stack trace is not a request to seek.
        if ((e.target as HTMLElement).closest("summary")) return;
        this.seek(row.ts);
      });
    }
    this.current = -1;
  }

  follow(ts: number): void {
    let last = -1;
    for (let i = 0; i < this.rows.length; i++) {
      const row = this.rows[i];
      const past = row.ts <= ts;
      row.el.classList.toggle("future", !past);
      if (past) last = i;
    }
    if (last !== this.current) {
      this.rows[this.current]?.el.classList.remove("current");
      this.current = last;
      const row = this.rows[last];
      if (row) {
        row.el.classList.add("current");
        row.el.scrollIntoView({ block: "nearest" });
      }
    }
  }
}

function time(ts: number, start: number): HTMLElement {
  return h("span", { class: "time" }, formatOffset(ts - start));
}

export class Panels {
  readonly root: HTMLElement;
  private readonly consoleList: FollowingList;
  private readonly networkList: FollowingList;
  private readonly stepsList: FollowingList;
  private readonly tabs = new Map<string, { button: HTMLButtonElement; body: HTMLElement }>();

  constructor(seek: (ts: number) => void) {
    this.consoleList = new FollowingList("console-panel", "No console output.", seek);
    this.networkList = new FollowingList("network-panel", "No network requests.", seek);
    this.stepsList = new FollowingList("steps-panel", "No steps recorded yet.", seek);
    const bar = h("div", { class: "tabs", role: "tablist" });
    const bodies = h("div", { class: "panel-bodies" });
    for (const [name, list] of [
      ["Console", this.consoleList],
      ["Network", this.networkList],
      ["Steps", this.stepsList],
    ] as const) {
      const button = h("button", { type: "button", role: "tab", "data-tab": name }, name);
      const body = h("div", { class: "panel-body", role: "tabpanel" }, list.el);
      button.addEventListener("click", () => this.show(name));
      bar.appendChild(button);
      bodies.appendChild(body);
      this.tabs.set(name, { button, body });
    }
    this.root = h("aside", { class: "panels" }, bar, bodies);
    this.show("Console");
  }

  show(name: string): void {
    for (const [tab, { button, body }] of this.tabs) {
      const active = tab === name;
      button.classList.toggle("active", active);
      button.setAttribute("aria-selected", String(active));
      body.hidden = !active;
    }
  }

  setConsole(entries: ConsoleEntry[], start: number): void {
    this.consoleList.replace(
      entries.map((entry) => {
        const isError = entry.level === "error" || entry.level === "assert";
        const el = h(
          "li",
          { class: `row level-${entry.level}${isError ? " error" : ""}` },
          time(entry.ts, start),
          h("span", { class: "level" }, entry.level),
          h("span", { class: "message" }, entry.message),
        );
        if (entry.stack.length) {
          el.appendChild(
            h("details", { class: "stack" }, h("summary", {}, "Stack"), h("pre", {}, entry.stack.join("\n"))),
          );
        }
        return { ts: entry.ts, el };
      }),
    );
  }

  setNetwork(entries: NetworkEntry[], start: number): void {
    this.networkList.replace(
      entries.map((entry) => ({
        ts: entry.ts,
        el: h(
          "li",
          { class: `row${entry.failed ? " error" : ""}` },
          time(entry.ts, start),
          h("span", { class: "method" }, entry.method),
          h("span", { class: "status" }, entry.status ? String(entry.status) : entry.error || "—"),
          h("span", { class: "url" }, entry.url),
          h("span", { class: "duration" }, entry.duration === null ? "" : `${Math.round(entry.duration)} ms`),
        ),
      })),
    );
  }

  setSteps(steps: StepEntry[], start: number): void {
    this.stepsList.replace(
      steps.map((step) => ({
        ts: step.ts,
        el: h("li", { class: `row step step-${step.kind}` }, time(step.ts, start), h("span", { class: "message" }, step.text)),
      })),
    );
  }

  follow(ts: number): void {
    this.consoleList.follow(ts);
    this.networkList.follow(ts);
    this.stepsList.follow(ts);
  }
}
