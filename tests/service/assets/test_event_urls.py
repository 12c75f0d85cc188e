"""Asset URLs read out of rrweb events and CSS: what a replay would load, made absolute."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st

from service.assets.css_urls import CssReference, css_references
from service.assets.event_urls import absolute_asset_url, scan_events, srcset_urls

PAGE = "https://shop.test/catalog/item"


def element(node_id: int, tag: str, children: list[Any] | None = None, **attributes: Any) -> Any:
    return {
        "type": 2,
        "id": node_id,
        "tagName": tag,
        "attributes": attributes,
        "childNodes": children or [],
    }


def snapshot(*children: Any) -> Any:
    root = {"type": 0, "id": 1, "childNodes": [element(2, "html", list(children))]}
    return {"type": 2, "timestamp": 2, "data": {"node": root, "initialOffset": {}}}


def test_css_references_reads_urls_imports_and_image_sets_as_a_browser_does() -> None:
    css = """
    @import "base.css";
    @import url(print.css) print;
    /* url(commented.png) is no reference */
    .a { background: url(a.png) no-repeat, url("b.png"); }
    .b { content: "url(in-a-string.png)"; }
    @media (min-width: 1px) { .c { background-image: url( 'c.png' ) } }
    .d { background-image: image-set("d1.png" 1x, url(d2.png) 2x); }
    @font-face { font-family: X; src: url(x.woff2) format("woff2"), url(x\\2e woff); }
    """
    assert css_references(css) == [
        CssReference("base.css", imported=True),
        CssReference("print.css", imported=True),
        CssReference("a.png"),
        CssReference("b.png"),
        CssReference("c.png"),
        CssReference("d1.png"),
        CssReference("d2.png"),
        CssReference("x.woff2"),
        CssReference("x.woff"),
    ]


def test_srcset_candidates() -> None:
    assert srcset_urls("a.png 1x, b.png 2x,c.png 100w ,  d.png") == [
        "a.png",
        "b.png",
        "c.png",
        "d.png",
    ]


def test_absolute_urls_are_http_only_and_resolved_against_the_page() -> None:
    assert absolute_asset_url("../img/a.png", PAGE) == "https://shop.test/img/a.png"
    assert absolute_asset_url("//cdn.test/x.css#frag", PAGE) == "https://cdn.test/x.css"
    assert absolute_asset_url("HTTP://Shop.test/a", None) == "http://Shop.test/a"
    for refused in [
        "data:image/png;base64,AAAA",
        "blob:https://shop.test/123",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://user:pw@shop.test/a.png",
        "https://shop.test:notaport/a.png",
        "https://shop.test/" + "a" * 3000,
        "",
    ]:
        assert absolute_asset_url(refused, PAGE) is None, refused
    assert absolute_asset_url("a.png", None) is None  # relative, no page to resolve it


def test_a_session_names_its_stylesheets_images_fonts_and_posters() -> None:
    events = [
        {"type": 4, "timestamp": 1, "data": {"href": PAGE, "width": 800, "height": 600}},
        snapshot(
            element(10, "link", rel="stylesheet", href="/styles/site.css"),
            # Inlined by rrweb and named by the recorder: its rules are read, its text is the
            # copy for later page views that name the URL alone.
            element(
                11,
                "link",
                rel="stylesheet",
                href="/inlined.css",
                _cssText="a{background:url(/i.png)}",
            ),
            element(12, "link", rel="canonical", href="/not-an-asset"),
            element(13, "a", href="/a-page"),
            element(14, "img", src="/img/hero.png", srcset="/img/hero@2x.png 2x"),
            element(15, "video", poster="poster.jpg", src="/movie.mp4"),
            element(16, "picture", [element(17, "source", srcset="/p.webp 1x")]),
            element(18, "div", style="background-image: url('/bg.png')"),
            element(19, "img", src="data:image/gif;base64,R0lGOD"),
            element(
                20,
                "style",
                [
                    {
                        "type": 3,
                        "id": 21,
                        "isStyle": True,
                        "textContent": "@font-face{src:url(/f.woff2)}",
                    }
                ],
            ),
        ),
        {
            "type": 3,
            "timestamp": 3,
            "data": {
                "source": 0,
                "adds": [
                    {"parentId": 2, "node": element(30, "img", src="https://cdn.test/late.png")}
                ],
                "attributes": [
                    {"id": 14, "attributes": {"src": "/img/swapped.png"}},
                    {"id": 18, "attributes": {"style": {"background": "url(/bg2.png)"}}},
                    {"id": 13, "attributes": {"href": "/another-page"}},
                ],
                "texts": [{"id": 21, "value": "b{background:url(/from-text.png)}"}],
                "removes": [],
            },
        },
        {
            "type": 3,
            "timestamp": 4,
            "data": {"source": 8, "id": 20, "adds": [{"rule": "c{background:url(/rule.png)}"}]},
        },
        {
            "type": 3,
            "timestamp": 5,
            "data": {
                "source": 13,
                "id": 20,
                "set": {"property": "background", "value": "url(/decl.png)"},
            },
        },
        {
            "type": 4,
            "timestamp": 6,
            "data": {"href": "https://other.test/next/", "width": 1, "height": 1},
        },
        snapshot(element(40, "img", src="rel.png")),
    ]
    found = scan_events(events)
    assert found.urls == [
        "https://shop.test/styles/site.css",
        "https://shop.test/i.png",
        "https://shop.test/img/hero.png",
        "https://shop.test/img/hero@2x.png",
        "https://shop.test/catalog/poster.jpg",
        "https://shop.test/p.webp",
        "https://shop.test/bg.png",
        "https://shop.test/f.woff2",
        "https://cdn.test/late.png",
        "https://shop.test/img/swapped.png",
        "https://shop.test/bg2.png",
        "https://shop.test/from-text.png",
        "https://shop.test/rule.png",
        "https://shop.test/decl.png",
        "https://other.test/next/rel.png",
    ]
    assert found.page_href == "https://other.test/next/"
    assert found.inlined == {"https://shop.test/inlined.css": "a{background:url(/i.png)}"}


def test_a_stylesheet_inlined_twice_keeps_its_first_text_and_one_without_a_url_is_none() -> None:
    found = scan_events(
        [
            {"type": 4, "timestamp": 1, "data": {"href": PAGE, "width": 8, "height": 6}},
            snapshot(element(3, "link", href="/s.css", _cssText="a{}")),
            snapshot(element(3, "link", href="/s.css", _cssText="b{}")),
            snapshot(element(4, "link", _cssText="c{}"), element(5, "link", href="x", _cssText=1)),
        ]
    )
    assert found.inlined == {"https://shop.test/s.css": "a{}"}
    assert found.urls == []


def test_a_scan_continues_from_the_page_an_earlier_batch_ended_on() -> None:
    found = scan_events([snapshot(element(3, "img", src="x.png"))], page_href=PAGE)
    assert found.urls == ["https://shop.test/catalog/x.png"]


def test_a_very_deep_document_is_read_without_recursion() -> None:
    node: Any = element(100_000, "img", src="/deep.png")
    for depth in range(5_000):
        node = element(depth + 3, "div", [node])
    assert scan_events([snapshot(node)], page_href=PAGE).urls == ["https://shop.test/deep.png"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "data",
                    "node",
                    "childNodes",
                    "attributes",
                    "src",
                    "srcset",
                    "style",
                    "_cssText",
                    "href",
                    "rel",
                    "tagName",
                    "adds",
                    "source",
                    "rule",
                    "isStyle",
                    "textContent",
                    "id",
                    "texts",
                    "value",
                    "set",
                    "styles",
                    "rules",
                    "poster",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)
_css_alphabet = st.sampled_from(
    [
        *list("url()\"'\\/@import{};:,. \n\t*!#%&abc0129"),
        "url(",
        "/*",
        "*/",
        "image-set(",
        "javascript:",
        "data:",
        "//",
        "http://",
        "https://h/",
    ]
)


def _http_only(urls: list[str]) -> None:
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https"), url
        assert parts.hostname, url


@given(st.lists(_css_alphabet, max_size=60).map("".join))
def test_hostile_css_never_raises(css: str) -> None:
    css_references(css)
    _http_only(
        scan_events(
            [snapshot(element(3, "div", style=css)), snapshot(element(4, "link", _cssText=css))],
            page_href=PAGE,
        ).urls
    )


@given(st.lists(_json, max_size=5), st.one_of(st.none(), st.text(max_size=20), st.just(PAGE)))
def test_hostile_events_never_raise_and_yield_only_http_urls(
    events: list[Any], href: str | None
) -> None:
    _http_only(scan_events(events, page_href=href).urls)


@given(st.text(max_size=80), st.one_of(st.none(), st.just(PAGE), st.text(max_size=20)))
def test_any_text_resolves_to_an_http_url_or_nothing(raw: str, base: str | None) -> None:
    url = absolute_asset_url(raw, base)
    if url is not None:
        _http_only([url])
