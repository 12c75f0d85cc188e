// The service's copies of a session's stylesheets, fonts and images, as URLs of this page's own
// (`blob:`): fetched with the viewer token, which never goes into a URL.

import { BLANK, BLANK_CSS, absoluteUrl } from "./asset_rewrite";
import { rewriteCssUrls } from "./css_urls";

export type AssetEntry = { url: string; status: string; hash?: string; content_type?: string };
export type AssetMap = { session_id: string; fetching: boolean; bytes_path: string; assets: AssetEntry[] };

// Copies downloaded at once: the service serves them from one origin, so a handful suffice.
const CONCURRENT = 6;

async function inBatches<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT, items.length) }, worker));
}

/**
 * Object URLs of every copy, by the recorded URL. A stylesheet's own references point at the
 * other copies (resolved against the stylesheet's URL) or are blank; a copy that cannot be
 * downloaded is left out, so what referenced it shows blank. `known`: copies loaded before
 * (a live view's earlier maps), neither downloaded again nor replaced; they are in the result.
 */
export async function loadAssetCopies(
  map: AssetMap,
  download: (path: string) => Promise<Blob>,
  known: ReadonlyMap<string, string> = new Map(),
): Promise<Map<string, string>> {
  const urls = new Map(known);
  const stored = map.assets.filter((a) => a.status === "stored" && a.hash && a.content_type && !known.has(a.url));
  const bytes = new Map<string, Blob>();
  await inBatches(stored, async (asset) => {
    try {
      bytes.set(asset.url, await download(map.bytes_path + asset.hash!));
    } catch {
      // Left out: shown blank.
    }
  });
  const sheets = new Map<string, AssetEntry>();
  for (const asset of stored) {
    const blob = bytes.get(asset.url);
    if (!blob) continue;
    if (asset.content_type === "text/css") sheets.set(asset.url, asset);
    else urls.set(asset.url, URL.createObjectURL(new Blob([blob], { type: asset.content_type })));
  }
  // Stylesheets after the rest: each imported one before its importer (cycles end blank).
  const visiting = new Set<string>();
  const sheetUrl = async (url: string): Promise<string | undefined> => {
    if (urls.has(url)) return urls.get(url);
    if (!sheets.has(url) || visiting.has(url)) return undefined;
    visiting.add(url);
    const text = await bytes.get(url)!.text();
    const imports = new Map<string, string | undefined>();
    rewriteCssUrls(text, (raw, imported) => {
      const absolute = absoluteUrl(raw, url);
      if (imported && absolute) imports.set(absolute, undefined);
      return raw;
    });
    for (const imported of imports.keys()) imports.set(imported, await sheetUrl(imported));
    const rewritten = rewriteCssUrls(text, (raw, imported) => {
      if (/^\s*data:/i.test(raw)) return raw;
      const absolute = absoluteUrl(raw, url);
      const copy = absolute === null ? undefined : imported ? imports.get(absolute) : urls.get(absolute);
      return copy ?? (imported ? BLANK_CSS : BLANK);
    });
    const objectUrl = URL.createObjectURL(new Blob([rewritten], { type: "text/css" }));
    urls.set(url, objectUrl);
    return objectUrl;
  };
  for (const url of sheets.keys()) await sheetUrl(url);
  return urls;
}
