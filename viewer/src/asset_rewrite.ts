// Before events reach the Replayer, every reference a replayed page would load (images,
// stylesheets, fonts, posters, media) is pointed at the service's copy, or blanked: the agent's
// browser never asks the recorded site, or any other origin, for anything.

import { rewriteCssUrls } from "./css_urls";
import type { RawEvent } from "./event_stream";

// A transparent 1x1 GIF: an image with no copy shows as an empty box of its own size.
export const BLANK_IMAGE = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
export const BLANK = "data:,";
export const BLANK_CSS = "data:text/css,";

// rrweb's event and node types, and the incremental sources that carry DOM, CSS or fonts.
const FULL_SNAPSHOT = 2;
const INCREMENTAL = 3;
const META = 4;
const ELEMENT = 2;
const TEXT = 3;
const MUTATION = 0;
const STYLE_SHEET_RULE = 8;
const FONT = 10;
const STYLE_DECLARATION = 13;
const ADOPTED_STYLE_SHEET = 15;

// Attributes that load what they name, on any element (`src` of img, video, audio, source,
// iframe, embed, input; `data` of object; `background` of old tables and bodies).
const LOADING_ATTRIBUTES = new Set(["src", "poster", "data", "background", "lowsrc", "dynsrc"]);
// `href` loads on these (a `<link>` of any relation may preload or prefetch).
const HREF_LOADS = new Set(["link", "image", "use", "feimage"]);

/** Where the copy of each recorded URL is (a URL of this page's own, `blob:` or `data:`). */
export type CopyLookup = (absoluteUrl: string) => string | undefined;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const objects = (value: unknown): Json[] => (Array.isArray(value) ? value.filter(isObject) : []);

/** `raw` as an absolute URL against `base`, without its fragment; null when it is none. */
export function absoluteUrl(raw: string, base: string | undefined): string | null {
  try {
    const url = new URL(raw.trim(), base);
    url.hash = "";
    return url.href;
  } catch {
    return null;
  }
}

/** The candidates of a `srcset`, each as [url, descriptors]. */
export function srcsetCandidates(srcset: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  const n = srcset.length;
  while (i < n) {
    while (i < n && (/\s/.test(srcset[i]!) || srcset[i] === ",")) i++;
    const start = i;
    while (i < n && !/\s/.test(srcset[i]!)) i++;
    let url = srcset.slice(start, i);
    let descriptors = "";
    if (url.endsWith(",")) url = url.replace(/,+$/, "");
    else {
      const from = i;
      while (i < n && srcset[i] !== ",") i++;
      descriptors = srcset.slice(from, i).trim();
    }
    if (url) out.push([url, descriptors]);
  }
  return out;
}

/** Rewrites events in place, remembering across calls the page and the nodes it has seen. */
export class AssetRewriter {
  private base: string | undefined;
  private readonly tags = new Map<number, string>();
  private readonly styleTexts = new Set<number>();

  constructor(private readonly copyOf: CopyLookup) {}

  /** The URL to load instead of `raw`: its copy, `raw` itself when inline data, else `blank`. */
  url(raw: string, blank: string, base = this.base): string {
    if (/^\s*data:/i.test(raw)) return raw;
    const absolute = absoluteUrl(raw, base);
    return (absolute !== null && this.copyOf(absolute)) || blank;
  }

  css(text: string, base = this.base): string {
    return rewriteCssUrls(text, (url, imported) => this.url(url, imported ? BLANK_CSS : BLANK, base));
  }

  rewrite(events: RawEvent[]): void {
    for (const event of events) {
      const data = event.data;
      if (!isObject(data)) continue;
      if (event.type === META && typeof data.href === "string") this.base = data.href;
      else if (event.type === FULL_SNAPSHOT) this.node(data.node);
      else if (event.type === INCREMENTAL) this.incremental(data);
    }
  }

  private incremental(data: Json): void {
    switch (data.source) {
      case MUTATION:
        for (const added of objects(data.adds)) this.node(added.node);
        for (const change of objects(data.attributes)) {
          if (isObject(change.attributes)) {
            this.attributes(this.tags.get(change.id as number) ?? "", change.attributes);
          }
        }
        for (const text of objects(data.texts)) {
          if (this.styleTexts.has(text.id as number) && typeof text.value === "string") text.value = this.css(text.value);
        }
        break;
      case STYLE_SHEET_RULE:
        for (const rule of objects(data.adds)) if (typeof rule.rule === "string") rule.rule = this.css(rule.rule);
        for (const key of ["replace", "replaceSync"]) if (typeof data[key] === "string") data[key] = this.css(data[key] as string);
        break;
      case STYLE_DECLARATION:
        if (isObject(data.set) && typeof data.set.value === "string") data.set.value = this.css(data.set.value);
        break;
      case ADOPTED_STYLE_SHEET:
        for (const sheet of objects(data.styles)) {
          for (const rule of objects(sheet.rules)) if (typeof rule.rule === "string") rule.rule = this.css(rule.rule);
        }
        break;
      case FONT:
        // A font the page loaded by URL (a recorded buffer is inline data already).
        if (!data.buffer && typeof data.fontSource === "string") data.fontSource = this.css(data.fontSource);
        break;
    }
  }

  private node(root: unknown): void {
    const stack: unknown[] = [root];
    while (stack.length) {
      const node = stack.pop();
      if (!isObject(node)) continue;
      const id = node.id as number;
      if (node.type === ELEMENT) {
        const tag = String(node.tagName ?? "").toLowerCase();
        this.tags.set(id, tag);
        if (isObject(node.attributes)) this.attributes(tag, node.attributes);
      } else if (node.type === TEXT && node.isStyle && typeof node.textContent === "string") {
        this.styleTexts.add(id);
        node.textContent = this.css(node.textContent);
      }
      if (Array.isArray(node.childNodes)) stack.push(...node.childNodes);
    }
  }

  private attributes(tag: string, attributes: Json): void {
    for (const [name, value] of Object.entries(attributes)) {
      const key = name.toLowerCase();
      if (typeof value === "string") {
        if (key === "_csstext" || key === "style") attributes[name] = this.css(value);
        else if (key === "srcset" || key === "imagesrcset") attributes[name] = this.srcset(value);
        else if (LOADING_ATTRIBUTES.has(key)) attributes[name] = this.url(value, tag === "img" || tag === "input" ? BLANK_IMAGE : BLANK);
        else if ((key === "href" || key === "xlink:href") && HREF_LOADS.has(tag)) {
          attributes[name] = this.url(value, tag === "link" ? BLANK_CSS : BLANK_IMAGE);
        }
      } else if (key === "style" && isObject(value)) {
        // A style change in a mutation: property -> value, or [value, priority].
        for (const [property, declared] of Object.entries(value)) {
          if (typeof declared === "string") value[property] = this.css(declared);
          else if (Array.isArray(declared) && typeof declared[0] === "string") declared[0] = this.css(declared[0]);
        }
      }
    }
  }

  private srcset(value: string): string {
    return srcsetCandidates(value)
      .map(([url, descriptors]) => [this.url(url, BLANK_IMAGE), descriptors].filter(Boolean).join(" "))
      .join(", ");
  }
}
