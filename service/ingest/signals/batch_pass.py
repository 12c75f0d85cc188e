"""The ingest-time pass over one batch: validate, scrub, time-order, and route each event to
its detector (one module per signal kind beside this one).

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

from collections.abc import Callable, Sequence
from typing import TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from service.errors import BatchInvalid
from service.ingest.signals.clicks import click_label_event, click_signals, mouse_click
from service.ingest.signals.console_errors import console_event
from service.ingest.signals.environment import page_event
from service.ingest.signals.failed_requests import network_event
from service.ingest.signals.findings import Findings, try_decode
from service.ingest.signals.inputs import input_signals
from service.ingest.signals.page_views import meta_event, navigation_event
from service.rrweb import (
    CLICK_TAG,
    CONSOLE_PLUGIN,
    IDENTIFY_TAG,
    NAVIGATION_PLUGIN,
    NETWORK_PLUGIN,
    PAGE_TAG,
    BatchEvent,
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
    PluginData,
)
from service.session_environment import SessionEnvironment
from service.signal_kinds import Signal
from service.struggles import Span, merge_activity

__all__ = [
    "ProcessedBatch",
    "check_event_heads",
    "process_events",
    "process_events_in_one_decode",
    "process_events_one_by_one",
]

_INVALID_HEAD = "expected an object with integer 'type' and 'timestamp'"
_LAST_EVENT_TYPE = max(EventType)

# What a batch's events were decoded into: heads one by one, or whole events in one call.
_Decoded = TypeVar("_Decoded", EventHead, BatchEvent)

_BATCH = msgspec.json.Decoder(list[BatchEvent])
_HEAD = msgspec.json.Decoder(EventHead)
_INCREMENTAL = msgspec.json.Decoder(IncrementalHead)
_MOUSE = msgspec.json.Decoder(MouseInteractionData)
_INPUT = msgspec.json.Decoder(InputData)
_META = msgspec.json.Decoder(MetaData)
_PLUGIN = msgspec.json.Decoder(PluginData)
_CUSTOM = msgspec.json.Decoder(CustomData)
_IDENTIFY = msgspec.json.Decoder(IdentifyPayload)


class ProcessedBatch(msgspec.Struct, kw_only=True):
    """One batch ready to store: the scrubbed events plus what was learnt from them."""

    events_json: bytes  # a JSON array of the scrubbed events, stably sorted by timestamp
    event_count: int
    first_ts: int | None
    last_ts: int | None
    first_index: int | None  # where the earliest event stands in the batch as sent
    last_index: int | None  # and the newest
    signals: list[Signal]  # in time order
    activity: list[Span]  # when the page was visibly busy (`service.struggles.merge_activity`)
    identified_user_id: str | None  # the last replaydesk/identify userId in the batch
    environment: SessionEnvironment | None = None  # from the last replaydesk/page event


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


def check_event_heads(events: Sequence[msgspec.Raw]) -> None:
    """Refuse a batch whose events the signal pass would refuse, with the same message."""
    for index, raw in enumerate(events):
        _decode_head(index, raw)


# --- what each kind of event says, whichever way its fields were decoded ----------------------


def _plugin_event(
    ts: int, raw: msgspec.Raw, plugin: str, payload: msgspec.Raw, out: Findings
) -> bytes | None:
    if plugin == CONSOLE_PLUGIN:
        return console_event(ts, raw, payload, out)
    if plugin == NETWORK_PLUGIN:
        return network_event(ts, raw, payload, out)
    if plugin == NAVIGATION_PLUGIN:
        return navigation_event(ts, raw, payload, out)
    return None


def _custom_event(
    ts: int, raw: msgspec.Raw, tag: str, payload: msgspec.Raw, out: Findings
) -> bytes | None:
    if tag == IDENTIFY_TAG:
        identify = try_decode(_IDENTIFY, payload)
        if identify is not None:
            out.user_id = identify.user_id
    elif tag == CLICK_TAG:
        return click_label_event(ts, raw, payload, out)
    elif tag == PAGE_TAG:
        return page_event(ts, raw, payload, out)
    return None


def _mouse_interaction(
    ts: int, kind: int, node_id: int, x: int | float | None, y: int | float | None, out: Findings
) -> None:
    if kind == MouseInteractions.CLICK:
        mouse_click(ts, node_id, x, y, out)


# --- event by event: the reference path, and the one that reports invalid events --------------


def _plugin(head: EventHead, raw: msgspec.Raw, out: Findings) -> bytes | None:
    plugin = try_decode(_PLUGIN, head.data)
    if plugin is None:
        return None
    return _plugin_event(head.timestamp, raw, plugin.plugin, plugin.payload, out)


def _custom(head: EventHead, raw: msgspec.Raw, out: Findings) -> bytes | None:
    custom = try_decode(_CUSTOM, head.data)
    if custom is None:
        return None
    return _custom_event(head.timestamp, raw, custom.tag, custom.payload, out)


def _meta(head: EventHead, raw: msgspec.Raw, out: Findings) -> bytes | None:
    meta = try_decode(_META, head.data)
    if meta is None:
        return None
    return meta_event(head.timestamp, raw, meta.href, out)


def _incremental(head: EventHead, out: Findings) -> None:
    incremental = try_decode(_INCREMENTAL, head.data)
    if incremental is None:
        return
    if incremental.source == IncrementalSource.MUTATION:
        out.activity.append(head.timestamp)
    elif incremental.source == IncrementalSource.MOUSE_INTERACTION:
        mouse = try_decode(_MOUSE, head.data)
        if mouse is not None:
            _mouse_interaction(head.timestamp, mouse.type, mouse.id, mouse.x, mouse.y, out)
    elif incremental.source == IncrementalSource.INPUT:
        out.activity.append(head.timestamp)
        typed = try_decode(_INPUT, head.data)
        if typed is not None:
            out.inputs.append((head.timestamp, typed.id))


def _handle(head: EventHead, raw: msgspec.Raw, out: Findings) -> bytes | None:
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
_FieldsHandler = Callable[[int, msgspec.Raw, EventSignalFields, Findings], bytes | None]


def _mutation_fields(ts: int, raw: msgspec.Raw, data: EventSignalFields, out: Findings) -> None:
    out.activity.append(ts)


def _mouse_interaction_fields(
    ts: int, raw: msgspec.Raw, data: EventSignalFields, out: Findings
) -> None:
    if data.type is not UNSET and data.id is not UNSET:
        _mouse_interaction(ts, data.type, data.id, data.x, data.y, out)


def _input_fields(ts: int, raw: msgspec.Raw, data: EventSignalFields, out: Findings) -> None:
    out.activity.append(ts)
    if data.id is not UNSET:
        out.inputs.append((ts, data.id))


_INCREMENTAL_FIELDS_BY_SOURCE: dict[int | UnsetType, _FieldsHandler] = {
    IncrementalSource.MUTATION: _mutation_fields,
    IncrementalSource.MOUSE_INTERACTION: _mouse_interaction_fields,
    IncrementalSource.INPUT: _input_fields,
}


def _incremental_fields(ts: int, raw: msgspec.Raw, data: EventSignalFields, out: Findings) -> None:
    handler = _INCREMENTAL_FIELDS_BY_SOURCE.get(data.source)
    if handler is not None:
        handler(ts, raw, data, out)


def _plugin_fields(
    ts: int, raw: msgspec.Raw, data: EventSignalFields, out: Findings
) -> bytes | None:
    if data.plugin is UNSET:
        return None
    return _plugin_event(ts, raw, data.plugin, data.payload, out)


def _custom_fields(
    ts: int, raw: msgspec.Raw, data: EventSignalFields, out: Findings
) -> bytes | None:
    if data.tag is UNSET:
        return None
    return _custom_event(ts, raw, data.tag, data.payload, out)


def _meta_fields(ts: int, raw: msgspec.Raw, data: EventSignalFields, out: Findings) -> bytes | None:
    if data.href is UNSET:
        return None
    return meta_event(ts, raw, data.href, out)


_FIELDS_BY_TYPE: dict[int, _FieldsHandler] = {
    EventType.INCREMENTAL_SNAPSHOT: _incremental_fields,
    EventType.PLUGIN: _plugin_fields,
    EventType.CUSTOM: _custom_fields,
    EventType.META: _meta_fields,
}


def _handle_decoded(event: BatchEvent, raw: msgspec.Raw, out: Findings) -> bytes | None:
    """`_handle` for an event whose fields were decoded with the whole batch."""
    handler = _FIELDS_BY_TYPE.get(event.type)
    if handler is None or event.data is None:
        return None
    return handler(event.timestamp, raw, event.data, out)


# --- the batch --------------------------------------------------------------------------------


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
    handle: Callable[[_Decoded, msgspec.Raw, Findings], bytes | None],
) -> ProcessedBatch:
    """Handle the events in time order and put together what they gave."""
    order = sorted(range(len(events)), key=lambda index: events[index].timestamp)
    out: Findings = Findings()
    parts: list[bytes | msgspec.Raw] = []
    for index in order:
        rewritten = handle(events[index], raw_events[index], out)
        parts.append(raw_events[index] if rewritten is None else rewritten)
    first_ts = events[order[0]].timestamp if order else None
    last_ts = events[order[-1]].timestamp if order else None
    signals: list[Signal] = [*out.signals, *input_signals(out.inputs)]
    signals += click_signals(out.clicks, out.labels)
    signals.sort(key=lambda signal: signal.ts)
    return ProcessedBatch(
        events_json=b"[" + b",".join(parts) + b"]",
        event_count=len(events),
        first_ts=first_ts,
        last_ts=last_ts,
        first_index=order[0] if order else None,
        last_index=order[-1] if order else None,
        signals=signals,
        activity=merge_activity(out.activity, out.requests),
        identified_user_id=out.user_id,
        environment=out.environment,
    )
