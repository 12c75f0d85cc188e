"""The event stream of a session window: a recording that replays that part alone.

rrweb rebuilds a page from a full snapshot and the incremental events after it; a window that
starts mid-session therefore needs the last full snapshot before its start (with the Meta event
before it, which sets the viewport) and the incremental events that change what the page shows
(DOM mutations, scrolls, input values, style sheets, ...) up to the start. Those events are
sent stamped with the window's start: the stream then begins at the window's start, the
player's timeline covers the window only, and the page is rebuilt as it was at that moment
before anything in the window plays. Nothing else from before the window goes out (no console,
network, clicks, mouse moves or custom events), and nothing after its end.

Events keep the browser's clock; the window is on the service's. Each stored chunk's first
event has its time on the service's clock in the chunk's row (ingest shifted the whole batch by
one offset), which puts every event of the chunk on that clock too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from service.rrweb import EventType, IncrementalSource
from service.sessions.windows import SessionWindow

__all__ = ["WindowEvents", "window_event_stream"]

# The incremental sources that change what the page shows: replayed in order after the full
# snapshot, they bring it to its state at the window's start. Mouse moves, clicks, touches,
# drags, selections and logs only show what happened, which lies outside the window.
_STATE_SOURCES = frozenset(
    str(int(source)).encode()
    for source in (
        IncrementalSource.MUTATION,
        IncrementalSource.SCROLL,
        IncrementalSource.VIEWPORT_RESIZE,
        IncrementalSource.INPUT,
        IncrementalSource.MEDIA_INTERACTION,
        IncrementalSource.STYLE_SHEET_RULE,
        IncrementalSource.CANVAS_MUTATION,
        IncrementalSource.FONT,
        IncrementalSource.STYLE_DECLARATION,
        IncrementalSource.ADOPTED_STYLE_SHEET,
        IncrementalSource.CUSTOM_ELEMENT,
    )
)


class _Data(msgspec.Struct):
    # Raw: a `source` of any shape is only compared, never decoded.
    source: msgspec.Raw = msgspec.Raw()


class _Head(msgspec.Struct):
    type: int
    timestamp: int
    data: _Data | None = None


_RAW_EVENTS = msgspec.json.Decoder(list[msgspec.Raw])
_HEADS = msgspec.json.Decoder(list[_Head])
_HEAD = msgspec.json.Decoder(_Head)
_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])


def _heads(raw_events: list[msgspec.Raw], chunk: bytes) -> list[_Head | None]:
    try:
        return list(_HEADS.decode(chunk))
    except msgspec.DecodeError:
        # A chunk stored before ingest checked every event: leave out what cannot be placed.
        heads: list[_Head | None] = []
        for raw in raw_events:
            try:
                heads.append(_HEAD.decode(raw))
            except msgspec.DecodeError:
                heads.append(None)
        return heads


def _stamped(raw: msgspec.Raw, timestamp: int) -> bytes:
    fields = _FIELDS.decode(raw)
    fields["timestamp"] = msgspec.Raw(str(timestamp).encode())
    return msgspec.json.encode(fields)


class WindowEvents:
    """Picks a window's events out of a session's chunks, fed in recording order."""

    def __init__(self, window: SessionWindow) -> None:
        self.window = window
        self._meta: msgspec.Raw | None = None
        # The last full snapshot before the window (after its Meta) and the state changes since.
        self._rebuild: list[msgspec.Raw] = []
        self._started = False
        self._offset = 0

    def chunk(self, events_json: bytes, first_ts: int) -> list[bytes | msgspec.Raw]:
        """The events of one stored chunk (a JSON array) that go out, in order; `first_ts` is
        its first event's time on the service's clock."""
        raw_events = _RAW_EVENTS.decode(events_json)
        heads = _heads(raw_events, events_json)
        placed = [head.timestamp for head in heads if head is not None]
        if not placed:
            return []
        self._offset = first_ts - min(placed)
        out: list[bytes | msgspec.Raw] = []
        for raw, head in zip(raw_events, heads, strict=True):
            if head is None:
                continue
            at = head.timestamp + self._offset
            if at > self.window.end_ms:
                continue
            if at >= self.window.start_ms:
                if not self._started:
                    out += self._rebuilt()
                out.append(raw)
            elif not self._started:
                self._remember(raw, head)
        return out

    def finish(self) -> list[bytes | msgspec.Raw]:
        """What still goes out when the chunks end: the page as it was at the window's start,
        when nothing was recorded inside the window (the user was idle)."""
        return [] if self._started else self._rebuilt()

    def _remember(self, raw: msgspec.Raw, head: _Head) -> None:
        if head.type == EventType.META:
            self._meta = raw
            if self._rebuild:
                self._rebuild.append(raw)
        elif head.type == EventType.FULL_SNAPSHOT:
            self._rebuild = [raw] if self._meta is None else [self._meta, raw]
        elif (
            head.type == EventType.INCREMENTAL_SNAPSHOT
            and self._rebuild
            and head.data is not None
            and bytes(head.data.source) in _STATE_SOURCES
        ):
            self._rebuild.append(raw)

    def _rebuilt(self) -> list[bytes | msgspec.Raw]:
        """The remembered events, stamped with the window's start on the browser's clock."""
        self._started = True
        start = self.window.start_ms - self._offset
        events, self._rebuild = self._rebuild, []
        return [_stamped(raw, start) for raw in events]


async def window_event_stream(
    chunks: AsyncIterator[tuple[bytes, int]], window: SessionWindow
) -> AsyncIterator[bytes]:
    """The window's events as one streamed JSON array, from stored chunks given with their
    first event's time on the service's clock."""
    picker = WindowEvents(window)
    yield b"["
    first = True
    async for events_json, first_ts in chunks:
        events = picker.chunk(events_json, first_ts)
        if events:
            yield (b"" if first else b",") + b",".join(events)
            first = False
    tail = picker.finish()
    if tail:
        yield (b"" if first else b",") + b",".join(tail)
    yield b"]"
