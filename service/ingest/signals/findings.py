"""What the detectors collect from one batch's events, and the helpers they share."""

from __future__ import annotations

import math
from typing import Any, NamedTuple, TypeVar

import msgspec

from service.session_environment import SessionEnvironment
from service.signal_kinds import PageVia, PageViewSignal, Signal

__all__ = ["ANY", "Click", "ClickLabel", "Findings", "finite", "rewrite", "try_decode"]

_T = TypeVar("_T")

ANY: msgspec.json.Decoder[Any] = msgspec.json.Decoder()
# Floats stay their JSON text, so a rewritten event keeps every number exactly as sent, even
# one Python cannot hold (1e999).
_KEEPING_NUMBERS: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    float_hook=lambda text: msgspec.Raw(text.encode())
)
_ENCODER = msgspec.json.Encoder()


class Click(NamedTuple):
    """A MouseInteraction Click: when, on which rrweb node id, and where in the viewport."""

    ts: int
    node_id: int
    x: int | float | None
    y: int | float | None
    order: int
    """Its place among the batch's clicks and labels, in the order they were handled."""


class ClickLabel(NamedTuple):
    """A `replaydesk/click` custom event: what the recorder saw under the click (scrubbed)."""

    ts: int
    label: str | None
    selector: str | None
    tag: str | None
    order: int
    """Its place among the batch's clicks and labels, in the order they were handled."""


class Findings:
    """What the per-event handlers collect for the batch-wide derivations."""

    def __init__(self) -> None:
        self.signals: list[Signal] = []
        self.clicks: list[Click] = []
        self.labels: list[ClickLabel] = []
        self.inputs: list[tuple[int, int]] = []
        # Times at which the page visibly reacted, and (start, end) of network requests.
        self.activity: list[int] = []
        self.requests: list[tuple[int, int]] = []
        self.user_id: str | None = None
        self.environment: SessionEnvironment | None = None

    def page_view(self, ts: int, url: str, via: PageVia = "load") -> None:
        self.signals.append(PageViewSignal(ts=ts, url=url, via=via))
        self.activity.append(ts)


def finite(value: int | float | None) -> int | float | None:
    """JSON numbers like 1e999 decode to infinity, which the JSON column cannot store."""
    return value if value is None or math.isfinite(value) else None


def try_decode(decoder: msgspec.json.Decoder[_T], raw: msgspec.Raw) -> _T | None:
    """The decoded value, or None when `raw` does not have the decoder's shape."""
    try:
        return decoder.decode(raw)
    except msgspec.DecodeError:
        return None


def rewrite(raw: msgspec.Raw, path: tuple[str, ...], updates: dict[str, Any]) -> bytes:
    """Re-encode one event with `updates` merged into the object at `path`."""
    event = _KEEPING_NUMBERS.decode(raw)
    target = event
    for key in path:
        target = target[key]
    target.update(updates)
    return _ENCODER.encode(event)
