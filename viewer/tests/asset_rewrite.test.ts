// Rewriting a recording's references to the service's copies: nothing outside is ever named.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AssetRewriter, BLANK, BLANK_CSS, BLANK_IMAGE, srcsetCandidates } from "../src/asset_rewrite";
import { rewriteCssUrls } from "../src/css_urls";
import type { RawEvent } from "../src/event_stream";

const PAGE = "https://shop.test/catalog/";
const COPIES = new Map([
  ["https://shop.test/a.png", "blob:copy-a"],
  ["https://shop.test/site.css", "blob:copy-css"],
  ["https://shop.test/f.woff2", "blob:copy-font"],
]);
const rewriter = (): AssetRewriter => new AssetRewriter((url) => COPIES.get(url));

const mark = (url: string, imported: boolean): string => `<${imported ? "import" : "url"}:${url}>`;

test("every URL a browser would load from CSS is found, and nothing else", () => {
  const css =
    '@import "base.css"; @import url(print.css) print; @import url("x.css");' +
    " /* url(commented.png) */ .a{background:url(a.png) no-repeat,url( 'b.png' )}" +
    ' .b{content:"url(in-a-string.png)"} .c{background:image-set("c1.png" 1x, url(c2.png) 2x)}' +
    " @font-face{src:url(f\\2e woff2) format('woff2')} .d{background:URL(d.png)}";
  const found: string[] = [];
  rewriteCssUrls(css, (url, imported) => {
    found.push(imported ? `@${url}` : url);
    return url;
  });
  assert.deepEqual(found, ["@base.css", "@print.css", "@x.css", "a.png", "b.png", "c1.png", "c2.png", "f.woff2", "d.png"]);
  const rewritten = rewriteCssUrls(".a{background:url(a.png)} @import 'b.css';", mark);
  assert.equal(rewritten, '.a{background:url("<url:a.png>")} @import url("<import:b.css>");');
});

test("hostile CSS never throws and never leaves a URL unreplaced", () => {
  const pieces = ["url(", ")", '"', "'", "\\", "/*", "*/", "@import", "image-set(", "a.png", " ", ";", "{", "}", "http://evil.test/x"];
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 3000; round++) {
    let css = "";
    for (let i = 0; i < 12; i++) css += pieces[Math.floor(random() * pieces.length)];
    const out = rewriteCssUrls(css, () => "data:,");
    // Read again, the rewritten CSS loads nothing but what the first pass put there.
    rewriteCssUrls(out, (url) => {
      assert.equal(url, "data:,", `${css} -> ${out}`);
      return url;
    });
  }
});

test("an image-set of strings alone is rewritten too", () => {
  assert.equal(rewriteCssUrls('a{background:image-set("a.png" 1x)}', mark), 'a{background:image-set("<url:a.png>" 1x)}');
});

test("srcset candidates keep their descriptors", () => {
  assert.deepEqual(srcsetCandidates("a.png 1x, b.png 2x,c.png"), [
    ["a.png", "1x"],
    ["b.png", "2x"],
    ["c.png", ""],
  ]);
});

test("references point at copies, or are blank; inline data stays", () => {
  const events = [
    { type: 4, timestamp: 1, data: { href: PAGE, width: 1, height: 1 } },
    {
      type: 2,
      timestamp: 2,
      data: {
        node: {
          type: 0,
          id: 1,
          childNodes: [
            { type: 2, id: 2, tagName: "link", attributes: { rel: "stylesheet", href: "/site.css" }, childNodes: [] },
            { type: 2, id: 3, tagName: "link", attributes: { rel: "preload", href: "https://cdn.test/x.js" }, childNodes: [] },
            { type: 2, id: 4, tagName: "img", attributes: { src: "../a.png", srcset: "../a.png 1x, https://evil.test/b.png 2x" }, childNodes: [] },
            { type: 2, id: 5, tagName: "img", attributes: { src: "data:image/png;base64,AAAA" }, childNodes: [] },
            { type: 2, id: 6, tagName: "div", attributes: { style: "background:url(https://evil.test/bg.png)" }, childNodes: [] },
            { type: 2, id: 7, tagName: "video", attributes: { poster: "https://evil.test/p.jpg", src: "/m.mp4" }, childNodes: [] },
            { type: 2, id: 8, tagName: "a", attributes: { href: "/elsewhere" }, childNodes: [] },
            {
              type: 2,
              id: 9,
              tagName: "style",
              attributes: {},
              childNodes: [{ type: 3, id: 10, isStyle: true, textContent: "@font-face{src:url(/f.woff2)}" }],
            },
          ],
        },
      },
    },
    {
      type: 3,
      timestamp: 3,
      data: {
        source: 0,
        adds: [{ parentId: 1, node: { type: 2, id: 11, tagName: "iframe", attributes: { src: "https://evil.test/" }, childNodes: [] } }],
        attributes: [
          { id: 4, attributes: { src: "https://evil.test/swap.png" } },
          { id: 6, attributes: { style: { background: "url(/a.png)", color: ["red", "important"] } } },
        ],
        texts: [{ id: 10, value: "b{background:url(https://evil.test/t.png)}" }],
        removes: [],
      },
    },
    { type: 3, timestamp: 4, data: { source: 8, id: 9, adds: [{ rule: "c{background:url(https://evil.test/r.png)}" }] } },
    { type: 3, timestamp: 5, data: { source: 13, id: 9, set: { property: "background", value: "url(/a.png)" } } },
    { type: 3, timestamp: 6, data: { source: 10, family: "F", fontSource: "url(https://evil.test/f.woff)", descriptors: {} } },
  ] as unknown as RawEvent[];
  rewriter().rewrite(events);
  const text = JSON.stringify(events);
  assert.ok(!text.includes("evil.test"), text);
  assert.ok(!text.includes("cdn.test"), text);
  const nodes = (events[1]!.data as { node: { childNodes: Array<{ attributes: Record<string, string> }> } }).node.childNodes;
  assert.equal(nodes[0]!.attributes.href, "blob:copy-css");
  assert.equal(nodes[1]!.attributes.href, BLANK_CSS);
  assert.equal(nodes[2]!.attributes.src, "blob:copy-a");
  assert.equal(nodes[2]!.attributes.srcset, `blob:copy-a 1x, ${BLANK_IMAGE} 2x`);
  assert.equal(nodes[3]!.attributes.src, "data:image/png;base64,AAAA");
  assert.equal(nodes[4]!.attributes.style, `background:url("${BLANK}")`);
  assert.equal(nodes[5]!.attributes.src, BLANK);
  assert.equal(nodes[6]!.attributes.href, "/elsewhere"); // a link to follow loads nothing
  assert.ok(text.includes('url(\\"blob:copy-font\\")'), text);
  assert.ok(text.includes('"background":"url(\\"blob:copy-a\\")"'), text);
});

test("relative references after a navigation resolve against the new page", () => {
  const r = rewriter();
  const events = [
    { type: 4, timestamp: 1, data: { href: "https://other.test/x/", width: 1, height: 1 } },
    { type: 3, timestamp: 2, data: { source: 13, id: 1, set: { property: "background", value: "url(/a.png)" } } },
    { type: 4, timestamp: 3, data: { href: PAGE, width: 1, height: 1 } },
    { type: 3, timestamp: 4, data: { source: 13, id: 1, set: { property: "background", value: "url(/a.png)" } } },
  ] as unknown as RawEvent[];
  r.rewrite(events);
  assert.equal((events[1]!.data as { set: { value: string } }).set.value, `url("${BLANK}")`);
  assert.equal((events[3]!.data as { set: { value: string } }).set.value, 'url("blob:copy-a")');
});
