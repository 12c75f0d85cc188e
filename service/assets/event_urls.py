"""The asset URLs an rrweb event stream references: stylesheets, images, fonts (through CSS)
and video posters, in full snapshots and in the page's changes, made absolute against the
page they were on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import msgspec

from service.assets.css_urls import css_references

__all__ = ["MAX_URL_LENGTH", "EventScan", "absolute_asset_url", "scan_events", "srcset_urls"]

# rrweb's event and node types, and the incremental sources that carry DOM or CSS.
_FULL_SNAPSHOT, _INCREMENTAL, _META = 2, 3, 4
_ELEMENT, _TEXT = 2, 3
_MUTATION, _STYLE_SHEET_RULE, _STYLE_DECLARATION, _ADOPTED_STYLE_SHEET = 0, 8, 13, 15
# Longer URLs are not fetched: no stylesheet or image needs one, and each is a key in SQL.
MAX_URL_LENGTH = 2048

# Attributes naming one asset URL, by element; `srcset` is read wherever it appears.
_URL_ATTRIBUTES = {
    "img": ("src",),
    "source": ("src",),
    "input": ("src",),
    "video": ("poster",),
}
# Link relations whose `href` the replay loads (when rrweb did not inline the CSS).
_LOADED_LINK_RELS = frozenset({"stylesheet"})


class EventScan(msgspec.Struct, kw_only=True):
    """What a scan found: absolute URLs in first-seen order, the page it ended on, and the
    stylesheets the recorder inlined with their URL (URL -> CSS text, the first text of each)."""

    urls: list[str] = msgspec.field(default_factory=list)
    page_href: str | None = None
    inlined: dict[str, str] = msgspec.field(default_factory=dict)


def absolute_asset_url(raw: str, base: str | None) -> str | None:
    """`raw` made absolute against `base`, if that is an http(s) URL worth fetching (no user
    or password, not too long); the fragment dropped. None for anything else (data:, blob:,
    javascript:, a relative URL with no page to resolve it against, ...)."""
    text = raw.strip()
    if not text or len(text) > MAX_URL_LENGTH:
        return None
    try:
        joined = urljoin(base, text) if base else text
        parts = urlsplit(joined)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        if parts.username is not None or parts.password is not None:
            return None
        parts.port  # noqa: B018 -- raises ValueError for a port that is no number
    except ValueError:
        return None
    url = urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))
    if len(url) > MAX_URL_LENGTH or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return None
    return url


def srcset_urls(srcset: str) -> list[str]:
    """The URLs of a `srcset` (`a.png 1x, b.png 2x`), as written."""
    urls: list[str] = []
    position, length = 0, len(srcset)
    while position < length:
        while position < length and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        start = position
        while position < length and not srcset[position].isspace():
            position += 1
        url = srcset[start:position]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            # Descriptors run to the next comma.
            while position < length and srcset[position] != ",":
                position += 1
        if url:
            urls.append(url)
    return urls


class _Scanner:
    def __init__(self, page_href: str | None) -> None:
        self.found = EventScan(page_href=page_href)
        self._seen: set[str] = set()
        self._tags: dict[int, str] = {}
        self._style_texts: set[int] = set()

    def add(self, raw: object) -> None:
        if isinstance(raw, str):
            url = absolute_asset_url(raw, self.found.page_href)
            if url is not None and url not in self._seen:
                self._seen.add(url)
                self.found.urls.append(url)

    def inline(self, raw: object, css: str) -> None:
        url = absolute_asset_url(raw, self.found.page_href) if isinstance(raw, str) else None
        if url is not None:
            self.found.inlined.setdefault(url, css)

    def css(self, text: object) -> None:
        if isinstance(text, str) and text:
            for reference in css_references(text):
                self.add(reference.url)

    def event(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        data = event.get("data")
        if not isinstance(data, dict):
            return
        kind = event.get("type")
        if kind == _META:
            href = data.get("href")
            if isinstance(href, str) and absolute_asset_url(href, None) is not None:
                self.found.page_href = href
        elif kind == _FULL_SNAPSHOT:
            self.node(data.get("node"))
        elif kind == _INCREMENTAL:
            self.incremental(data)

    def incremental(self, data: dict[str, Any]) -> None:
        source = data.get("source")
        if source == _MUTATION:
            for added in _dicts(data.get("adds")):
                self.node(added.get("node"))
            for change in _dicts(data.get("attributes")):
                attributes = change.get("attributes")
                if isinstance(attributes, dict):
                    self.attributes(self._tags.get(_int(change.get("id")), ""), attributes)
            for text in _dicts(data.get("texts")):
                if _int(text.get("id")) in self._style_texts:
                    self.css(text.get("value"))
        elif source == _STYLE_SHEET_RULE:
            for rule in _dicts(data.get("adds")):
                self.css(rule.get("rule"))
            self.css(data.get("replace"))
            self.css(data.get("replaceSync"))
        elif source == _STYLE_DECLARATION:
            declaration = data.get("set")
            if isinstance(declaration, dict):
                self.css(declaration.get("value"))
        elif source == _ADOPTED_STYLE_SHEET:
            for sheet in _dicts(data.get("styles")):
                for rule in _dicts(sheet.get("rules")):
                    self.css(rule.get("rule"))

    def node(self, root: object) -> None:
        # Iterative: a deep DOM must not reach Python's recursion limit.
        stack = [root]
        while stack:
            node = stack.pop()
            if not isinstance(node, dict):
                continue
            node_type = node.get("type")
            node_id = _int(node.get("id"))
            if node_type == _ELEMENT:
                tag = str(node.get("tagName", "")).lower()
                self._tags[node_id] = tag
                attributes = node.get("attributes")
                if isinstance(attributes, dict):
                    self.attributes(tag, attributes)
            elif node_type == _TEXT and node.get("isStyle"):
                self._style_texts.add(node_id)
                self.css(node.get("textContent"))
            children = node.get("childNodes")
            if isinstance(children, list):
                stack.extend(reversed(children))

    def attributes(self, tag: str, attributes: dict[str, Any]) -> None:
        for name in _URL_ATTRIBUTES.get(tag, ()):
            self.add(attributes.get(name))
        srcset = attributes.get("srcset")
        if isinstance(srcset, str):
            for url in srcset_urls(srcset):
                self.add(url)
        css = attributes.get("_cssText")
        if tag == "link" and "_cssText" not in attributes:
            rel = attributes.get("rel")
            if isinstance(rel, str) and _LOADED_LINK_RELS & set(rel.lower().split()):
                self.add(attributes.get("href"))
        elif tag == "link" and isinstance(css, str):
            # Inlined, and named by the recorder: later page views of the session name the URL
            # alone and are replayed from this text (recorder/src/stylesheets.ts).
            self.inline(attributes.get("href"), css)
        self.css(css)
        style = attributes.get("style")
        if isinstance(style, str):
            self.css(style)
        elif isinstance(style, dict):
            # A style change in a mutation: property -> value, or [value, priority].
            for value in style.values():
                self.css(value[0] if isinstance(value, list) and value else value)


def _dicts(value: object) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _int(value: object) -> int:
    return value if isinstance(value, int) else -1


def scan_events(events: object, page_href: str | None = None) -> EventScan:
    """The asset URLs in `events` (decoded rrweb events), resolved against the page each
    appeared on (`page_href` for those before the first Meta event)."""
    scanner = _Scanner(page_href)
    if isinstance(events, list):
        for event in events:
            scanner.event(event)
    return scanner.found
