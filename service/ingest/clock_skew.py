"""The sender's clock against the service's: how far off it is, and which times are absurd.

Events keep the browser's timestamps (the replay plays them as recorded), but everything the
service derives from them (a session's start and end, what is "latest", whether a session came
before a ticket, the times of its signals) is put on the service's clock. The recorder adds its
own clock at the moment it sends (`?sent_at=`, milliseconds); the difference to the receive time
is the sender's offset plus the time in flight. Without it (an older recorder, a hand-made
request), a batch whose newest event lies in the future tells the offset at least that far.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import msgspec

from service.errors import BatchInvalid
from service.ingest.signals.batch_pass import ProcessedBatch
from service.signal_kinds import Signal
from service.struggles import Span

__all__ = [
    "EARLIEST_MS",
    "MAX_AHEAD_MS",
    "MIN_CORRECTION_MS",
    "ServiceTimes",
    "clock_offset",
    "on_service_clock",
    "parse_sent_at",
]

# 2000-01-01: the web had no recorder before it; an earlier time is a broken clock or a forgery.
EARLIEST_MS = 946_684_800_000
# Beyond JavaScript's exact integers a timestamp is no clock reading at all.
_LATEST_CLOCK_MS = 2**53
# Offsets below this are time in flight or ordinary drift, left alone: every batch of a session
# then keeps the same times relative to the others, however its network delays varied.
MIN_CORRECTION_MS = 60_000
# How far past the receive time an event may lie once corrected: slack for the two clocks'
# readings not being simultaneous.
MAX_AHEAD_MS = 60_000


def parse_sent_at(value: str | None) -> int | None:
    """The `sent_at` query parameter as milliseconds; 400 for anything but a plausible clock."""
    if value is None or value == "":
        return None
    # ASCII digits only: str.isdigit() also takes "¹" and "٣", which int() refuses.
    if (
        not (value.isascii() and value.isdigit())
        or not EARLIEST_MS <= int(value) <= _LATEST_CLOCK_MS
    ):
        raise BatchInvalid(
            "sent_at must be the sender's clock in milliseconds since 1970, at or after 2000"
        )
    return int(value)


def clock_offset(sent_at: int | None, received_at: int, newest_event_ms: int | None) -> int:
    """Milliseconds to add to the sender's times to put them on the service's clock."""
    if sent_at is not None:
        offset = received_at - sent_at
    elif newest_event_ms is not None and newest_event_ms > received_at:
        offset = received_at - newest_event_ms
    else:
        offset = 0
    return offset if abs(offset) >= MIN_CORRECTION_MS else 0


class ServiceTimes(NamedTuple):
    """A batch's derived times on the service's clock."""

    first_ts: int | None
    last_ts: int | None
    signals: list[Signal]
    activity: list[Span]


def on_service_clock(
    processed: ProcessedBatch, sent_at: int | None, received_at: int
) -> ServiceTimes:
    """The batch's first and last times, its signals and activity, shifted onto the service's clock.

    400 naming the event when a shifted time is before 2000 or more than `MAX_AHEAD_MS` past
    the receive time.
    """
    offset = clock_offset(sent_at, received_at, processed.last_ts)
    first, last = processed.first_ts, processed.last_ts
    _check(first, processed.first_index, last, processed.last_index, offset, received_at)
    if not offset:
        return ServiceTimes(first, last, processed.signals, processed.activity)
    return ServiceTimes(
        None if first is None else first + offset,
        None if last is None else last + offset,
        [msgspec.structs.replace(signal, ts=signal.ts + offset) for signal in processed.signals],
        [(start + offset, end + offset) for start, end in processed.activity],
    )


def check_event_times(timestamps: Sequence[int], sent_at: int | None, received_at: int) -> None:
    """Refuse a batch (its events' timestamps, as sent) that `on_service_clock` would refuse,
    with the same message, before its events are processed."""
    if not timestamps:
        return
    first, last = min(timestamps), max(timestamps)
    # As the signal pass's stable sort by time finds them: the earliest first, the newest last.
    first_index = timestamps.index(first)
    last_index = len(timestamps) - 1 - list(reversed(timestamps)).index(last)
    offset = clock_offset(sent_at, received_at, last)
    _check(first, first_index, last, last_index, offset, received_at)


def _check(
    first: int | None,
    first_index: int | None,
    last: int | None,
    last_index: int | None,
    offset: int,
    received_at: int,
) -> None:
    if first is not None and first + offset < EARLIEST_MS:
        raise BatchInvalid(
            f"events[{first_index}]: timestamp {first} is before 2000{_corrected(offset)}"
        )
    if last is not None and last + offset > received_at + MAX_AHEAD_MS:
        raise BatchInvalid(
            f"events[{last_index}]: timestamp {last} is in the future"
            f"{_corrected(offset)}; send sent_at with the sender's clock"
        )


def _corrected(offset: int) -> str:
    return f" even on the service's clock ({offset:+d} ms)" if offset else ""
