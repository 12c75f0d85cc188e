// Copying to the clipboard, with a short confirmation that screen readers hear too.

import { h } from "./dom";

const TOAST_MS = 2500;
let toast: HTMLElement | null = null;
let timer = 0;

/** Say something briefly at the bottom of the page (a polite live region). */
export function announce(text: string): void {
  if (!toast) {
    toast = h("div", { class: "toast", role: "status", "aria-live": "polite", "data-testid": "toast" });
    document.body.appendChild(toast);
  }
  toast.textContent = text;
  toast.hidden = false;
  window.clearTimeout(timer);
  timer = window.setTimeout(() => toast && (toast.hidden = true), TOAST_MS);
}

/** Copy `text`; where the browser refuses (no secure context), a selected field to copy by hand. */
export async function copyText(text: string, done: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    announce(done);
    return true;
  } catch {
    const field = h("textarea", { class: "copy-by-hand", readonly: true, "aria-label": "Copy this text" }, text);
    document.body.appendChild(field);
    field.select();
    const copied = document.execCommand("copy");
    field.remove();
    announce(copied ? done : "The browser did not allow copying.");
    return copied;
  }
}
