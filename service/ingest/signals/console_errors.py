"""Console errors: `rrweb/console@1` events at level error or assert, scrubbed, with stacks."""

from __future__ import annotations

from typing import Any

import msgspec

from service.ingest.payload_scrubbing import scrub_console_arg, scrub_json
from service.ingest.scrubbing import scrub_text
from service.ingest.signals.findings import ANY, Findings, rewrite, try_decode
from service.rrweb import ConsolePayload
from service.signal_kinds import ConsoleErrorSignal

__all__ = ["ERROR_LEVELS", "MAX_MESSAGE_CHARS", "MAX_STACK_LINES", "console_event"]

# Enough for any real error message; the full text stays in the stored event.
MAX_MESSAGE_CHARS = 2000
# Frames past the fiftieth are framework internals nobody reads in a triage list.
MAX_STACK_LINES = 50
# A frame is a function name and a URL; anything longer is minified source, not location.
MAX_STACK_LINE_CHARS = 1000
ERROR_LEVELS = frozenset({"error", "assert"})


def _message(shown: list[str]) -> str:
    pieces: list[str] = []
    length = 0
    for piece in shown:
        pieces.append(piece)
        length += len(piece) + 1
        if length > MAX_MESSAGE_CHARS:
            break
    # Scrubbed again because joining can line up pieces into a card number.
    return scrub_text(" ".join(pieces))[:MAX_MESSAGE_CHARS]


def console_event(
    ts: int, raw: msgspec.Raw, payload_raw: msgspec.Raw, out: Findings
) -> bytes | None:
    """Scrub one console event; an error-level one becomes a signal. Returns the event
    re-encoded when scrubbing changed it."""
    payload = try_decode(ANY, payload_raw)
    if payload is None:
        return None
    try:
        console = msgspec.convert(payload, ConsolePayload)
    except msgspec.ValidationError:
        payload, changed = scrub_json(payload)
        return rewrite(raw, ("data",), {"payload": payload}) if changed else None
    trace = [scrub_text(line) for line in console.trace]
    stored: list[str] = []
    shown: list[str] = []
    for arg in console.payload:
        stored_arg, shown_arg = scrub_console_arg(arg)
        stored.append(stored_arg)
        shown.append(shown_arg)
    level = console.level
    if level in ERROR_LEVELS:
        out.signals.append(
            ConsoleErrorSignal(
                ts=ts,
                message=_message(shown),
                stack=[line[:MAX_STACK_LINE_CHARS] for line in trace[:MAX_STACK_LINES]],
                level=level,
            )
        )
    updates: dict[str, Any] = {}
    if "trace" in payload and trace != console.trace:
        updates["trace"] = trace
    if "payload" in payload and stored != console.payload:
        updates["payload"] = stored
    return rewrite(raw, ("data", "payload"), updates) if updates else None
