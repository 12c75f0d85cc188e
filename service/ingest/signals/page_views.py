"""Page views: page loads (rrweb Meta events) and in-page route changes, with scrubbed URLs."""

from __future__ import annotations

import msgspec

from service.ingest.scrubbing import scrub_url
from service.ingest.signals.findings import Findings, rewrite, try_decode
from service.rrweb import NavigationPayload
from service.signal_kinds import PageVia

__all__ = ["meta_event", "navigation_event"]

_NAVIGATION = msgspec.json.Decoder(NavigationPayload)
_ROUTE_CHANGES: dict[str, PageVia] = {
    "push": "push",
    "replace": "replace",
    "pop": "pop",
    "hash": "hash",
}


def navigation_event(
    ts: int, raw: msgspec.Raw, payload: msgspec.Raw, out: Findings
) -> bytes | None:
    """A `replaydesk/navigation@1` route change; the event re-encoded if its URL was scrubbed."""
    navigation = try_decode(_NAVIGATION, payload)
    if navigation is None:
        return None
    url = scrub_url(navigation.url)
    # Unknown kinds (a newer recorder's) still read as a route change.
    out.page_view(ts, url, _ROUTE_CHANGES.get(navigation.kind or "", "push"))
    return rewrite(raw, ("data", "payload"), {"url": url}) if url != navigation.url else None


def meta_event(ts: int, raw: msgspec.Raw, href: str, out: Findings) -> bytes | None:
    """A page load; the event re-encoded if its URL was scrubbed."""
    url = scrub_url(href)
    out.page_view(ts, url)
    return rewrite(raw, ("data",), {"href": url}) if url != href else None
