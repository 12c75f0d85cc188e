"""The error groups' rollups, kept in the transaction that changes error_occurrences, so that
`GET /api/v1/errors` reads a few index ranges instead of grouping every occurrence in its window.

Why these tables (`models.ErrorGroupRow` and the three after it): the list grouped every
occurrence row in the window and counted distinct users, 140 ms on PostgreSQL and 700 ms on
SQLite for a week at a million sessions. Now

- `error_groups` (one row per fingerprint: kind, title, first and last occurrence) and
  `error_group_releases` (per fingerprint and release: last occurrence) give the page itself:
  an index range scan ordered by last seen, exact;
- `error_group_days` (per fingerprint, release or '' for all, and UTC day of the sessions' last
  occurrence) gives a window's occurrences, sessions and users as a sum over at most a few dozen
  rows per group. Users add up over days because each identified user is counted on one day
  only, that of their newest occurrence, which `error_group_users` (per fingerprint, user and
  release or '') remembers. So "users since day D" is "users whose newest occurrence is on D or
  later", exactly the users with an occurrence since D.

The price is that the counts of a window start at the beginning of `since`'s UTC day (a session
counts when its last occurrence of the error is on that day or later); which groups are listed,
their order, first and last seen are exact. `until` and `url` are answered by the exact
aggregation over error_occurrences (slower; see `error_store`).

How they are kept: every change to occurrence rows (ingest, the session's user changing,
erasure, retention) hands this module the rows of the sessions concerned before and after the
change (`RollupWriter.apply`). Day rows change by the difference; each touched (fingerprint,
user) has its newest occurrence counted again from error_occurrences (an index range of that
user's sessions) and moves between days when it changed; a group's first and last occurrence
grow by upsert and are looked up again when a removed row was the one that set them. On
PostgreSQL the user rows are locked first (an upsert that keeps their value), so two
transactions writing sessions of one user count them in turn. Erasure removes the user rows of
an erased user with their sessions: no user ID stays behind in a rollup.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, delete, func, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from service.storage.models import (
    ErrorGroupDayRow,
    ErrorGroupReleaseRow,
    ErrorGroupRow,
    ErrorGroupUserRow,
    ErrorOccurrenceRow,
)

__all__ = [
    "ALL_RELEASES",
    "DAY_MS",
    "Occurrence",
    "RollupWriter",
    "day_of",
    "group_days",
    "group_releases",
    "group_users",
    "groups",
    "read_occurrences",
    "rebuild_rollups",
]

DAY_MS = 24 * 3600 * 1000
ALL_RELEASES = ""
# A user row inserted only to lock its key: the user had no row before.
_ABSENT = -1
# Keys per statement: far below SQLite's and PostgreSQL's parameter limits.
_KEYS_PER_STATEMENT = 300

occurrences = cast(Table, ErrorOccurrenceRow.__table__)
groups = cast(Table, ErrorGroupRow.__table__)
group_releases = cast(Table, ErrorGroupReleaseRow.__table__)
group_days = cast(Table, ErrorGroupDayRow.__table__)
group_users = cast(Table, ErrorGroupUserRow.__table__)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One error_occurrences row."""

    session_id: str
    fingerprint: str
    kind: str
    title: str
    user_id: str | None
    release: str | None
    first_ts: int
    last_ts: int
    count: int


def day_of(ts: int) -> int:
    """The UTC day (days since the epoch) a millisecond time falls on."""
    return ts // DAY_MS


def _release_keys(release: str | None) -> tuple[str, ...]:
    return (ALL_RELEASES, release) if release else (ALL_RELEASES,)


def _parts(values: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _KEYS_PER_STATEMENT):
        yield list(values[start : start + _KEYS_PER_STATEMENT])


_OCCURRENCE_COLUMNS = [getattr(occurrences.c, field.name) for field in fields(Occurrence)]


def read_occurrences(conn: Connection, session_ids: Iterable[str]) -> list[Occurrence]:
    """The occurrence rows of these sessions."""
    found: list[Occurrence] = []
    for part in _parts(sorted(set(session_ids))):
        query = select(*_OCCURRENCE_COLUMNS).where(occurrences.c.session_id.in_(part))
        found.extend(Occurrence(*row) for row in conn.execute(query))
    return found


class RollupWriter:
    """Applies a change of occurrence rows to the rollups (one dialect's statements)."""

    def __init__(self, dialect: str) -> None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        days = insert(group_days)
        self._add_days = days.on_conflict_do_update(
            index_elements=["fingerprint", "release_key", "day"],
            set_={
                "count": group_days.c.count + days.excluded.count,
                "sessions": group_days.c.sessions + days.excluded.sessions,
                "users": group_days.c.users + days.excluded.users,
            },
        )
        key = tuple_(group_days.c.fingerprint, group_days.c.release_key, group_days.c.day)
        self._drop_empty_days = delete(group_days).where(
            group_days.c.sessions <= 0, key.in_(bindparam("keys", expanding=True))
        )
        users = insert(group_users)
        user_key = ["fingerprint", "user_id", "release_key"]
        # Takes each key's row lock and answers its value (_ABSENT when it was not there).
        self._lock_users = users.on_conflict_do_update(
            index_elements=user_key, set_={"last_ts": group_users.c.last_ts}
        ).returning(
            group_users.c.fingerprint,
            group_users.c.user_id,
            group_users.c.release_key,
            group_users.c.last_ts,
        )
        self._set_users = users.on_conflict_do_update(
            index_elements=user_key, set_={"last_ts": users.excluded.last_ts}
        )
        self._drop_users = delete(group_users).where(
            tuple_(group_users.c.fingerprint, group_users.c.user_id, group_users.c.release_key).in_(
                bindparam("keys", expanding=True)
            )
        )
        new_group = insert(groups)
        self._add_groups = new_group.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={
                "first_ts": case(
                    (new_group.excluded.first_ts < groups.c.first_ts, new_group.excluded.first_ts),
                    else_=groups.c.first_ts,
                ),
                "last_ts": case(
                    (new_group.excluded.last_ts > groups.c.last_ts, new_group.excluded.last_ts),
                    else_=groups.c.last_ts,
                ),
            },
        )
        new_release = insert(group_releases)
        self._add_releases = new_release.on_conflict_do_update(
            index_elements=["fingerprint", "release"],
            set_={
                "last_ts": case(
                    (
                        new_release.excluded.last_ts > group_releases.c.last_ts,
                        new_release.excluded.last_ts,
                    ),
                    else_=group_releases.c.last_ts,
                )
            },
        )

    def apply(
        self, conn: Connection, before: Sequence[Occurrence], after: Sequence[Occurrence]
    ) -> None:
        """Make the rollups follow a change of occurrence rows: `before` and `after` are all
        the rows of the sessions concerned, read in this transaction before and after it."""
        if not before and not after:
            return
        days: defaultdict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
        for rows, sign in ((before, -1), (after, 1)):
            for row in rows:
                for key in _release_keys(row.release):
                    day = days[(row.fingerprint, key, day_of(row.last_ts))]
                    day[0] += sign * row.count
                    day[1] += sign
        self._recount_users(conn, before, after, days)
        changed = sorted(key for key, delta in days.items() if any(delta))
        if changed:
            conn.execute(
                self._add_days,
                [
                    {
                        "fingerprint": f,
                        "release_key": k,
                        "day": d,
                        "count": days[(f, k, d)][0],
                        "sessions": days[(f, k, d)][1],
                        "users": days[(f, k, d)][2],
                    }
                    for f, k, d in changed
                ],
            )
            emptied = [key for key in changed if days[key][1] < 0]
            for part in _parts(emptied):
                conn.execute(self._drop_empty_days, {"keys": part})
        self._grow_groups(conn, after)
        self._shrink_groups(conn, before, after)

    def _recount_users(
        self,
        conn: Connection,
        before: Sequence[Occurrence],
        after: Sequence[Occurrence],
        days: defaultdict[tuple[str, str, int], list[int]],
    ) -> None:
        keys = sorted(
            {
                (row.fingerprint, row.user_id, key)
                for row in (*before, *after)
                if row.user_id is not None
                for key in _release_keys(row.release)
            }
        )
        if not keys:
            return
        old: dict[tuple[str, str, str], int] = {}
        for part in _parts(keys):
            locked = conn.execute(
                self._lock_users,
                [
                    {"fingerprint": f, "user_id": u, "release_key": k, "last_ts": _ABSENT}
                    for f, u, k in part
                ],
            )
            old.update({(f, u, k): at for f, u, k, at in locked})
        new: dict[tuple[str, str, str], int] = {}
        pairs = sorted({(f, u) for f, u, _ in keys})
        c = occurrences.c
        for part in _parts(pairs):
            query = (
                select(c.fingerprint, c.user_id, c.release, func.max(c.last_ts))
                .where(tuple_(c.fingerprint, c.user_id).in_(part))
                .group_by(c.fingerprint, c.user_id, c.release)
            )
            for f, u, release, at in conn.execute(query):
                for key in _release_keys(release):
                    new[(f, u, key)] = max(new.get((f, u, key), at), at)
        updated, dropped = [], []
        for f, u, k in keys:
            was, now = old.get((f, u, k), _ABSENT), new.get((f, u, k))
            if was != _ABSENT and (now is None or day_of(was) != day_of(now)):
                days[(f, k, day_of(was))][2] -= 1
            if now is not None and (was == _ABSENT or day_of(was) != day_of(now)):
                days[(f, k, day_of(now))][2] += 1
            if now is None:
                dropped.append((f, u, k))
            elif now != was:
                updated.append({"fingerprint": f, "user_id": u, "release_key": k, "last_ts": now})
        if updated:
            conn.execute(self._set_users, updated)
        for part in _parts(dropped):
            conn.execute(self._drop_users, {"keys": part})

    def _grow_groups(self, conn: Connection, after: Sequence[Occurrence]) -> None:
        grown: dict[str, dict[str, Any]] = {}
        releases: dict[tuple[str, str], int] = {}
        for row in after:
            group = grown.setdefault(
                row.fingerprint,
                {
                    "fingerprint": row.fingerprint,
                    "kind": row.kind,
                    "title": row.title,
                    "first_ts": row.first_ts,
                    "last_ts": row.last_ts,
                },
            )
            group["first_ts"] = min(group["first_ts"], row.first_ts)
            group["last_ts"] = max(group["last_ts"], row.last_ts)
            if row.release:
                key = (row.fingerprint, row.release)
                releases[key] = max(releases.get(key, row.last_ts), row.last_ts)
        if grown:
            conn.execute(self._add_groups, [grown[f] for f in sorted(grown)])
        if releases:
            conn.execute(
                self._add_releases,
                [
                    {"fingerprint": f, "release": r, "last_ts": releases[(f, r)]}
                    for f, r in sorted(releases)
                ],
            )

    def _shrink_groups(
        self, conn: Connection, before: Sequence[Occurrence], after: Sequence[Occurrence]
    ) -> None:
        # A row that stays only grows (ingest adds occurrences); one that went, or left a
        # release, may have set its group's first or last occurrence.
        kept = {(row.session_id, row.fingerprint): row.release for row in after}
        gone_groups: set[str] = set()
        gone_releases: set[tuple[str, str]] = set()
        for row in before:
            key = (row.session_id, row.fingerprint)
            if key not in kept:
                gone_groups.add(row.fingerprint)
            if row.release and kept.get(key, None) != row.release:
                gone_releases.add((row.fingerprint, row.release))
        c = occurrences.c
        for fingerprint in sorted(gone_groups):
            mine = c.fingerprint == fingerprint
            first = conn.execute(select(func.min(c.first_ts)).where(mine)).scalar()
            if first is None:
                conn.execute(delete(groups).where(groups.c.fingerprint == fingerprint))
                continue
            last = conn.execute(select(func.max(c.last_ts)).where(mine)).scalar_one()
            conn.execute(
                update(groups)
                .where(groups.c.fingerprint == fingerprint)
                .values(first_ts=first, last_ts=last)
            )
        for fingerprint, release in sorted(gone_releases):
            last = conn.execute(
                select(func.max(c.last_ts)).where(
                    c.fingerprint == fingerprint, c.release == release
                )
            ).scalar()
            mine = (group_releases.c.fingerprint == fingerprint) & (
                group_releases.c.release == release
            )
            if last is None:
                conn.execute(delete(group_releases).where(mine))
            else:
                conn.execute(update(group_releases).where(mine).values(last_ts=last))


# Everything from error_occurrences at once: for a database that has occurrences and no
# rollups (the migration that adds them) and for filling a benchmark's database.
_REBUILD = [
    "DELETE FROM error_group_days",
    "DELETE FROM error_group_users",
    "DELETE FROM error_group_releases",
    "DELETE FROM error_groups",
    """INSERT INTO error_groups (fingerprint, kind, title, first_ts, last_ts)
       SELECT fingerprint, min(kind), min(title), min(first_ts), max(last_ts)
       FROM error_occurrences GROUP BY fingerprint""",
    """INSERT INTO error_group_releases (fingerprint, release, last_ts)
       SELECT fingerprint, release, max(last_ts) FROM error_occurrences
       WHERE release IS NOT NULL AND release <> '' GROUP BY fingerprint, release""",
    """INSERT INTO error_group_users (fingerprint, user_id, release_key, last_ts)
       SELECT fingerprint, user_id, '', max(last_ts) FROM error_occurrences
       WHERE user_id IS NOT NULL GROUP BY fingerprint, user_id
       UNION ALL
       SELECT fingerprint, user_id, release, max(last_ts) FROM error_occurrences
       WHERE user_id IS NOT NULL AND release IS NOT NULL AND release <> ''
       GROUP BY fingerprint, user_id, release""",
    """INSERT INTO error_group_days (fingerprint, release_key, day, count, sessions, users)
       SELECT fingerprint, release_key, day, sum(n), sum(s), sum(u) FROM (
           SELECT fingerprint, '' AS release_key, last_ts / :day AS day,
                  count AS n, 1 AS s, 0 AS u
           FROM error_occurrences
           UNION ALL
           SELECT fingerprint, release, last_ts / :day, count, 1, 0 FROM error_occurrences
           WHERE release IS NOT NULL AND release <> ''
           UNION ALL
           SELECT fingerprint, release_key, last_ts / :day, 0, 0, 1 FROM error_group_users
       ) AS parts
       GROUP BY fingerprint, release_key, day""",
]


def rebuild_rollups(conn: Connection) -> None:
    """Compute every rollup again from error_occurrences (times are never negative, so
    integer division is the UTC day on both backends)."""
    for statement in _REBUILD:
        conn.execute(text(statement), {"day": DAY_MS} if ":day" in statement else {})
