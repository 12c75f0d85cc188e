"""Console errors: `rrweb/console@1` events at level error or assert, scrubbed, with stacks.

Every console event is also tidied as it is stored: a logged `Error`'s text gives its frames to
the event's trace (they say where it was thrown, not where it was logged) and keeps only its
message, and only levels in `CONSOLE_STACK_LEVELS` keep a trace at all.
"""

from __future__ import annotations

from typing import Any

import msgspec

from service.error_fingerprints import console_identity
from service.ingest.payload_scrubbing import scrub_console_arg, scrub_json
from service.ingest.scrubbing import scrub_text
from service.ingest.signals.findings import ANY, Findings, rewrite, try_decode
from service.ingest.signals.stacks import split_error_text
from service.rrweb import CONSOLE_STACK_LEVELS, ConsolePayload
from service.signal_kinds import ConsoleErrorSignal

__all__ = ["ERROR_LEVELS", "MAX_MESSAGE_CHARS", "MAX_STACK_LINES", "console_event"]

# Enough for any real error message; the full text stays in the stored event.
MAX_MESSAGE_CHARS = 2000
# Frames past the fiftieth are framework internals nobody reads in a triage list.
MAX_STACK_LINES = 50
# A frame is a function name and a URL; anything longer is minified source, not location.
MAX_STACK_LINE_CHARS = 1000
ERROR_LEVELS = frozenset({"error", "assert"})
_ENCODER = msgspec.json.Encoder()


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
    level = console.level
    stored: list[str] = []
    shown: list[str] = []
    thrown_at: list[str] = []
    for arg in console.payload:
        stored_arg, shown_arg = scrub_console_arg(arg)
        if stored_arg.startswith('"'):
            # A JSON string: an error's text (rrweb's rendering of an `Error`, or its `stack`).
            split = split_error_text(shown_arg)
            if split.message != shown_arg:
                shown_arg = split.message
                stored_arg = _ENCODER.encode(shown_arg).decode()
                thrown_at = thrown_at or split.frames
        stored.append(stored_arg)
        shown.append(shown_arg)
    if level not in CONSOLE_STACK_LEVELS:
        trace = []
    else:
        trace = [scrub_text(line) for line in thrown_at or console.trace]
    if level in ERROR_LEVELS:
        message = _message(shown)
        stack = [line[:MAX_STACK_LINE_CHARS] for line in trace[:MAX_STACK_LINES]]
        out.signals.append(
            ConsoleErrorSignal(
                ts=ts,
                message=message,
                stack=stack,
                level=level,
                fingerprint=console_identity(message, stack).fingerprint,
            )
        )
    updates: dict[str, Any] = {}
    if trace != console.trace:
        updates["trace"] = trace
    if "payload" in payload and stored != console.payload:
        updates["payload"] = stored
    return rewrite(raw, ("data", "payload"), updates) if updates else None
