"""Error occurrences: each error's fingerprint per session, written at ingest, read by the error
groups API and by every ticket ("14 other users hit this in the last 7 days").

One row per (session, fingerprint) keeps the table a fraction of the signals' size; the
indexes in `models.ErrorOccurrenceRow` serve every query here with a range scan of one
fingerprint or of one time window, except the counts of users, which read the rollups
(`error_rollups`) so that they never count distinct users over a hot error's sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import msgspec
from sqlalchemy import (
    BindParameter,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    distinct,
    exists,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import FromClause

from service.error_fingerprints import identity_of
from service.signal_kinds import ConsoleErrorSignal, FailedRequestSignal, kind_of
from service.storage import error_rollups as rollups
from service.storage.error_rollups import ALL_RELEASES, RollupWriter, read_occurrences
from service.storage.models import ErrorOccurrenceRow, SessionRow, SignalRow
from service.storage.records import BatchRecord
from service.storage.transactions import TransactionRunner

__all__ = [
    "ErrorGroupFilters",
    "ErrorGroupRecord",
    "ErrorStore",
    "OccurrenceWriter",
    "SeenElsewhere",
    "escape_like",
]

occurrences = cast(Table, ErrorOccurrenceRow.__table__)
_sessions = cast(Table, SessionRow.__table__)
_signals = cast(Table, SignalRow.__table__)


def _in_parts(values: Sequence[str], size: int = 500) -> list[list[str]]:
    return [list(values[start : start + size]) for start in range(0, len(values), size)]


def escape_like(text: str) -> str:
    """`text` as a LIKE pattern that matches it literally (escape character `\\`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class OccurrenceWriter:
    """The occurrence rows of a group of batches, written in the batches' transaction after
    their session rows (whose user ID and release they copy)."""

    def __init__(self, dialect: str) -> None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        of_session = _sessions.c.id == bindparam("session_id")
        statement = insert(occurrences).values(
            session_id=bindparam("session_id"),
            fingerprint=bindparam("fingerprint"),
            kind=bindparam("kind"),
            title=bindparam("title"),
            first_ts=bindparam("first_ts"),
            last_ts=bindparam("last_ts"),
            count=bindparam("count"),
            user_id=select(_sessions.c.user_id).where(of_session).scalar_subquery(),
            release=select(_sessions.c.release).where(of_session).scalar_subquery(),
        )
        new, old = statement.excluded, occurrences.c
        self._upsert = statement.on_conflict_do_update(
            index_elements=["session_id", "fingerprint"],
            set_={
                "count": old.count + new.count,
                "first_ts": case((new.first_ts < old.first_ts, new.first_ts), else_=old.first_ts),
                "last_ts": case((new.last_ts > old.last_ts, new.last_ts), else_=old.last_ts),
                "user_id": new.user_id,
                "release": new.release,
            },
        )
        # A user identified after the session's first errors: those rows follow the session,
        # as sessions.user_id does.
        self._follow_user = (
            update(occurrences)
            .where(
                occurrences.c.session_id == bindparam("b_session_id"),
                or_(
                    occurrences.c.user_id.is_(None),
                    occurrences.c.user_id != bindparam("b_user_id"),
                ),
            )
            .values(user_id=bindparam("b_user_id"))
        )
        self._rollups = RollupWriter(dialect)

    def write(self, conn: Connection, batches: Sequence[BatchRecord]) -> None:
        """Add these written batches' errors to their sessions' occurrence rows, and the change
        to the error groups' rollups."""
        users = {(b.session_id, b.user_id) for b in batches if b.user_id is not None}
        rows = _occurrence_rows(batches)
        touched = {s for s, _ in users} | {row["session_id"] for row in rows}
        before = read_occurrences(conn, touched) if touched else []
        if not before and not rows:
            return
        # Only sessions whose rows name another user (or none) are updated.
        following = {
            (s, u) for s, u in users if any(o.session_id == s and o.user_id != u for o in before)
        }
        if following:
            conn.execute(
                self._follow_user,
                [{"b_session_id": s, "b_user_id": u} for s, u in sorted(following)],
            )
        if rows:
            conn.execute(self._upsert, rows)
        if following or rows:
            changed = {s for s, _ in following} | {row["session_id"] for row in rows}
            self._rollups.apply(
                conn,
                [o for o in before if o.session_id in changed],
                read_occurrences(conn, changed),
            )

    def remove(self, conn: Connection, session_ids: Sequence[str]) -> None:
        """Delete these sessions' occurrence rows, and them from the rollups."""
        before = read_occurrences(conn, session_ids)
        for part in _in_parts(sorted({o.session_id for o in before})):
            conn.execute(delete(occurrences).where(occurrences.c.session_id.in_(part)))
        self._rollups.apply(conn, before, [])


def _occurrence_rows(batches: Sequence[BatchRecord]) -> list[dict[str, Any]]:
    # Folded per (session, fingerprint): one statement may not touch a row twice.
    folded: dict[tuple[str, str], dict[str, Any]] = {}
    for batch in batches:
        for signal in batch.signals:
            if not isinstance(signal, ConsoleErrorSignal | FailedRequestSignal):
                continue
            if signal.fingerprint is None:
                continue
            key = (batch.session_id, signal.fingerprint)
            row = folded.get(key)
            if row is None:
                folded[key] = {
                    "session_id": batch.session_id,
                    "fingerprint": signal.fingerprint,
                    "kind": kind_of(signal),
                    "title": identity_of(signal).title,
                    "first_ts": signal.ts,
                    "last_ts": signal.ts,
                    "count": 1,
                }
            else:
                row["first_ts"] = min(row["first_ts"], signal.ts)
                row["last_ts"] = max(row["last_ts"], signal.ts)
                row["count"] += 1
    return [folded[key] for key in sorted(folded)]


class SeenElsewhere(NamedTuple):
    """One error in other users' sessions: how many users since a time, their newest session
    (None when there is no other user), and the error's first sighting anywhere."""

    other_users: int
    newest_other_session: str | None
    first_seen: int
    first_release: str | None


class ErrorGroupFilters(NamedTuple):
    """What `ErrorStore.groups` narrows to; `after` is the previous page's last
    (last seen, fingerprint)."""

    since: int | None = None
    until: int | None = None
    release: str | None = None
    url: str | None = None
    kind: str | None = None
    limit: int = 50
    after: tuple[int, str] | None = None


class ErrorGroupRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One error group in a time window."""

    fingerprint: str
    kind: str
    title: str
    count: int
    users: int
    sessions: int
    first_seen: int
    last_seen: int
    latest_release: str | None


class ErrorStore:
    """Reads of the error occurrences (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, transactions: TransactionRunner) -> None:
        self.engine = engine
        self._transactions = transactions

    async def seen_elsewhere(
        self, fingerprints: Sequence[str], user_id: str | None, since: int
    ) -> dict[str, SeenElsewhere]:
        """For each fingerprint that has occurrences: users other than `user_id` (identified
        ones; every identified user when `user_id` is None) whose sessions had it at or after
        `since`, the newest of their sessions, and its first sighting. One statement each,
        a few index probes: the count of users reads the rollups (exact at any `since`)."""
        if not fingerprints:
            return {}
        return await self._transactions.read(
            _seen_elsewhere, sorted(set(fingerprints)), user_id, since
        )

    async def groups(self, filters: ErrorGroupFilters) -> list[ErrorGroupRecord]:
        """Error groups with an occurrence in the window, last seen first: from the rollups
        (counts from `since`'s UTC day on, see `error_rollups`), or with `until` or `url` by
        aggregating the occurrences in the window (exact, slower)."""
        if filters.until is None and not filters.url and filters.release != "":
            return await self._transactions.read(_rolled_up_groups, filters)
        return await self._transactions.read(_groups, filters)

    async def group_sessions(
        self, fingerprint: str, after: tuple[int, str] | None, limit: int
    ) -> list[tuple[int, str]]:
        """(last occurrence, session ID) of the group's sessions, newest first: the first
        `limit` after `after` (a previous page's last pair)."""
        c = occurrences.c
        query = select(c.last_ts, c.session_id).where(c.fingerprint == fingerprint)
        if after is not None:
            query = query.where(tuple_(c.last_ts, c.session_id) < tuple_(*after))
        query = query.order_by(c.last_ts.desc(), c.session_id.desc()).limit(limit)
        return await self._transactions.read(_pairs, query)


def _pairs(conn: Connection, query: Select[Any]) -> list[tuple[int, str]]:
    return [(at, session_id) for at, session_id in conn.execute(query)]


def _others(fingerprint: Any, user_id: str | None, since: int) -> Any:
    c = occurrences.c
    condition = and_(c.fingerprint == fingerprint, c.last_ts >= since, c.user_id.is_not(None))
    return condition if user_id is None else and_(condition, c.user_id != user_id)


def _users_since(fingerprint: Any, user_id: str | None, since: int) -> Any:
    """Identified users other than `user_id` with an occurrence at or after `since`, from the
    rollups: each user is counted on the day of their newest occurrence, so the whole days
    after `since`'s own add up, and that day's users are an index range of error_group_users."""
    d, u = rollups.group_days.c, rollups.group_users.c
    since_day = rollups.day_of(since)
    later_days = select(func.coalesce(func.sum(d.users), 0)).where(
        d.fingerprint == fingerprint, d.release_key == ALL_RELEASES, d.day > since_day
    )
    same_day = select(func.count()).where(
        u.fingerprint == fingerprint,
        u.release_key == ALL_RELEASES,
        u.last_ts >= since,
        u.last_ts < (since_day + 1) * rollups.DAY_MS,
    )
    users = later_days.scalar_subquery() + same_day.scalar_subquery()
    if user_id is None:
        return users
    themselves = select(func.count()).where(
        u.fingerprint == fingerprint,
        u.user_id == user_id,
        u.release_key == ALL_RELEASES,
        u.last_ts >= since,
    )
    return users - themselves.scalar_subquery()


def _seen_elsewhere(
    conn: Connection, fingerprints: list[str], user_id: str | None, since: int
) -> dict[str, SeenElsewhere]:
    c = occurrences.c
    fingerprint: BindParameter[str] = bindparam("fingerprint")
    first = (
        select(c.first_ts, c.release)
        .where(c.fingerprint == fingerprint)
        .order_by(c.first_ts)
        .limit(1)
        .subquery()
    )
    query = select(
        _users_since(fingerprint, user_id, since),
        select(c.session_id)
        .where(_others(fingerprint, user_id, since))
        .order_by(c.last_ts.desc(), c.session_id.desc())
        .limit(1)
        .scalar_subquery(),
        first.c.first_ts,
        first.c.release,
    ).select_from(first)
    found: dict[str, SeenElsewhere] = {}
    for wanted in fingerprints:
        row = conn.execute(query, {"fingerprint": wanted}).first()
        if row is not None:
            found[wanted] = SeenElsewhere(int(row[0]), row[1], row[2], row[3])
    return found


def _window(filters: ErrorGroupFilters) -> list[Any]:
    c = occurrences.c
    where: list[Any] = []
    if filters.since is not None:
        where.append(c.last_ts >= filters.since)
    if filters.until is not None:
        where.append(c.first_ts <= filters.until)
    if filters.release is not None:
        where.append(c.release == filters.release)
    if filters.kind is not None:
        where.append(c.kind == filters.kind)
    if filters.url:
        pattern = "%" + escape_like(filters.url) + "%"
        where.append(
            exists().where(
                _signals.c.session_id == c.session_id,
                _signals.c.kind == "page_view",
                _signals.c.url.like(pattern, escape="\\"),
            )
        )
    return where


def _groups(conn: Connection, filters: ErrorGroupFilters) -> list[ErrorGroupRecord]:
    c = occurrences.c
    where = _window(filters)
    last_seen = func.max(c.last_ts)
    query = (
        select(
            c.fingerprint,
            func.min(c.kind),
            func.min(c.title),
            func.sum(c.count),
            func.count(distinct(c.user_id)),
            func.count(),
            last_seen,
        )
        .where(*where)
        .group_by(c.fingerprint)
    )
    if filters.after is not None:
        at, fingerprint = filters.after
        query = query.having(
            or_(last_seen < at, and_(last_seen == at, c.fingerprint < fingerprint))
        )
    query = query.order_by(last_seen.desc(), c.fingerprint.desc()).limit(filters.limit)
    page = list(conn.execute(query))
    if not page:
        return []
    # The first sighting anywhere, and the release of the newest occurrence in the window that
    # has one:
    # one index probe each, for this page's groups only.
    first_seen = (
        select(func.min(c.first_ts)).where(c.fingerprint == bindparam("fingerprint"))
    ).scalar_subquery()
    latest_release = (
        select(c.release)
        .where(c.fingerprint == bindparam("fingerprint"), c.release.is_not(None), *where)
        .order_by(c.last_ts.desc(), c.session_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    details = select(first_seen, latest_release)
    records = []
    for fingerprint, kind, title, count, users, sessions, last in page:
        first, release = conn.execute(details, {"fingerprint": fingerprint}).one()
        records.append(
            ErrorGroupRecord(
                fingerprint=fingerprint,
                kind=kind,
                title=title,
                count=int(count),
                users=int(users),
                sessions=int(sessions),
                first_seen=int(first),
                last_seen=int(last),
                latest_release=release,
            )
        )
    return records


def _rolled_up_groups(conn: Connection, filters: ErrorGroupFilters) -> list[ErrorGroupRecord]:
    """The page from `error_groups` (or `error_group_releases`) by last seen, then each
    group's window from `error_group_days`: two statements, index ranges only."""
    g, r = rollups.groups, rollups.group_releases
    release_key = ALL_RELEASES if filters.release is None else filters.release
    source: FromClause
    if filters.release is None:
        last_seen, fingerprint, source = g.c.last_ts, g.c.fingerprint, g
        newest_release = (
            select(r.c.release)
            .where(r.c.fingerprint == g.c.fingerprint, *_since(r.c.last_ts, filters.since))
            .order_by(r.c.last_ts.desc(), r.c.release.desc())
            .limit(1)
            .scalar_subquery()
        )
        latest_release: Any = newest_release
    else:
        last_seen, fingerprint = r.c.last_ts, r.c.fingerprint
        source = r.join(g, g.c.fingerprint == r.c.fingerprint)
        latest_release = r.c.release
    query = (
        select(fingerprint, g.c.kind, g.c.title, g.c.first_ts, last_seen, latest_release)
        .select_from(source)
        .where(*_since(last_seen, filters.since))
    )
    if filters.release is not None:
        query = query.where(r.c.release == filters.release)
    if filters.kind is not None:
        query = query.where(g.c.kind == filters.kind)
    if filters.after is not None:
        at, after = filters.after
        # A row value comparison: both backends start the index range there.
        query = query.where(tuple_(last_seen, fingerprint) < tuple_(at, after))
    query = query.order_by(last_seen.desc(), fingerprint.desc()).limit(filters.limit)
    page = list(conn.execute(query))
    if not page:
        return []
    d = rollups.group_days.c
    sums = select(d.fingerprint, func.sum(d.count), func.sum(d.sessions), func.sum(d.users)).where(
        d.release_key == release_key, d.fingerprint.in_([row[0] for row in page])
    )
    if filters.since is not None:
        sums = sums.where(d.day >= rollups.day_of(filters.since))
    figures = {
        found: (int(count), int(sessions), int(users))
        for found, count, sessions, users in conn.execute(sums.group_by(d.fingerprint))
    }
    records = []
    for found, kind, title, first, last, release in page:
        count, sessions, users = figures.get(found, (0, 0, 0))
        records.append(
            ErrorGroupRecord(
                fingerprint=found,
                kind=kind,
                title=title,
                count=count,
                users=users,
                sessions=sessions,
                first_seen=int(first),
                last_seen=int(last),
                latest_release=release,
            )
        )
    return records


def _since(column: Any, since: int | None) -> list[Any]:
    return [] if since is None else [column >= since]
