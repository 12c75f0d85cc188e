// Keyboard shortcuts of the replay page, and the `?` overlay that lists them.

import { h } from "./dom";

export type ShortcutActions = {
  togglePlay: () => void;
  seekBy: (ms: number) => void;
  step: (direction: 1 | -1) => void;
  speed: (index: number) => void;
  nextError: (direction: 1 | -1) => void;
  focusSearch: () => boolean;
};

export const SEEK_STEP_MS = 5000;

/** What the overlay lists, in the order it lists them. */
export const SHORTCUTS: Array<[keys: string[], what: string]> = [
  [["Space"], "Play or pause"],
  [["←", "→"], "Back or forward 5 seconds"],
  [[",", "."], "Previous or next recorded event (pauses)"],
  [["1", "2", "3", "4"], "Speed 1×, 2×, 4×, 8×"],
  [["e", "Shift+E"], "Next or previous error (console error or failed request)"],
  [["/"], "Search the console or network panel"],
  [["↑", "↓", "Enter"], "In a panel's list: move, then open or go to the row"],
  [["?"], "Show or hide this list"],
  [["Esc"], "Close this list, or leave a search field"],
];

/** Keys typed here are text, not shortcuts. */
function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  return target instanceof HTMLInputElement && !["checkbox", "radio", "button", "range"].includes(target.type);
}

/**
 * Whether Space belongs to the focused control: a button, link or check box reached with the
 * keyboard presses it with Space. After a mouse click (no visible focus) Space plays or pauses.
 */
function spaceBelongsTo(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const control = target.closest("button, a[href], summary, input, [role=option], [role=tab]");
  return control !== null && target.matches(":focus-visible");
}

export class ShortcutsOverlay {
  readonly root: HTMLElement;
  private returnFocus: HTMLElement | null = null;
  private readonly closeButton = h("button", { type: "button", class: "close", "aria-label": "Close" }, "×");

  constructor() {
    const rows = SHORTCUTS.map(([keys, what]) =>
      h(
        "tr",
        {},
        h("td", {}, ...keys.flatMap((key, i) => [i ? " " : "", h("kbd", {}, key)])),
        h("td", {}, what),
      ),
    );
    this.root = h(
      "div",
      { class: "overlay", role: "dialog", "aria-modal": "true", "aria-labelledby": "shortcuts-title", "data-testid": "shortcuts" },
      h(
        "div",
        { class: "overlay-box" },
        h("header", {}, h("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"), this.closeButton),
        h("table", {}, h("tbody", {}, ...rows)),
        h("p", { class: "muted" }, "Shortcuts wait while you type in a search field."),
      ),
    );
    this.root.hidden = true;
    this.closeButton.addEventListener("click", () => this.close());
    this.root.addEventListener("click", (e) => e.target === this.root && this.close());
    this.root.addEventListener("keydown", (e) => {
      // Focus stays inside the dialog: its one control is the close button.
      if (e.key === "Tab") {
        e.preventDefault();
        this.closeButton.focus();
      }
    });
  }

  get open(): boolean {
    return !this.root.hidden;
  }

  show(): void {
    this.returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    this.root.hidden = false;
    this.closeButton.focus();
  }

  close(): void {
    this.root.hidden = true;
    this.returnFocus?.focus();
  }

  toggle(): void {
    if (this.open) this.close();
    else this.show();
  }
}

/** Listen for the shortcuts on the whole page. */
export function bindShortcuts(actions: ShortcutActions, overlay: ShortcutsOverlay): void {
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape") {
      if (overlay.open) {
        e.preventDefault();
        overlay.close();
      } else if (typing(e.target)) {
        (e.target as HTMLElement).blur();
      }
      return;
    }
    if (typing(e.target)) return;
    if (e.key === "?") {
      e.preventDefault();
      overlay.toggle();
      return;
    }
    if (overlay.open) return;
    const handled = handle(e, actions);
    if (handled) e.preventDefault();
  });
}

function handle(e: KeyboardEvent, actions: ShortcutActions): boolean {
  switch (e.key) {
    case " ":
      if (spaceBelongsTo(e.target)) return false;
      actions.togglePlay();
      return true;
    case "ArrowLeft":
    case "ArrowRight":
      actions.seekBy(e.key === "ArrowLeft" ? -SEEK_STEP_MS : SEEK_STEP_MS);
      return true;
    case ".":
    case ",":
      actions.step(e.key === "." ? 1 : -1);
      return true;
    case "1":
    case "2":
    case "3":
    case "4":
      actions.speed(Number(e.key) - 1);
      return true;
    case "e":
    case "E":
      actions.nextError(e.shiftKey ? -1 : 1);
      return true;
    case "/":
      return actions.focusSearch();
    default:
      return false;
  }
}
