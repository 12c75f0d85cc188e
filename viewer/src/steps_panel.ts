// The steps panel: the report's steps to reproduce, as the ticket shows them.

import { timeButton, type TimedPanel } from "./console_panel";
import { h } from "./dom";
import { VirtualList } from "./virtual_list";

/** A repro step of the session's report (the server builds them), at its epoch-ms timestamp. */
export type StepEntry = { ts: number; text: string; kind: string };

export class StepsPanel implements TimedPanel {
  readonly root: HTMLElement;
  readonly search = null;
  private readonly list: VirtualList<StepEntry>;
  private start = 0;

  constructor(private readonly seek: (ts: number) => void) {
    this.list = new VirtualList<StepEntry>({
      testId: "steps-panel",
      label: "Steps to reproduce",
      empty: "No steps recorded yet.",
      renderRow: (step) =>
        h(
          "div",
          { class: `row step step-${step.kind}` },
          timeButton(step.ts, this.start, this.seek),
          h("span", { class: "message", title: step.text }, step.text),
        ),
      onActivate: (step) => this.seek(step.ts),
    });
    this.root = h("div", { class: "panel steps" }, this.list.el);
  }

  setSteps(steps: StepEntry[], start: number): void {
    this.start = start;
    this.list.setItems([...steps].sort((a, b) => a.ts - b.ts));
  }

  count(): number {
    return this.list.length;
  }

  setPlayhead(ts: number, reveal: boolean): void {
    this.list.setPlayhead(ts, reveal);
  }

  shown(): void {
    this.list.refresh();
  }
}
