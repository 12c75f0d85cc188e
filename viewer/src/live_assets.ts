// A live replay's asset copies. The customer goes on browsing while the agent watches, so the
// map opened with lacks what later pages reference. A batch naming URLs the map has no word on
// waits for one refreshed map (the service copies what the newest batches reference first, a
// few seconds at most) before the player sees it; a URL still without a copy then shows blank,
// and is not waited for again.

import { type AssetMap, loadAssetCopies } from "./asset_copies";
import { AssetRewriter } from "./asset_rewrite";
import type { RawEvent } from "./event_stream";

export class LiveAssets {
  /** URLs the service's map has an entry for (copied or not), or that a refresh was asked for. */
  private readonly answered = new Set<string>();
  private readonly missing = new Set<string>();
  // Sees every batch, on a copy, so it knows each page's base URL and node tags as the real
  // rewriter will; it only notes which URLs have no answer yet.
  private readonly probe = new AssetRewriter((url) => {
    if (!this.copies.has(url) && !this.answered.has(url)) this.missing.add(url);
    return undefined;
  });

  /**
   * @param copies the copies found so far, by recorded URL: grown in place, so a rewriter that
   *   reads it sees new copies at once
   * @param opened the map they came from (null: none could be had)
   */
  constructor(
    readonly copies: Map<string, string>,
    opened: AssetMap | null,
    private readonly refreshedMap: () => Promise<AssetMap>,
    private readonly download: (path: string) => Promise<Blob>,
  ) {
    for (const entry of opened?.assets ?? []) this.answered.add(entry.url);
  }

  /** Resolves once the batch's URLs have copies, or have had their one refresh. */
  async prepare(events: RawEvent[]): Promise<void> {
    this.missing.clear();
    this.probe.rewrite(structuredClone(events));
    if (!this.missing.size) return;
    const asked = [...this.missing];
    try {
      const map = await this.refreshedMap();
      for (const [url, copy] of await loadAssetCopies(map, this.download, this.copies)) this.copies.set(url, copy);
      for (const entry of map.assets) this.answered.add(entry.url);
    } catch {
      // Shown blank, as any reference without a copy.
    }
    for (const url of asked) this.answered.add(url);
  }
}
