"""A time window of a session: what a windowed viewer link shows, and the summary and evidence
of that part only.

A window is two instants on the service's clock (milliseconds since the epoch), the clock the
session's start and end and its signals are on. A viewer token carries them as they were when
the link was minted, so a window never moves, whatever arrives later. The event stream of a
window is built in `window_events`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import msgspec

from service.signal_kinds import ConsoleErrorSignal, PageViewSignal, Signal, kind_of

__all__ = [
    "SessionWindow",
    "ShownWindow",
    "first_error_within",
    "signals_within",
    "window_counts",
    "window_pages",
]


class SessionWindow(msgspec.Struct, frozen=True):
    """From `start_ms` to `end_ms` inclusive, on the service's clock."""

    start_ms: int
    end_ms: int

    def contains(self, ts: int) -> bool:
        """Whether an instant lies in the window."""
        return self.start_ms <= ts <= self.end_ms


class ShownWindow(msgspec.Struct, frozen=True, kw_only=True):
    """The part of the session a windowed viewer link shows (the summary's `window`)."""

    from_ms: int
    """Where it starts, in milliseconds from the session's start."""
    to_ms: int
    """Where it ends, in milliseconds from the session's start; at most the session's length so
    far (a window may reach past the last event of a session still being recorded)."""
    started_at: datetime
    ended_at: datetime


def signals_within(signals: list[Signal], window: SessionWindow) -> list[Signal]:
    """The signals of the window, in their order."""
    return [signal for signal in signals if window.contains(signal.ts)]


def window_pages(signals: list[Signal], window: SessionWindow) -> list[str]:
    """The pages of the window in visit order: the one open when it starts (the replay shows
    it), then those viewed inside it."""
    before = [s.url for s in signals if isinstance(s, PageViewSignal) and s.ts < window.start_ms]
    inside = [s.url for s in signals_within(signals, window) if isinstance(s, PageViewSignal)]
    return before[-1:] + inside


def window_counts(signals: list[Signal]) -> Counter[str]:
    """How many signals of each kind these are."""
    return Counter(kind_of(signal) for signal in signals)


def first_error_within(signals: list[Signal]) -> int | None:
    """The time of the first console error among these signals."""
    return next((s.ts for s in signals if isinstance(s, ConsoleErrorSignal)), None)
