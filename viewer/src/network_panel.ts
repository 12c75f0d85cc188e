// The network panel: every request of the session, and one request's details beside the list.

import { copyText } from "./clipboard";
import { goToButton, timeButton, type TimedPanel } from "./console_panel";
import { curlCommand } from "./curl";
import type { NetworkEntry } from "./entries";
import { formatOffset, h } from "./dom";
import { VirtualList } from "./virtual_list";

const NOT_RECORDED_HEADERS = "Not recorded: the recorder keeps only the headers named in its network.requestHeaders and network.responseHeaders options, and never Authorization or cookies.";
const NOT_RECORDED_BODY = "Not recorded: bodies are kept only for URLs listed in the recorder's network.bodyUrls option.";

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "unknown";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const outcome = (entry: NetworkEntry): string => (entry.status ? String(entry.status) : entry.error || (entry.kind === "beacon" ? "sent" : "no answer"));

function prettyBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

export class NetworkPanel implements TimedPanel {
  readonly root: HTMLElement;
  readonly search: HTMLInputElement;
  private readonly list: VirtualList<NetworkEntry>;
  private readonly failedOnly = h("input", { type: "checkbox", "data-testid": "failed-only" });
  private readonly detail = h("section", { class: "detail", "data-testid": "network-detail", "aria-label": "Request details" });
  private entries: NetworkEntry[] = [];
  private start = 0;

  constructor(private readonly seek: (ts: number) => void) {
    this.list = new VirtualList<NetworkEntry>({
      testId: "network-panel",
      label: "Network requests",
      empty: "No network requests.",
      renderRow: (entry) => this.row(entry),
      // Enter moves into the details; a click leaves the focus on the list.
      onActivate: (_, via) => via === "key" && this.detail.querySelector<HTMLElement>("button")?.focus(),
      onSelect: (entry) => this.showDetail(entry),
    });
    this.search = h("input", {
      type: "search",
      class: "search",
      placeholder: "Search URL, method, status",
      "aria-label": "Search network requests",
      "data-testid": "network-search",
    });
    this.search.addEventListener("input", () => this.apply());
    this.failedOnly.addEventListener("change", () => this.apply());
    this.detail.hidden = true;
    this.root = h(
      "div",
      { class: "panel network" },
      h("div", { class: "toolbar" }, h("label", { class: "check" }, this.failedOnly, " Failed only"), this.search),
      this.list.el,
      this.detail,
    );
  }

  setEntries(entries: NetworkEntry[], start: number): void {
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

  private apply(): void {
    const query = this.search.value.trim().toLowerCase();
    const failedOnly = this.failedOnly.checked;
    this.list.setItems(
      this.entries.filter(
        (entry) =>
          (!failedOnly || entry.failed) &&
          (!query || `${entry.method} ${outcome(entry)} ${entry.url}`.toLowerCase().includes(query)),
      ),
    );
  }

  private row(entry: NetworkEntry): HTMLElement {
    return h(
      "div",
      { class: `row${entry.failed ? " error" : ""}` },
      timeButton(entry.ts, this.start, this.seek),
      h("span", { class: "method" }, entry.method),
      h("span", { class: "status" }, entry.status ? String(entry.status) : entry.error || "—"),
      h("span", { class: "url", title: entry.url }, entry.url),
      h("span", { class: "duration" }, entry.duration === null ? "" : `${Math.round(entry.duration)} ms`),
    );
  }

  private showDetail(entry: NetworkEntry | null): void {
    this.detail.hidden = entry === null;
    if (!entry) return this.detail.replaceChildren();
    const close = h("button", { type: "button", class: "close", "aria-label": "Close the request details" }, "×");
    close.addEventListener("click", () => {
      this.list.select(null);
      this.list.el.focus();
    });
    const curl = h("button", { type: "button", "data-testid": "copy-curl", title: "Authorization, cookies, API keys and secret parameters are left out" }, "Copy as cURL");
    curl.addEventListener("click", () => void copyText(curlCommand(entry), "cURL command copied (secrets left out)"));
    const duration = entry.duration;
    const startedAt = entry.ts - (duration ?? 0);
    this.detail.replaceChildren(
      h(
        "header",
        {},
        h("strong", { class: entry.failed ? "bad" : "" }, `${entry.method} ${outcome(entry)}`),
        curl,
        goToButton(startedAt, this.start, this.seek),
        close,
      ),
      h("div", { class: "detail-body" },
        h("p", { class: "full-url" }, entry.url),
        facts([
          ["Status", entry.status ? String(entry.status) : "no answer"],
          ["Error", entry.error],
          ["Type", entry.kind],
          ["Started", formatOffset(startedAt - this.start) + ` (+${Math.round(startedAt - this.start)} ms)`],
          ["Duration", duration === null ? "unknown" : `${Math.round(duration * 10) / 10} ms`],
          ["Request size", formatBytes(entry.requestSize)],
          ["Response size", formatBytes(entry.responseSize)],
          ["Initiator", entry.initiator ?? "not recorded"],
        ]),
        section("Request headers", headerList(entry.requestHeaders)),
        section("Response headers", headerList(entry.responseHeaders)),
        section("Request body", body(entry.requestBody, entry.kind === "beacon" || entry.method !== "GET")),
        section("Response body", body(entry.responseBody, true)),
      ),
    );
  }
}

function facts(rows: Array<[string, string | null]>): HTMLElement {
  const list = h("dl", { class: "facts" });
  for (const [name, value] of rows) {
    if (value === null) continue;
    list.append(h("dt", {}, name), h("dd", {}, value));
  }
  return list;
}

function section(title: string, content: HTMLElement): HTMLElement {
  return h("section", { class: "part" }, h("h3", {}, title), content);
}

function headerList(headers: Record<string, string>): HTMLElement {
  const names = Object.keys(headers);
  if (!names.length) return h("p", { class: "muted" }, NOT_RECORDED_HEADERS);
  return facts(names.sort().map((name) => [name, headers[name]!]));
}

function body(text: string | null, expected: boolean): HTMLElement {
  if (text !== null) return h("pre", { class: "body" }, prettyBody(text));
  return h("p", { class: "muted" }, expected ? NOT_RECORDED_BODY : "None.");
}
