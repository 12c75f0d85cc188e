"""The SQL of deriving a session's struggles again when batches land (see `service.struggles`).

Runs inside the batches' write transaction, after their rows are in: on PostgreSQL the session
row's upsert holds its lock until the commit, so two writes to one session derive in turn, each
seeing the other's rows; SQLite has one writer at a time anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter

from service.signal_kinds import (
    ClickSignal,
    FailedRequestSignal,
    Signal,
    kind_of,
    signal_data,
    signal_from_row,
)
from service.storage.models import ChunkRow, SessionRow, SignalRow
from service.storage.records import BatchRecord
from service.struggles import (
    STRUGGLE_KINDS,
    Span,
    changed_from,
    failure_starts,
    find_struggles,
    recount_start,
    request_start,
)

__all__ = ["StruggleState", "derive_struggles", "struggle_states"]

sessions = cast(Table, SessionRow.__table__)
chunks = cast(Table, ChunkRow.__table__)
signals = cast(Table, SignalRow.__table__)

_COUNTER_OF = {
    "rage_click": "rage_click_count",
    "dead_click": "dead_click_count",
    "error_click": "error_click_count",
}
# Stored clicks read per step while walking back to the start of a burst.
_WALK_PAGE = 64
_EVIDENCE_KINDS = ("click", "console_error", "failed_request")


class StruggleState(NamedTuple):
    """What a session's row said before the batches: its last event, its newest click, and
    whether it counted any struggle (stored struggle rows and the counters move together)."""

    ended_at: int
    last_click_at: int | None
    has_struggles: bool


_STATES = select(
    sessions.c.id,
    sessions.c.ended_at,
    sessions.c.last_click_at,
    *(sessions.c[name] for name in _COUNTER_OF.values()),
).where(sessions.c.id.in_(bindparam("ids", expanding=True)))


def struggle_states(conn: Connection, session_ids: Sequence[str]) -> dict[str, StruggleState]:
    """The sessions' states before this write, for those that exist (one query)."""
    return {
        session_id: StruggleState(ended_at, last_click, any(counters))
        for session_id, ended_at, last_click, *counters in conn.execute(
            _STATES, {"ids": sorted(session_ids)}
        )
    }


def _earliest_new(batches: Sequence[BatchRecord]) -> int | None:
    """The earliest time these batches say anything about; None when they have no events."""
    times: list[int] = []
    for batch in batches:
        if batch.first_ts is None:
            continue
        times.append(batch.first_ts)
        times += [start for start, _ in batch.activity or ()]
        # A slow failed request may have started before its batch's first event.
        times += [
            request_start(s.ts, s.duration)
            for s in batch.signals
            if isinstance(s, FailedRequestSignal)
        ]
    return min(times) if times else None


def _has_clicks(batches: Sequence[BatchRecord]) -> bool:
    return any(isinstance(s, ClickSignal) for b in batches for s in b.signals)


def derive_struggles(
    conn: Connection,
    batches: Sequence[BatchRecord],
    before: Mapping[str, StruggleState],
) -> None:
    """Derive again the struggles of each session these (just written) batches belong to,
    from the earliest one they can change, and move its counters by the difference."""
    by_session: dict[str, list[BatchRecord]] = {}
    for batch in batches:
        by_session.setdefault(batch.session_id, []).append(batch)
    for session_id, written in by_session.items():
        earliest = _earliest_new(written)
        if earliest is None:
            continue
        state = before.get(session_id)
        changed = changed_from(earliest, state.ended_at if state else None)
        last_click = state.last_click_at if state else None
        if not _has_clicks(written) and (last_click is None or last_click < changed):
            continue  # no click near enough to these batches to be judged differently
        had_struggles = state is not None and state.has_struggles
        _derive(conn, session_id, changed, max(b.seq for b in written), had_struggles)


# The statements of a derivation, built once: built per session, their construction and
# cache keys cost more than running them. Each takes the session as `:session_id`.
_OF_SESSION: BindParameter[str] = bindparam("session_id")
_CLICKS_BEFORE = (
    select(signals.c.kind, signals.c.ts, signals.c.data)
    .where(
        signals.c.session_id == _OF_SESSION,
        signals.c.kind == "click",
        signals.c.ts < bindparam("before"),
    )
    .order_by(signals.c.ts.desc(), signals.c.seq.desc(), signals.c.id.desc())
    .limit(_WALK_PAGE)
)
_EVIDENCE = (
    select(signals.c.kind, signals.c.ts, signals.c.data)
    .where(
        signals.c.session_id == _OF_SESSION,
        signals.c.kind.in_(_EVIDENCE_KINDS),
        signals.c.ts >= bindparam("start"),
    )
    # Within a millisecond, in the order sent (batches may arrive in another order).
    .order_by(signals.c.ts, signals.c.seq, signals.c.id)
)
_LAST_EVENT = select(func.max(chunks.c.last_ts)).where(chunks.c.session_id == _OF_SESSION)
_SPANS = select(chunks.c.first_ts, chunks.c.last_ts, chunks.c.activity).where(
    chunks.c.session_id == _OF_SESSION, chunks.c.last_ts >= bindparam("since")
)
_REMOVE_STRUGGLES = (
    delete(signals)
    .where(
        signals.c.session_id == _OF_SESSION,
        signals.c.kind.in_(STRUGGLE_KINDS),
        signals.c.ts >= bindparam("start"),
    )
    .returning(signals.c.kind)
)


def _clicks_before(conn: Connection, session_id: str, before: int) -> Iterator[ClickSignal]:
    """Stored clicks before `before`, newest first, read a page at a time (a walk back
    usually stops at the first or second)."""
    while True:
        rows = list(conn.execute(_CLICKS_BEFORE, {"session_id": session_id, "before": before}))
        for row in rows:
            click = signal_from_row(*row)
            if isinstance(click, ClickSignal):
                yield click
        if len(rows) < _WALK_PAGE:
            return
        # Clicks in the same millisecond as the page's last may be skipped: zero apart, they
        # would not have ended the walk.
        before = rows[-1].ts


def _activity(conn: Connection, session_id: str, since: int) -> tuple[list[Span], int]:
    """Activity spans of the session's batches that reach `since`, and its last event."""
    spans: list[Span] = []
    last: int | None = None
    for first_ts, last_ts, activity in conn.execute(
        _SPANS, {"session_id": session_id, "since": since}
    ):
        # The batches just written reach `since`, so the session's last event is among these.
        last = last_ts if last is None else max(last, last_ts)
        if activity is None:
            # Stored before activity was kept: never judge a click in it dead.
            spans.append((first_ts, last_ts))
        else:
            spans += [(start, end) for start, end in activity]
    if last is None:
        last = conn.execute(_LAST_EVENT, {"session_id": session_id}).scalar()
    return spans, since if last is None else last


def _derive(conn: Connection, session_id: str, changed: int, seq: int, had_struggles: bool) -> None:
    start = recount_start(changed, _clicks_before(conn, session_id, changed))
    evidence = conn.execute(_EVIDENCE, {"session_id": session_id, "start": start})
    found: list[Signal] = [s for s in (signal_from_row(*row) for row in evidence) if s is not None]
    clicks = [s for s in found if isinstance(s, ClickSignal)]
    spans, evidence_until = _activity(conn, session_id, start)
    struggles = find_struggles(clicks, spans, failure_starts(found), evidence_until)
    removed: Iterable[str] = ()
    if had_struggles:
        parameters = {"session_id": session_id, "start": start}
        removed = conn.execute(_REMOVE_STRUGGLES, parameters).scalars()
    change = dict.fromkeys(_COUNTER_OF.values(), 0)
    for kind in removed:
        change[_COUNTER_OF[kind]] -= 1
    if struggles:
        conn.execute(
            signals.insert(),
            [
                {
                    "session_id": session_id,
                    "seq": seq,
                    "kind": kind_of(s),
                    "ts": s.ts,
                    "url": None,
                    "data": signal_data(s),
                }
                for s in struggles
            ],
        )
        for s in struggles:
            change[_COUNTER_OF[kind_of(s)]] += 1
    if any(change.values()):
        values: dict[str, Any] = {
            name: sessions.c[name] + delta for name, delta in change.items() if delta
        }
        conn.execute(update(sessions).where(sessions.c.id == session_id).values(values))
