"""The ingest-time pass over one batch: validate, scrub, time-order, and derive signals.

A batch is read in one of two ways that give the same result. Read event by event, each head
is one decode, and an IncrementalSnapshot's `data` (often a large mutation) is scanned once more
just to find its `source`: together most of the cost of a batch. So a batch is first decoded in
one call into `BatchEvent`s, which hold every field any handler reads, typed as the per-event
decoders type them. Only when that decode refuses something (a field of another type, `data`
that is not an object, a negative timestamp, an unknown event type) is the batch read event by
event, which names the first invalid event in `BatchInvalid` and decides what an odd event
yields. Both ways feed the same handlers, in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from service.click_signals import Click, ClickLabel, click_findings
from service.errors import BatchInvalid
from service.payload_scrubbing import scrub_console_arg, scrub_json, scrub_network_payload
from service.rrweb import (
    CLICK_TAG,
    CONSOLE_PLUGIN,
    IDENTIFY_TAG,
    NAVIGATION_PLUGIN,
    NETWORK_PLUGIN,
    BatchEvent,
    ClickLabelPayload,
    CustomData,
    EventHead,
    EventSignalFields,
    EventType,
    IdentifyPayload,
    IncrementalHead,
    IncrementalSource,
    InputData,
    MetaData,
    MouseInteractionData,
    MouseInteractions,
    NavigationPayload,
    NetworkPayload,
    PluginData,
)
from service.scrubbing import scrub_text, scrub_url

__all__ = [
    "MAX_MESSAGE_CHARS",
    "MAX_STACK_LINES",
    "ProcessedBatch",
    "Signal",
    "SignalKind",
    "process_events",
    "process_events_in_one_decode",
    "process_events_one_by_one",
]

SignalKind = Literal[
    "page_view", "click", "rage_click", "dead_click", "input", "console_error", "failed_request"
]

# Enough for any real error message; the full text stays in the stored event.
MAX_MESSAGE_CHARS = 2000
# Frames past the fiftieth are framework internals nobody reads in a triage list.
MAX_STACK_LINES = 50
# A frame is a function name and a URL; anything longer is minified source, not location.
MAX_STACK_LINE_CHARS = 1000
ERROR_LEVELS = frozenset({"error", "assert"})
FIRST_FAILED_STATUS = 400
# sendBeacon never exposes a response, so a beacon's status 0 is not a failure by itself.
_NO_RESPONSE_KINDS = frozenset({"beacon"})

_INVALID_HEAD = "expected an object with integer 'type' and 'timestamp'"
_LAST_EVENT_TYPE = max(EventType)

_T = TypeVar("_T")
# What a batch's events were decoded into: heads one by one, or whole events in one call.
_Decoded = TypeVar("_Decoded", EventHead, BatchEvent)

_BATCH = msgspec.json.Decoder(list[BatchEvent])
_HEAD = msgspec.json.Decoder(EventHead)
_ANY: msgspec.json.Decoder[Any] = msgspec.json.Decoder()
# Floats stay their JSON text, so a rewritten event keeps every number exactly as sent, even
# one Python cannot hold (1e999).
_KEEPING_NUMBERS: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    float_hook=lambda text: msgspec.Raw(text.encode())
)
_INCREMENTAL = msgspec.json.Decoder(IncrementalHead)
_MOUSE = msgspec.json.Decoder(MouseInteractionData)
_INPUT = msgspec.json.Decoder(InputData)
_META = msgspec.json.Decoder(MetaData)
_PLUGIN = msgspec.json.Decoder(PluginData)
_CUSTOM = msgspec.json.Decoder(CustomData)
_NAVIGATION = msgspec.json.Decoder(NavigationPayload)
_IDENTIFY = msgspec.json.Decoder(IdentifyPayload)
_CLICK_LABEL = msgspec.json.Decoder(ClickLabelPayload)
_ENCODER = msgspec.json.Encoder()


class Signal(msgspec.Struct, frozen=True, kw_only=True):
    """Something worth finding a session by, derived from its events at ingest."""

    kind: SignalKind
    ts: int  # ms since epoch: the timestamp of the event it was derived from
    data: dict[str, Any]  # kind-specific, JSON-serialisable, every string already scrubbed


class ProcessedBatch(msgspec.Struct, kw_only=True):
    """One batch ready to store: the scrubbed events plus what was learnt from them."""

    events_json: bytes  # a JSON array of the scrubbed events, stably sorted by timestamp
    event_count: int
    first_ts: int | None
    last_ts: int | None
    signals: list[Signal]  # in time order
    identified_user_id: str | None  # the last replaydesk/identify userId in the batch


class _Findings:
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

    def page_view(self, ts: int, url: str) -> None:
        self.signals.append(Signal(kind="page_view", ts=ts, data={"url": url}))
        self.activity.append(ts)


def _finite(value: int | float | None) -> int | float | None:
    """JSON numbers like 1e999 decode to infinity, which the JSON column cannot store."""
    return value if value is None or math.isfinite(value) else None


def _try_decode(decoder: msgspec.json.Decoder[_T], raw: msgspec.Raw) -> _T | None:
    try:
        return decoder.decode(raw)
    except msgspec.DecodeError:
        return None


def _decode_head(index: int, raw: msgspec.Raw) -> EventHead:
    try:
        head = _HEAD.decode(raw)
    except msgspec.DecodeError:
        raise BatchInvalid(f"events[{index}]: {_INVALID_HEAD}") from None
    if head.timestamp < 0:
        raise BatchInvalid(f"events[{index}]: 'timestamp' must not be negative")
    if not 0 <= head.type <= _LAST_EVENT_TYPE:
        raise BatchInvalid(
            f"events[{index}]: unknown event type {head.type}, expected 0..{_LAST_EVENT_TYPE}"
        )
    return head


def _rewrite(raw: msgspec.Raw, path: tuple[str, ...], updates: dict[str, Any]) -> bytes:
    """Re-encode one event with `updates` merged into the object at `path`."""
    event = _KEEPING_NUMBERS.decode(raw)
    target = event
    for key in path:
        target = target[key]
    target.update(updates)
    return _ENCODER.encode(event)


def _console_message(shown: list[str]) -> str:
    pieces: list[str] = []
    length = 0
    for piece in shown:
        pieces.append(piece)
        length += len(piece) + 1
        if length > MAX_MESSAGE_CHARS:
            break
    # Scrubbed again because joining can line up pieces into a card number.
    return scrub_text(" ".join(pieces))[:MAX_MESSAGE_CHARS]


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _console(ts: int, raw: msgspec.Raw, payload_raw: msgspec.Raw, out: _Findings) -> bytes | None:
    payload = _try_decode(_ANY, payload_raw)
    if payload is None:
        return None
    well_formed = (
        isinstance(payload, dict)
        and isinstance(payload.get("level"), str)
        and _is_str_list(payload.get("trace", []))
        and _is_str_list(payload.get("payload", []))
    )
    if not well_formed:
        payload, changed = scrub_json(payload)
        return _rewrite(raw, ("data",), {"payload": payload}) if changed else None
    trace = [scrub_text(line) for line in payload.get("trace", [])]
    stored: list[str] = []
    shown: list[str] = []
    for arg in payload.get("payload", []):
        stored_arg, shown_arg = scrub_console_arg(arg)
        stored.append(stored_arg)
        shown.append(shown_arg)
    level = payload["level"]
    if level in ERROR_LEVELS:
        data = {
            "message": _console_message(shown),
            "stack": [line[:MAX_STACK_LINE_CHARS] for line in trace[:MAX_STACK_LINES]],
            "level": level,
        }
        out.signals.append(Signal(kind="console_error", ts=ts, data=data))
    updates: dict[str, Any] = {}
    if "trace" in payload and trace != payload["trace"]:
        updates["trace"] = trace
    if "payload" in payload and stored != payload["payload"]:
        updates["payload"] = stored
    return _rewrite(raw, ("data", "payload"), updates) if updates else None


def _network(ts: int, raw: msgspec.Raw, payload_raw: msgspec.Raw, out: _Findings) -> bytes | None:
    payload = _try_decode(_ANY, payload_raw)
    if payload is None:
        return None
    payload, changed = scrub_network_payload(payload)
    try:
        request = msgspec.convert(payload, NetworkPayload)
    except msgspec.ValidationError:
        # Still a request the page made, so it still counts as a reaction to a click.
        out.requests.append((ts, ts))
    else:
        # The recorder emits the event when the request settles, so it ends at `ts`.
        duration = request.duration
        took = int(duration) if math.isfinite(duration) and duration > 0 else 0
        out.requests.append((ts - took, ts))
        answered = request.status != 0 or request.kind in _NO_RESPONSE_KINDS
        if request.status >= FIRST_FAILED_STATUS or not answered or request.error:
            data: dict[str, Any] = {
                "method": request.method,
                "url": request.url,
                "status": request.status,
                "duration": _finite(request.duration),
            }
            if request.error:
                data["error"] = request.error
            out.signals.append(Signal(kind="failed_request", ts=ts, data=data))
    return _rewrite(raw, ("data",), {"payload": payload}) if changed else None


# --- what each kind of event says, whichever way its fields were decoded ----------------------


def _plugin_event(
    ts: int, raw: msgspec.Raw, plugin: str, payload: msgspec.Raw, out: _Findings
) -> bytes | None:
    if plugin == CONSOLE_PLUGIN:
        return _console(ts, raw, payload, out)
    if plugin == NETWORK_PLUGIN:
        return _network(ts, raw, payload, out)
    if plugin == NAVIGATION_PLUGIN:
        navigation = _try_decode(_NAVIGATION, payload)
        if navigation is None:
            return None
        url = scrub_url(navigation.url)
        out.page_view(ts, url)
        if url != navigation.url:
            return _rewrite(raw, ("data", "payload"), {"url": url})
    return None


def _custom_event(
    ts: int, raw: msgspec.Raw, tag: str, payload: msgspec.Raw, out: _Findings
) -> bytes | None:
    if tag == IDENTIFY_TAG:
        identify = _try_decode(_IDENTIFY, payload)
        if identify is not None:
            out.user_id = identify.user_id
    elif tag == CLICK_TAG:
        label = _try_decode(_CLICK_LABEL, payload)
        if label is None:
            return None
        original = {"label": label.label, "selector": label.selector, "tag": label.tag}
        clean = {key: None if v is None else scrub_text(v) for key, v in original.items()}
        out.labels.append(ClickLabel(ts, clean["label"], clean["selector"], clean["tag"]))
        updates = {key: v for key, v in clean.items() if v != original[key]}
        if updates:
            return _rewrite(raw, ("data", "payload"), updates)
    return None


def _meta_event(ts: int, raw: msgspec.Raw, href: str, out: _Findings) -> bytes | None:
    url = scrub_url(href)
    out.page_view(ts, url)
    return _rewrite(raw, ("data",), {"href": url}) if url != href else None


def _mouse_interaction(
    ts: int, kind: int, node_id: int, x: int | float | None, y: int | float | None, out: _Findings
) -> None:
    if kind == MouseInteractions.CLICK:
        out.clicks.append(Click(ts, node_id, _finite(x), _finite(y)))


# --- event by event: the reference path, and the one that reports invalid events --------------


def _plugin(head: EventHead, raw: msgspec.Raw, out: _Findings) -> bytes | None:
    plugin = _try_decode(_PLUGIN, head.data)
    if plugin is None:
        return None
    return _plugin_event(head.timestamp, raw, plugin.plugin, plugin.payload, out)


def _custom(head: EventHead, raw: msgspec.Raw, out: _Findings) -> bytes | None:
    custom = _try_decode(_CUSTOM, head.data)
    if custom is None:
        return None
    return _custom_event(head.timestamp, raw, custom.tag, custom.payload, out)


def _meta(head: EventHead, raw: msgspec.Raw, out: _Findings) -> bytes | None:
    meta = _try_decode(_META, head.data)
    if meta is None:
        return None
    return _meta_event(head.timestamp, raw, meta.href, out)


def _incremental(head: EventHead, out: _Findings) -> None:
    incremental = _try_decode(_INCREMENTAL, head.data)
    if incremental is None:
        return
    if incremental.source == IncrementalSource.MUTATION:
        out.activity.append(head.timestamp)
    elif incremental.source == IncrementalSource.MOUSE_INTERACTION:
        mouse = _try_decode(_MOUSE, head.data)
        if mouse is not None:
            _mouse_interaction(head.timestamp, mouse.type, mouse.id, mouse.x, mouse.y, out)
    elif incremental.source == IncrementalSource.INPUT:
        out.activity.append(head.timestamp)
        typed = _try_decode(_INPUT, head.data)
        if typed is not None:
            out.inputs.append((head.timestamp, typed.id))


def _handle(head: EventHead, raw: msgspec.Raw, out: _Findings) -> bytes | None:
    """Collect what one event says; return its re-encoded form if scrubbing changed it."""
    if head.type == EventType.INCREMENTAL_SNAPSHOT:
        _incremental(head, out)
        return None
    if head.type == EventType.PLUGIN:
        return _plugin(head, raw, out)
    if head.type == EventType.CUSTOM:
        return _custom(head, raw, out)
    if head.type == EventType.META:
        return _meta(head, raw, out)
    return None


# --- the whole batch in one decode: the same decisions on fields decoded up front -------------

# Routed by table lookups rather than by comparisons with enum members as in `_handle`: on
# Python 3.11 each member lookup (EventType.META) costs about 0.2 µs, and every mouse move or
# mutation would pay for several.
_FieldsHandler = Callable[[int, msgspec.Raw, EventSignalFields, _Findings], bytes | None]


def _mutation_fields(ts: int, raw: msgspec.Raw, data: EventSignalFields, out: _Findings) -> None:
    out.activity.append(ts)


def _mouse_interaction_fields(
    ts: int, raw: msgspec.Raw, data: EventSignalFields, out: _Findings
) -> None:
    if data.type is not UNSET and data.id is not UNSET:
        _mouse_interaction(ts, data.type, data.id, data.x, data.y, out)


def _input_fields(ts: int, raw: msgspec.Raw, data: EventSignalFields, out: _Findings) -> None:
    out.activity.append(ts)
    if data.id is not UNSET:
        out.inputs.append((ts, data.id))


_INCREMENTAL_FIELDS_BY_SOURCE: dict[int | UnsetType, _FieldsHandler] = {
    IncrementalSource.MUTATION: _mutation_fields,
    IncrementalSource.MOUSE_INTERACTION: _mouse_interaction_fields,
    IncrementalSource.INPUT: _input_fields,
}


def _incremental_fields(ts: int, raw: msgspec.Raw, data: EventSignalFields, out: _Findings) -> None:
    handler = _INCREMENTAL_FIELDS_BY_SOURCE.get(data.source)
    if handler is not None:
        handler(ts, raw, data, out)


def _plugin_fields(
    ts: int, raw: msgspec.Raw, data: EventSignalFields, out: _Findings
) -> bytes | None:
    if data.plugin is UNSET:
        return None
    return _plugin_event(ts, raw, data.plugin, data.payload, out)


def _custom_fields(
    ts: int, raw: msgspec.Raw, data: EventSignalFields, out: _Findings
) -> bytes | None:
    if data.tag is UNSET:
        return None
    return _custom_event(ts, raw, data.tag, data.payload, out)


def _meta_fields(
    ts: int, raw: msgspec.Raw, data: EventSignalFields, out: _Findings
) -> bytes | None:
    if data.href is UNSET:
        return None
    return _meta_event(ts, raw, data.href, out)


_FIELDS_BY_TYPE: dict[int, _FieldsHandler] = {
    EventType.INCREMENTAL_SNAPSHOT: _incremental_fields,
    EventType.PLUGIN: _plugin_fields,
    EventType.CUSTOM: _custom_fields,
    EventType.META: _meta_fields,
}


def _handle_decoded(event: BatchEvent, raw: msgspec.Raw, out: _Findings) -> bytes | None:
    """`_handle` for an event whose fields were decoded with the whole batch."""
    handler = _FIELDS_BY_TYPE.get(event.type)
    if handler is None or event.data is None:
        return None
    return handler(event.timestamp, raw, event.data, out)


# --- the batch --------------------------------------------------------------------------------


def _input_signals(inputs: list[tuple[int, int]]) -> list[Signal]:
    """One signal per run of consecutive Input events on the same node; never the text."""
    signals: list[Signal] = []
    previous: int | None = None
    for ts, node_id in inputs:
        if node_id != previous:
            signals.append(Signal(kind="input", ts=ts, data={"node_id": node_id}))
        previous = node_id
    return signals


def process_events(raw_events: list[msgspec.Raw]) -> ProcessedBatch:
    """Validate, scrub and time-order one batch of rrweb events and derive its signals.

    Raises `BatchInvalid` naming the first event whose head is unusable. Events that need no
    scrubbing are stored exactly as received; malformed plugin or custom payloads are stored
    (scrubbed where they are console or network text) and yield no signal.
    """
    batch = process_events_in_one_decode(raw_events)
    return process_events_one_by_one(raw_events) if batch is None else batch


def process_events_in_one_decode(raw_events: list[msgspec.Raw]) -> ProcessedBatch | None:
    """`process_events` for a batch whose events all decode in one call; None for any other.

    Each raw event must be one JSON value, as decoding a JSON array into `list[msgspec.Raw]`
    gives them; they are joined back into one array for the decode.
    """
    try:
        events = _BATCH.decode(b"[" + b",".join(raw_events) + b"]")
    except msgspec.DecodeError:
        return None
    if len(events) != len(raw_events):  # an item that was not one JSON value
        return None
    return _process(raw_events, events, _handle_decoded)


def process_events_one_by_one(raw_events: list[msgspec.Raw]) -> ProcessedBatch:
    """`process_events` decoding each event on its own, as far as its type needs."""
    heads = [_decode_head(index, raw) for index, raw in enumerate(raw_events)]
    return _process(raw_events, heads, _handle)


def _process(
    raw_events: list[msgspec.Raw],
    events: Sequence[_Decoded],
    handle: Callable[[_Decoded, msgspec.Raw, _Findings], bytes | None],
) -> ProcessedBatch:
    """Handle the events in time order and put together what they gave."""
    order = sorted(range(len(events)), key=lambda index: events[index].timestamp)
    out = _Findings()
    parts: list[bytes | msgspec.Raw] = []
    for index in order:
        rewritten = handle(events[index], raw_events[index], out)
        parts.append(raw_events[index] if rewritten is None else rewritten)
    first_ts = events[order[0]].timestamp if order else None
    last_ts = events[order[-1]].timestamp if order else None
    signals = out.signals + _input_signals(out.inputs)
    if last_ts is not None:
        findings = click_findings(
            out.clicks,
            out.labels,
            activity=out.activity,
            requests=out.requests,
            batch_end=last_ts,
        )
        signals.extend(Signal(kind=f.kind, ts=f.ts, data=f.data) for f in findings)
    signals.sort(key=lambda signal: signal.ts)
    return ProcessedBatch(
        events_json=b"[" + b",".join(parts) + b"]",
        event_count=len(events),
        first_ts=first_ts,
        last_ts=last_ts,
        signals=signals,
        identified_user_id=out.user_id,
    )
