"""The ingest-time pass over one batch: validate, scrub, time-order, and derive signals."""

from __future__ import annotations

import math
from typing import Any, Literal, TypeVar

import msgspec

from service.click_signals import Click, ClickLabel, click_findings
from service.errors import BatchInvalid
from service.payload_scrubbing import scrub_console_arg, scrub_json, scrub_network_payload
from service.rrweb import (
    CLICK_TAG,
    CONSOLE_PLUGIN,
    IDENTIFY_TAG,
    NAVIGATION_PLUGIN,
    NETWORK_PLUGIN,
    ClickLabelPayload,
    CustomData,
    EventHead,
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

_HEAD = msgspec.json.Decoder(EventHead)
_ANY: msgspec.json.Decoder[Any] = msgspec.json.Decoder()
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
    event = _ANY.decode(raw)
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


def _plugin(head: EventHead, raw: msgspec.Raw, out: _Findings) -> bytes | None:
    plugin = _try_decode(_PLUGIN, head.data)
    if plugin is None:
        return None
    if plugin.plugin == CONSOLE_PLUGIN:
        return _console(head.timestamp, raw, plugin.payload, out)
    if plugin.plugin == NETWORK_PLUGIN:
        return _network(head.timestamp, raw, plugin.payload, out)
    if plugin.plugin == NAVIGATION_PLUGIN:
        navigation = _try_decode(_NAVIGATION, plugin.payload)
        if navigation is None:
            return None
        url = scrub_url(navigation.url)
        out.page_view(head.timestamp, url)
        if url != navigation.url:
            return _rewrite(raw, ("data", "payload"), {"url": url})
    return None


def _custom(head: EventHead, raw: msgspec.Raw, out: _Findings) -> bytes | None:
    custom = _try_decode(_CUSTOM, head.data)
    if custom is None:
        return None
    if custom.tag == IDENTIFY_TAG:
        identify = _try_decode(_IDENTIFY, custom.payload)
        if identify is not None:
            out.user_id = identify.user_id
    elif custom.tag == CLICK_TAG:
        payload = _try_decode(_CLICK_LABEL, custom.payload)
        if payload is None:
            return None
        original = {"label": payload.label, "selector": payload.selector, "tag": payload.tag}
        clean = {key: None if v is None else scrub_text(v) for key, v in original.items()}
        out.labels.append(
            ClickLabel(head.timestamp, clean["label"], clean["selector"], clean["tag"])
        )
        updates = {key: v for key, v in clean.items() if v != original[key]}
        if updates:
            return _rewrite(raw, ("data", "payload"), updates)
    return None


def _meta(head: EventHead, raw: msgspec.Raw, out: _Findings) -> bytes | None:
    meta = _try_decode(_META, head.data)
    if meta is None:
        return None
    url = scrub_url(meta.href)
    out.page_view(head.timestamp, url)
    return _rewrite(raw, ("data",), {"href": url}) if url != meta.href else None


def _incremental(head: EventHead, out: _Findings) -> None:
    incremental = _try_decode(_INCREMENTAL, head.data)
    if incremental is None:
        return
    if incremental.source == IncrementalSource.MUTATION:
        out.activity.append(head.timestamp)
    elif incremental.source == IncrementalSource.MOUSE_INTERACTION:
        mouse = _try_decode(_MOUSE, head.data)
        if mouse is not None and mouse.type == MouseInteractions.CLICK:
            out.clicks.append(Click(head.timestamp, mouse.id, _finite(mouse.x), _finite(mouse.y)))
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
    heads = [_decode_head(index, raw) for index, raw in enumerate(raw_events)]
    order = sorted(range(len(heads)), key=lambda index: heads[index].timestamp)
    out = _Findings()
    parts: list[bytes | msgspec.Raw] = []
    for index in order:
        rewritten = _handle(heads[index], raw_events[index], out)
        parts.append(raw_events[index] if rewritten is None else rewritten)
    first_ts = heads[order[0]].timestamp if order else None
    last_ts = heads[order[-1]].timestamp if order else None
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
        event_count=len(heads),
        first_ts=first_ts,
        last_ts=last_ts,
        signals=signals,
        identified_user_id=out.user_id,
    )
