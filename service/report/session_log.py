"""A session's whole console and network log as a text file, for attaching to tickets."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterable
from datetime import UTC, datetime
from typing import Any

import msgspec

from service.report.replay_report import ReportFile
from service.report.text import format_offset
from service.rrweb import CONSOLE_PLUGIN, NAVIGATION_PLUGIN, NETWORK_PLUGIN, EventType
from service.sessions.reader import SessionSummary

__all__ = ["MAX_LOG_BYTES", "LogBuilder", "log_file"]

# Trackers take attachments of many megabytes, but a log a person reads ends well before that;
# the replay keeps everything.
MAX_LOG_BYTES = 2 * 1024 * 1024
MAX_ARG_CHARS = 2000

_ANY = msgspec.json.Decoder()
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _when(ts: int, start_ms: int) -> str:
    moment = datetime.fromtimestamp(ts / 1000, tz=UTC)
    return f"{format_offset(ts - start_ms):>7} {moment:%H:%M:%S}.{ts % 1000:03d}"


def _shown(arg: Any) -> str:
    """A console argument as the page's developer would read it: strings without quotes."""
    if not isinstance(arg, str):
        return msgspec.json.encode(arg).decode()
    try:
        decoded = _ANY.decode(arg)
    except msgspec.DecodeError:
        return arg[:MAX_ARG_CHARS]
    text = decoded if isinstance(decoded, str) else arg
    return text[:MAX_ARG_CHARS]


def _console(ts: int, start_ms: int, payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return []
    level = str(payload.get("level", "log"))
    args = payload.get("payload")
    message = " ".join(_shown(a) for a in args) if isinstance(args, list) else ""
    lines = [f"{_when(ts, start_ms)}  console.{level:<5}  {message}"]
    trace = payload.get("trace")
    if isinstance(trace, list):
        lines += [f"{'':>21}    {frame}" for frame in trace if isinstance(frame, str)]
    return lines


def _network(ts: int, start_ms: int, payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return []
    method = str(payload.get("method", "GET")).upper()
    status = payload.get("status")
    answer = str(status) if isinstance(status, int) and status else "no response"
    parts = [f"{method} {payload.get('url', '')}", answer]
    duration = payload.get("duration")
    if isinstance(duration, int | float) and math.isfinite(duration):
        parts.append(f"{duration:.0f} ms")
    if payload.get("error"):
        parts.append(str(payload["error"]))
    kind = str(payload.get("kind") or "request")
    return [f"{_when(ts, start_ms)}  {kind:<13}  {'  '.join(parts)}"]


def _event_lines(event: Any, start_ms: int) -> list[str]:
    if not isinstance(event, dict) or not isinstance(event.get("timestamp"), int):
        return []
    ts: int = event["timestamp"]
    data = event.get("data")
    if not isinstance(data, dict):
        return []
    kind = event.get("type")
    if kind == EventType.META and isinstance(data.get("href"), str):
        return [f"{_when(ts, start_ms)}  page           {data['href']}"]
    if kind != EventType.PLUGIN:
        return []
    plugin, payload = data.get("plugin"), data.get("payload")
    if plugin == CONSOLE_PLUGIN:
        return _console(ts, start_ms, payload)
    if plugin == NETWORK_PLUGIN:
        return _network(ts, start_ms, payload)
    if plugin == NAVIGATION_PLUGIN and isinstance(payload, dict):
        return [f"{_when(ts, start_ms)}  navigation     {payload.get('url', '')}"]
    return []


def _is_page_view(event: Any) -> bool:
    return isinstance(event, dict) and event.get("type") == EventType.META


class LogBuilder:
    """Builds the log file one chunk of events at a time (only one chunk decoded at once)."""

    def __init__(self, session: SessionSummary, max_bytes: int = MAX_LOG_BYTES) -> None:
        self.session = session
        self.max_bytes = max_bytes
        self.start_ms = int(session.started_at.timestamp() * 1000)
        self.header = (
            f"ReplayDesk session {session.session_id}\n"
            f"User: {session.user_id or 'anonymous'}\n"
            f"Started: {session.started_at:%Y-%m-%d %H:%M:%S} UTC\n"
            "Times: offset into the session, then UTC\n\n"
        ).encode()
        self.body = bytearray()
        self.logged = False
        self.truncated = False

    def add_chunk(self, chunk: bytes) -> bool:
        """Add one chunk (a JSON array of rrweb events); False once the file is full."""
        for event in _ANY.decode(chunk):
            lines = _event_lines(event, self.start_ms)
            self.logged = self.logged or (bool(lines) and not _is_page_view(event))
            encoded = "".join(f"{line}\n" for line in lines).encode()
            if len(self.header) + len(self.body) + len(encoded) > self.max_bytes:
                self.truncated = True
                return False
            self.body += encoded
        return True

    def file(self) -> ReportFile | None:
        """The log file; None when the session logged nothing but page views."""
        if not self.logged:
            return None
        tail = b""
        if self.truncated:
            tail = f"... cut at {self.max_bytes // 1024} KiB; the replay has the rest.\n".encode()
        name = _FILENAME_UNSAFE.sub("_", self.session.session_id)[:40]
        return ReportFile(
            filename=f"replaydesk-{name}-log.txt",
            content_type="text/plain; charset=utf-8",
            content=self.header + bytes(self.body) + tail,
        )


async def log_file(
    session: SessionSummary, chunks: AsyncIterable[bytes], max_bytes: int = MAX_LOG_BYTES
) -> ReportFile | None:
    """The session's console and network log from its event chunks (see `LogBuilder`)."""
    builder = LogBuilder(session, max_bytes)
    async for chunk in chunks:
        if not builder.add_chunk(chunk):
            break
    return builder.file()
