// A list that renders only the rows in view, so a session's 20,000 console lines scroll freely.

import { h } from "./dom";

/** Every row is this tall (CSS pixels): one line, the rest in the panel's detail pane. */
export const ROW_HEIGHT = 26;
// Rows rendered above and below the visible ones, so a fast scroll does not flash blanks.
const OVERSCAN = 8;
// After the reader scrolls a list by hand, it stops following the playhead for this long.
const HAND_SCROLL_MS = 4000;

export type ListOptions<T> = {
  testId: string;
  label: string;
  empty: string;
  renderRow: (item: T) => HTMLElement;
  /** Enter (`key`) or a click (`click`) on a row. */
  onActivate: (item: T, via: "key" | "click") => void;
  /** The selection moved (arrow keys, click). */
  onSelect?: (item: T | null) => void;
};

let lists = 0;

/**
 * A listbox of timed items in time order. Rows the playhead has not reached are `future`, the
 * last one it passed is `current`; the selected row is `selected` (one at a time).
 */
export class VirtualList<T extends { ts: number }> {
  readonly el: HTMLElement;
  private readonly spacer = h("div", { class: "spacer" });
  private readonly emptyEl: HTMLElement;
  private readonly rendered = new Map<number, HTMLElement>();
  private readonly idPrefix = `rows-${++lists}-`;
  private items: T[] = [];
  private currentIndex = -1;
  private selectedItem: T | null = null;
  private playhead = Number.NEGATIVE_INFINITY;
  private handScrollUntil = 0;
  private frame = 0;

  constructor(private readonly options: ListOptions<T>) {
    this.emptyEl = h("p", { class: "empty" }, options.empty);
    this.el = h(
      "div",
      { class: "rows", role: "listbox", tabindex: 0, "aria-label": options.label, "data-testid": options.testId },
      this.spacer,
      this.emptyEl,
    );
    this.el.addEventListener("scroll", () => this.schedule());
    for (const type of ["wheel", "touchmove"]) {
      this.el.addEventListener(type, () => (this.handScrollUntil = performance.now() + HAND_SCROLL_MS), { passive: true });
    }
    this.el.addEventListener("keydown", (e) => this.onKey(e));
    this.el.addEventListener("click", (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>("[data-index]");
      const item = row ? this.items[Number(row.dataset.index)] : undefined;
      if (!item) return;
      this.select(item, false);
      this.options.onActivate(item, "click");
    });
    new ResizeObserver(() => this.schedule()).observe(this.el);
  }

  /** The items to show, in time order (a filter's result, or everything). */
  setItems(items: T[]): void {
    this.items = items;
    this.spacer.style.height = `${items.length * ROW_HEIGHT}px`;
    this.emptyEl.hidden = items.length > 0;
    for (const row of this.rendered.values()) row.remove();
    this.rendered.clear();
    if (this.selectedItem && !items.includes(this.selectedItem)) this.select(null, false);
    this.currentIndex = this.indexAt(this.playhead);
    this.render();
  }

  get length(): number {
    return this.items.length;
  }

  get selected(): T | null {
    return this.selectedItem;
  }

  /** Follow the playhead (epoch ms); `reveal` scrolls the current row into view. */
  setPlayhead(ts: number, reveal: boolean): void {
    this.playhead = ts;
    // A seek is the reader asking to go somewhere: the list follows again.
    if (reveal) this.handScrollUntil = 0;
    const index = this.indexAt(ts);
    if (index === this.currentIndex && !reveal) return;
    const moved = index !== this.currentIndex;
    this.currentIndex = index;
    if ((moved || reveal) && index >= 0 && performance.now() > this.handScrollUntil) this.reveal(index);
    this.paintAll();
  }

  /** Stop ignoring the playhead after a hand scroll (the reader searched for something). */
  resumeFollowing(): void {
    this.handScrollUntil = 0;
  }

  select(item: T | null, reveal = true): void {
    this.selectedItem = item;
    const index = item ? this.items.indexOf(item) : -1;
    if (index >= 0) {
      this.el.setAttribute("aria-activedescendant", this.idPrefix + index);
      if (reveal) this.reveal(index);
    } else {
      this.el.removeAttribute("aria-activedescendant");
    }
    this.paintAll();
    this.options.onSelect?.(item);
  }

  /** Re-render after the list was hidden (a tab switch): its height was unknown. */
  refresh(): void {
    this.render();
  }

  /** The last item at or before `ts`, by binary search: items are in time order. */
  private indexAt(ts: number): number {
    let low = 0;
    let high = this.items.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (this.items[mid]!.ts <= ts) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
  }

  private reveal(index: number): void {
    const top = index * ROW_HEIGHT;
    const view = this.el.clientHeight;
    if (top < this.el.scrollTop) this.el.scrollTop = top;
    else if (top + ROW_HEIGHT > this.el.scrollTop + view) this.el.scrollTop = top + ROW_HEIGHT - view;
    this.render();
  }

  private schedule(): void {
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render();
      });
    }
  }

  private render(): void {
    const first = Math.max(0, Math.floor(this.el.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.items.length - 1, Math.ceil((this.el.scrollTop + this.el.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    for (const [index, row] of this.rendered) {
      if (index < first || index > last) {
        row.remove();
        this.rendered.delete(index);
      }
    }
    for (let index = first; index <= last; index++) {
      if (this.rendered.has(index)) continue;
      const row = this.options.renderRow(this.items[index]!);
      row.id = this.idPrefix + index;
      row.dataset.index = String(index);
      row.setAttribute("role", "option");
      row.style.top = `${index * ROW_HEIGHT}px`;
      row.style.height = `${ROW_HEIGHT}px`;
      this.paint(index, row);
      this.el.appendChild(row);
      this.rendered.set(index, row);
    }
  }

  private paintAll(): void {
    for (const [index, row] of this.rendered) this.paint(index, row);
  }

  private paint(index: number, row: HTMLElement): void {
    const selected = this.items[index] === this.selectedItem;
    row.classList.toggle("future", index > this.currentIndex);
    row.classList.toggle("current", index === this.currentIndex);
    row.classList.toggle("selected", selected);
    row.setAttribute("aria-selected", String(selected));
  }

  private onKey(e: KeyboardEvent): void {
    if (e.altKey || e.ctrlKey || e.metaKey || !this.items.length) return;
    const at = this.selectedItem ? this.items.indexOf(this.selectedItem) : this.currentIndex;
    const page = Math.max(1, Math.floor(this.el.clientHeight / ROW_HEIGHT) - 1);
    const moves: Record<string, number> = {
      ArrowDown: at + 1,
      ArrowUp: at - 1,
      PageDown: at + page,
      PageUp: at - page,
      Home: 0,
      End: this.items.length - 1,
    };
    if (e.key in moves) {
      e.preventDefault();
      e.stopPropagation();
      const index = Math.max(0, Math.min(this.items.length - 1, moves[e.key]!));
      this.select(this.items[index]!);
    } else if (e.key === "Enter" && this.selectedItem) {
      e.preventDefault();
      e.stopPropagation();
      this.options.onActivate(this.selectedItem, "key");
    }
  }
}
