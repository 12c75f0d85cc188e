"""What makes two errors "the same error": one fingerprint per console error and failed request.

Ingest puts the fingerprint into the signal and indexes it (`storage/error_store.py`), so a
ticket can say how many other users hit the same error; the report groups a session's errors
by it too, so a ticket and the API never disagree about what one error is. Everything here
works on text that was scrubbed before, and a title is built only from the normalised parts,
so it holds none of one user's values (IDs, amounts, quoted input).
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple
from urllib.parse import urlsplit

from service.signal_kinds import ConsoleErrorSignal, FailedRequestSignal

__all__ = [
    "FRAMES_IN_FINGERPRINT",
    "MAX_TITLE_CHARS",
    "ErrorIdentity",
    "console_identity",
    "identity_of",
    "normalise_frame",
    "normalise_message",
    "request_identity",
    "template_path",
]

# The top frames say where an error was thrown; deeper ones differ with the route that led
# there, which is the same error reached another way.
FRAMES_IN_FINGERPRINT = 3
MAX_TITLE_CHARS = 300

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Order matters: a UUID and a hex string hold digits, a quoted value may hold anything.
_VOLATILE = re.compile(
    rf"(?P<uuid>{_UUID})"
    r"|(?P<hex>0x[0-9a-fA-F]+|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b)"
    r"|(?P<quoted>'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`)"
    r"|(?P<number>\d+(?:\.\d+)?)"
)
_PLACEHOLDERS = {"uuid": "<uuid>", "hex": "<hex>", "quoted": "'…'", "number": "<n>"}
# `fn (https://x/app.js?v=3:10:5)` or a bare location: the location is in the last parentheses.
_LOCATED = re.compile(r"^(?:at\s+)?(?P<function>.*?)\s*\((?P<location>[^()]*)\)\s*$")
_LINE_COLUMN = re.compile(r"(?::\d+){1,2}$")
_ID_SEGMENT = re.compile(rf"^(?:\d+|{_UUID}|(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{{8,}})$")


class ErrorIdentity(NamedTuple):
    """An error's fingerprint (16 hex digits) and its title in words, for people."""

    fingerprint: str
    title: str


def normalise_message(text: str) -> str:
    """The first line of an error message with its volatile parts (numbers, hex, UUIDs,
    quoted values) as placeholders: "order 41 failed" and "order 42 failed" are one error."""
    first_line = text.strip().split("\n", 1)[0].strip()
    return _VOLATILE.sub(lambda m: _PLACEHOLDERS[m.lastgroup or "number"], first_line)


def _location_path(location: str) -> str:
    """A frame's file as its path alone: no origin (one bundle served by several hosts), no
    query or hash (cache busters), no line or column (they move with every build)."""
    location = _LINE_COLUMN.sub("", location.strip())
    parts = urlsplit(location)
    if parts.scheme and parts.netloc:
        return parts.path or "/"
    return location.split("?", 1)[0].split("#", 1)[0]


def normalise_frame(frame: str) -> str:
    """One stack frame (`function (file:line:column)` or `file:line:column`) without line,
    column, origin, query and hash."""
    located = _LOCATED.match(frame)
    if located is None:
        return _location_path(frame.removeprefix("at "))
    function = located["function"].strip()
    path = _location_path(located["location"])
    return f"{function} ({path})" if function else path


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def console_identity(message: str, stack: list[str]) -> ErrorIdentity:
    """A console error's identity: its normalised first line and its top frames."""
    normalised = normalise_message(message)
    frames = [normalise_frame(frame) for frame in stack[:FRAMES_IN_FINGERPRINT]]
    title = normalised or "(no message)"
    return ErrorIdentity(_digest("console_error", normalised, *frames), title[:MAX_TITLE_CHARS])


def template_path(path: str) -> str:
    """A URL path with its ID segments (numbers, UUIDs, hex digests) as `{id}`."""
    return "/".join("{id}" if _ID_SEGMENT.match(s) else s for s in path.split("/"))


def request_identity(method: str, url: str, status: int) -> ErrorIdentity:
    """A failed request's identity: method, host, path template and status (0: no answer)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        # Not a URL the browser could have requested as such; its text is the best key left.
        host, port, parts = "", None, urlsplit("")
    path = template_path(parts.path if parts.path or host else url.split("?", 1)[0])
    if port is not None:
        host = f"{host}:{port}"
    verb = (method or "GET").upper()
    answer = str(status) if status else "no answer"
    title = f"{verb} {host}{path} → {answer}"
    return ErrorIdentity(
        _digest("failed_request", verb, host, path, str(status)), title[:MAX_TITLE_CHARS]
    )


def identity_of(signal: ConsoleErrorSignal | FailedRequestSignal) -> ErrorIdentity:
    """The identity of a stored or new signal (rows stored before fingerprints had none)."""
    if isinstance(signal, ConsoleErrorSignal):
        return console_identity(signal.message, signal.stack)
    return request_identity(signal.method, signal.url, signal.status)
