"""Pacing of ingest while processing is behind: batches are let into the inbox at the rate the
processing workers store them, each at its own moment.

Holding every batch while the workers are behind and letting them all go once they caught up
makes clients wait in bursts: most acknowledgements are quick and some take a second. Paced,
each batch waits about as long as the next one, and clients send no faster than the workers
store. The rate is read off the inbox counts (`InboxBacklog`): row ids are never reused, so the
newest id less the rows waiting is how many were ever stored (or removed), by every worker of
every replica; a replica lets in its own share of that, the share of the rows it queued.
"""

from __future__ import annotations

from typing import NamedTuple

from service.storage.inbox_store import InboxBacklog

__all__ = ["PACE_TARGET_LAG_SECONDS", "IngestPacer"]

# Pacing starts when the oldest waiting batch is older than this, and it keeps the lag near it.
PACE_TARGET_LAG_SECONDS = 0.25
# The stored rate is averaged over about this long (the workers store a page of rows at once).
_RATE_SECONDS = 1.0
# How much the rate let in moves with the inbox's fill: twice the target, half as fast.
_FILL_GAIN = 0.5
_SLOWEST, _FASTEST = 0.25, 1.5


class _Sample(NamedTuple):
    at: float
    stored: int  # rows ever stored or removed
    newest_id: int
    queued_here: int


class IngestPacer:
    """Decides how long each batch waits before it is queued (see the module's docstring)."""

    def __init__(self, target_lag: float = PACE_TARGET_LAG_SECONDS) -> None:
        self.target_lag = target_lag
        self.rate: float | None = None
        """Batches a second let in now; None: not pacing."""
        self._stored_rate: float | None = None
        self._share = 1.0
        self._sample: _Sample | None = None
        self._next_slot = 0.0

    def counted(self, at: float, backlog: InboxBacklog, lag: float, queued_here: int) -> None:
        """A new count: `at` (monotonic seconds), the oldest waiting batch's age `lag`, and
        how many batches this process has queued in all."""
        if backlog.newest_id is None:
            # The inbox is empty: processing keeps up.
            self.rate = self._sample = None
            return
        in_inbox = backlog.waiting + backlog.stuck
        sample = _Sample(at, backlog.newest_id - in_inbox, backlog.newest_id, queued_here)
        before, self._sample = self._sample, sample
        if before is not None and sample.at > before.at:
            elapsed = sample.at - before.at
            stored = max(0, sample.stored - before.stored) / elapsed
            weight = min(1.0, elapsed / _RATE_SECONDS)
            previous = stored if self._stored_rate is None else self._stored_rate
            self._stored_rate = previous + weight * (stored - previous)
            new_ids = sample.newest_id - before.newest_id
            if new_ids > 0:
                here = (sample.queued_here - before.queued_here) / new_ids
                self._share += weight * (min(1.0, max(0.0, here)) - self._share)
        if self._stored_rate is None:
            return
        # Rows that keep the workers busy for the target lag: the inbox is kept about as full.
        target = max(1.0, self._stored_rate * self.target_lag)
        if self.rate is None and lag <= self.target_lag and backlog.waiting <= target:
            return
        if self.rate is not None and lag < self.target_lag / 2 and backlog.waiting < target / 4:
            self.rate = None
            return
        factor = 1 + _FILL_GAIN * (target - backlog.waiting) / target
        rate = self._stored_rate * self._share * min(_FASTEST, max(_SLOWEST, factor))
        # Nothing stored lately (stalled workers): the inbox's hold takes over.
        self.rate = rate if rate > 0 else None

    def delay(self, now: float) -> float:
        """Seconds the batch arriving `now` waits for its turn (0 while not pacing)."""
        if self.rate is None:
            return 0.0
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1 / self.rate
        return slot - now
