"""Pacing while processing is behind: batches let in at the rate the workers store them, each
waiting about as long as the next, and none at all while processing keeps up."""

from __future__ import annotations

from itertools import pairwise

from service.ingest.pacing import IngestPacer
from service.storage.inbox_store import InboxBacklog


def backlog(waiting: int, newest_id: int | None) -> InboxBacklog:
    return InboxBacklog(waiting, 0, None if newest_id is None else 1, {}, newest_id)


def fed(pacer: IngestPacer, counts: list[tuple[float, int, int, float, int]]) -> None:
    """Counts of (time, waiting, newest id, lag, queued here)."""
    for at, waiting, newest, lag, here in counts:
        pacer.counted(at, backlog(waiting, newest), lag, here)


def test_no_batch_waits_while_processing_keeps_up() -> None:
    pacer = IngestPacer(target_lag=0.25)
    # 1,000 queued a second and 1,000 stored: a few rows wait, none for long.
    fed(pacer, [(t / 10, 20, 100 * t + 20, 0.02, 100 * t + 20) for t in range(20)])
    assert pacer.rate is None
    assert pacer.delay(5.0) == 0.0


def test_behind_batches_go_in_at_the_stored_rate_one_at_a_time() -> None:
    pacer = IngestPacer(target_lag=0.25)
    # 1,000 queued a second, 500 stored: the inbox fills and the oldest row ages.
    counts = []
    for t in range(10):
        waiting = 50 + 50 * t
        counts.append((t / 10, waiting, 500 + 100 * t, 0.1 + 0.05 * t, 500 + 100 * t))
    fed(pacer, counts)
    # The stored rate (500 a second), a quarter of it while the inbox holds four times the
    # target's worth (0.25 s of work: 125 rows) or more.
    assert pacer.rate is not None
    assert abs(pacer.rate - 500 * 0.25) < 1
    delays = [pacer.delay(10.0) for _ in range(5)]
    gap = 1 / pacer.rate
    assert delays[0] == 0.0
    assert all(abs(b - a - gap) < 1e-9 for a, b in pairwise(delays))


def test_a_replica_lets_in_its_own_share_and_pacing_ends_when_caught_up() -> None:
    pacer = IngestPacer(target_lag=0.25)
    # Two replicas queue alike (this one a half of the new rows), 1,000 a second are stored
    # (newest id less waiting rises by 100 every 0.1 s), and 300 rows wait.
    counts = []
    for t in range(60):
        newest = 1000 + 100 * t
        counts.append((t / 10, 300, newest, 0.5, 500 + 50 * t))
    fed(pacer, counts)
    # A half of the stored rate here, a tenth less for the 50 rows over 0.25 s of work.
    assert pacer.rate is not None
    assert abs(pacer.rate - 1000 * 0.5 * 0.9) < 10
    # Caught up: the inbox empties, and no batch waits.
    pacer.counted(6.1, backlog(0, None), 0.0, 3500)
    assert pacer.rate is None and pacer.delay(6.2) == 0.0


def test_stalled_workers_leave_pacing_to_the_hold() -> None:
    pacer = IngestPacer(target_lag=0.25)
    fed(pacer, [(t / 10, 100 + 100 * t, 100 + 100 * t, 0.1 * t, 100 + 100 * t) for t in range(10)])
    # Nothing was ever stored: no rate to pace at (the inbox holds batches instead).
    assert pacer.rate is None
