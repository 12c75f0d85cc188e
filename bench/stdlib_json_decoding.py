"""`decode_batch` done with the stdlib `json` module, to show what msgspec saves at ingest."""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import msgspec

from service.errors import BatchInvalid
from service.ingest.body import IngestBatch

__all__ = ["decode_batch_with_stdlib_json"]

_FIELDS = frozenset({"session_id", "seq", "events", "user_id", "final"})
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
_MAX_SEQ = 2**53
_MAX_USER_ID_CHARS = 256


def _reject_constant(name: str) -> NoReturn:
    # msgspec refuses NaN and Infinity, which stdlib json accepts by default.
    raise ValueError(f"{name} is not valid JSON")


def _invalid(message: str) -> BatchInvalid:
    return BatchInvalid(f"invalid batch: {message}")


def decode_batch_with_stdlib_json(data: bytes) -> IngestBatch:
    """What `service.ingest.body.decode_batch` does, with the same checks, on `json.loads`."""
    try:
        body: Any = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BatchInvalid(f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _invalid("Expected `object`")
    unknown = body.keys() - _FIELDS
    if unknown:
        raise _invalid(f"Object contains unknown field `{min(unknown)}`")
    for required in ("session_id", "seq", "events"):
        if required not in body:
            raise _invalid(f"Object missing required field `{required}`")
    session_id, seq, events = body["session_id"], body["seq"], body["events"]
    if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
        raise _invalid("Expected `str` matching the session id pattern - at `$.session_id`")
    if type(seq) is not int or not 0 <= seq <= _MAX_SEQ:
        raise _invalid(f"Expected `int` in 0..{_MAX_SEQ} - at `$.seq`")
    if not isinstance(events, list):
        raise _invalid("Expected `array` - at `$.events`")
    user_id = body.get("user_id")
    if user_id is not None and (
        not isinstance(user_id, str) or not 1 <= len(user_id) <= _MAX_USER_ID_CHARS
    ):
        raise _invalid("Expected `str` of length 1..256 - at `$.user_id`")
    final = body.get("final", False)
    if not isinstance(final, bool):
        raise _invalid("Expected `bool` - at `$.final`")
    # The rest of the pipeline takes each event as raw JSON bytes, as msgspec.Raw gives them.
    raw_events = [
        msgspec.Raw(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode())
        for event in events
    ]
    return IngestBatch(
        session_id=session_id, seq=seq, events=raw_events, user_id=user_id, final=final
    )
