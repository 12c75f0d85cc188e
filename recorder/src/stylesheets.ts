/** Each linked stylesheet's text goes out once per session. rrweb inlines a `<link>`'s CSS in
 * every full snapshot, and every page load takes one; from the second time a session sends the
 * same text for the same URL, the snapshot keeps the link (`rel` and `href`) instead, and the
 * service replays it from the copy it kept of the first (service/assets/collector.py). An
 * inlined link names its URL too, so the service knows whose text it holds. */

import type { serializedNodeWithId } from '@rrweb/types';

/**
 * Rewrites a full snapshot's inlined stylesheets in place, before it is turned into JSON.
 * `sent`: each URL's text as sent in the session so far (length and FNV-1a; 0: the text changed
 * within the session, and is inlined from then on). `linkOf`: the page's `<link>` of a node ID
 * (rrweb drops the URL of one it inlines).
 */
export function sendStylesheetsOnce(
  root: serializedNodeWithId,
  sent: Record<string, string | 0>,
  linkOf: (id: number) => HTMLLinkElement | null,
): void {
  const stack = [root];
  for (let node; (node = stack.pop()); ) {
    if (!('childNodes' in node)) continue;
    // Not push(...childNodes): an element with a hundred thousand children would overflow it.
    for (const child of node.childNodes) stack.push(child);
    const attributes = node.type === 2 && node.tagName === 'link' ? node.attributes : {};
    const css = attributes._cssText;
    const link = typeof css === 'string' && linkOf(node.id);
    if (!link || !/^http/.test(link.href)) continue;
    let hash = 0x811c9dc5;
    for (let i = 0; i < css.length; i++) hash = Math.imul(hash ^ css.charCodeAt(i), 0x01000193);
    const print = css.length + ':' + hash;
    const before = sent[link.href];
    if (before === print) {
      delete attributes._cssText;
      attributes.rel = link.rel;
    } else if (before !== 0) sent[link.href] = before === undefined ? print : 0;
    attributes.href = link.href;
  }
}
