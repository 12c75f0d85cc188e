"""The error groups' rollups on SQLite and PostgreSQL: after any mix of ingest, users and
releases changing, erasure and retention they equal a rebuild from error_occurrences, and the
list read from them equals a straight aggregation of the occurrences."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from service.session_environment import SessionEnvironment
from service.sessions.erasure import ErasureKeys, erase_user
from service.sessions.retention import purge_expired
from service.signal_kinds import ConsoleErrorSignal, FailedRequestSignal, Signal
from service.storage.blobs import open_blob_store
from service.storage.error_rollups import (
    DAY_MS,
    day_of,
    group_days,
    group_releases,
    group_users,
    groups,
    rebuild_rollups,
)
from service.storage.error_store import ErrorGroupFilters, ErrorGroupRecord
from service.storage.models import ErrorOccurrenceRow
from service.storage.session_store import SessionStore
from tests.batch_records import batch_record, store_batch, store_batches

T0 = 1_790_000_000_000
FINGERPRINTS = [f"{i:016x}" for i in range(6)]


def error(fingerprint: str, ts: int) -> Signal:
    if int(fingerprint, 16) % 2:
        return FailedRequestSignal(
            ts=ts, method="GET", url="https://x/a", status=500, fingerprint=fingerprint
        )
    return ConsoleErrorSignal(ts=ts, message=f"boom {fingerprint}", fingerprint=fingerprint)


async def put(
    store: SessionStore,
    session_id: str,
    seq: int,
    signals: list[Signal],
    user_id: str | None,
    release: str | None = None,
    received_at: int = T0,
) -> None:
    environment = SessionEnvironment(release=release) if release else None
    record = batch_record(
        session_id,
        seq,
        user_id=user_id,
        signals=signals,
        environment=environment,
        received_at=received_at,
    )
    assert await store_batch(store, record)


async def rollup_tables(store: SessionStore) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    async with store.engine.connect() as conn:
        for table in (groups, group_releases, group_days, group_users):
            rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
            found[table.name] = [tuple(row) for row in rows]
    return found


async def assert_rollups_equal_a_rebuild(store: SessionStore) -> None:
    kept = await rollup_tables(store)
    async with store.engine.begin() as conn:
        await conn.run_sync(rebuild_rollups)
    assert kept == await rollup_tables(store)


async def occurrence_rows(store: SessionStore) -> list[Any]:
    async with store.engine.connect() as conn:
        return list(await conn.execute(select(ErrorOccurrenceRow.__table__)))


def straight(rows: list[Any], filters: ErrorGroupFilters) -> list[ErrorGroupRecord]:
    """The list as documented, aggregated from the occurrence rows in Python."""
    since = filters.since
    first_seen: dict[str, int] = {}
    for row in rows:
        first_seen[row.fingerprint] = min(
            first_seen.get(row.fingerprint, row.first_ts), row.first_ts
        )
    chosen = [
        row
        for row in rows
        if (filters.release is None or row.release == filters.release)
        and (filters.kind is None or row.kind == filters.kind)
    ]
    members = {row.fingerprint for row in chosen if since is None or row.last_ts >= since}
    records = []
    for fingerprint in members:
        mine = [row for row in chosen if row.fingerprint == fingerprint]
        counted = [r for r in mine if since is None or day_of(r.last_ts) >= day_of(since)]
        windowed = [r for r in mine if since is None or r.last_ts >= since]
        named = sorted((r.last_ts, r.release) for r in windowed if r.release)
        records.append(
            ErrorGroupRecord(
                fingerprint=fingerprint,
                kind=mine[0].kind,
                title=mine[0].title,
                count=sum(r.count for r in counted),
                users=len({r.user_id for r in counted if r.user_id is not None}),
                sessions=len(counted),
                first_seen=first_seen[fingerprint],
                last_seen=max(r.last_ts for r in windowed),
                latest_release=named[-1][1] if named else None,
            )
        )
    records.sort(key=lambda r: (r.last_seen, r.fingerprint), reverse=True)
    return records


async def assert_list_equals_straight_aggregation(
    store: SessionStore, rng: random.Random, releases: list[str]
) -> None:
    rows = await occurrence_rows(store)
    for _ in range(6):
        filters = ErrorGroupFilters(
            since=rng.choice([None, T0 + rng.randrange(-DAY_MS, 4 * DAY_MS)]),
            release=rng.choice([None, None, *releases]),
            kind=rng.choice([None, None, "console_error", "failed_request"]),
            limit=500,
        )
        expected = straight(rows, filters)
        assert await store.errors.groups(filters) == expected, filters
        # Paged two at a time, the same groups in the same order.
        paged: list[ErrorGroupRecord] = []
        after = None
        while True:
            page = await store.errors.groups(filters._replace(limit=2, after=after))
            paged += page
            if len(page) < 2:
                break
            after = (page[-1].last_seen, page[-1].fingerprint)
        assert paged == expected


async def assert_seen_elsewhere_equals_straight_count(
    store: SessionStore, rng: random.Random, users: list[str | None]
) -> None:
    """Other users since any moment (not only a day's start) are exact, read from the
    rollups; the newest other session is the newest by last occurrence."""
    rows = await occurrence_rows(store)
    for _ in range(6):
        since = T0 + rng.randrange(-DAY_MS, 4 * DAY_MS)
        user = rng.choice(users)
        seen = await store.errors.seen_elsewhere(FINGERPRINTS, user, since)
        for fingerprint in FINGERPRINTS:
            mine = [row for row in rows if row.fingerprint == fingerprint]
            if not mine:
                assert fingerprint not in seen
                continue
            others = [
                row
                for row in mine
                if row.last_ts >= since and row.user_id is not None and row.user_id != user
            ]
            newest = max(((r.last_ts, r.session_id) for r in others), default=(0, None))
            assert seen[fingerprint].other_users == len({r.user_id for r in others}), since
            assert seen[fingerprint].newest_other_session == newest[1]
            assert seen[fingerprint].first_seen == min(r.first_ts for r in mine)


async def test_rollups_equal_a_straight_aggregation_of_random_data(store: SessionStore) -> None:
    rng = random.Random(7)
    users = ["ann", "bob", "cy", "dee", None]
    releases = ["1.0", "1.1", "2.0"]
    sessions: dict[str, int] = {}  # session -> next seq
    for step in range(40):
        if step % 10 == 9:
            doomed = rng.sample(sorted(sessions), k=min(3, len(sessions)))
            await store.delete_sessions(doomed)
            for session_id in doomed:
                del sessions[session_id]
        else:
            group = []
            for _ in range(rng.randint(1, 3)):
                if sessions and rng.random() < 0.6:
                    session_id = rng.choice(sorted(sessions))
                else:
                    session_id = f"s{step:03d}{rng.randrange(1000):03d}"
                    sessions.setdefault(session_id, 0)
                start = T0 + rng.randrange(-DAY_MS, 4 * DAY_MS)
                signals = [
                    error(rng.choice(FINGERPRINTS), start + rng.randrange(2 * DAY_MS))
                    for _ in range(rng.randint(0, 4))
                ]
                environment = rng.choice([None, *releases])
                group.append(
                    batch_record(
                        session_id,
                        sessions[session_id],
                        user_id=rng.choice(users),
                        signals=signals,
                        environment=SessionEnvironment(release=environment)
                        if environment
                        else None,
                    )
                )
                sessions[session_id] += 1
            await store_batches(store, group)
        await assert_rollups_equal_a_rebuild(store)
        if step % 5 == 4:
            await assert_list_equals_straight_aggregation(store, rng, releases)
            await assert_seen_elsewhere_equals_straight_count(store, rng, users)
    assert (await rollup_tables(store))["error_groups"]


async def test_users_move_between_days_and_leave_with_their_user(store: SessionStore) -> None:
    fp = FINGERPRINTS[0]
    await put(store, "s1", 0, [error(fp, T0)], None, release="1.0")
    await put(store, "s1", 1, [], "ann")  # identified after the error
    await put(store, "s2", 0, [error(fp, T0 + DAY_MS)], "ann", release="1.0")
    await put(store, "s3", 0, [error(fp, T0 + 2 * DAY_MS)], "bob")
    [group] = await store.errors.groups(ErrorGroupFilters())
    assert (group.users, group.sessions, group.latest_release) == (2, 3, "1.0")
    tables = await rollup_tables(store)
    assert {(f, u, k, day_of(at)) for f, u, k, at in tables["error_group_users"]} == {
        (fp, "ann", "", day_of(T0 + DAY_MS)),
        (fp, "ann", "1.0", day_of(T0 + DAY_MS)),
        (fp, "bob", "", day_of(T0 + 2 * DAY_MS)),
    }
    # ann's newer session goes: she is counted on the day of her older one again.
    await store.delete_sessions(["s2"])
    [group] = await store.errors.groups(ErrorGroupFilters(since=T0 + DAY_MS))
    assert (group.users, group.sessions) == (1, 1)
    [group] = await store.errors.groups(ErrorGroupFilters())
    assert (group.users, group.sessions, group.first_seen) == (2, 2, T0)
    await assert_rollups_equal_a_rebuild(store)


async def test_erasure_leaves_no_user_id_in_the_rollups(
    store: SessionStore, tmp_path: Path
) -> None:
    fp, other = FINGERPRINTS[0], FINGERPRINTS[1]
    await put(store, "s1", 0, [error(fp, T0), error(other, T0 + 5)], "erased-user", "1.0")
    await put(store, "s2", 0, [error(fp, T0 + 10)], "erased-user")
    await put(store, "s3", 0, [error(fp, T0 + 20)], "kept-user", "1.0")
    blobs = open_blob_store(None, tmp_path)
    assert await erase_user(store, blobs, ErasureKeys("k" * 32), "erased-user") == 2

    tables = await rollup_tables(store)
    assert "erased-user" not in repr(tables)
    assert [(f, u) for f, u, _, _ in tables["error_group_users"]] == [
        (fp, "kept-user"),
        (fp, "kept-user"),
    ]
    assert [row[0] for row in tables["error_groups"]] == [fp]  # `other` had only s1
    [group] = await store.errors.groups(ErrorGroupFilters())
    assert (group.count, group.users, group.sessions) == (1, 1, 1)
    assert (group.first_seen, group.last_seen) == (T0 + 20, T0 + 20)
    await assert_rollups_equal_a_rebuild(store)


async def test_retention_removes_expired_sessions_from_the_rollups(
    store: SessionStore, tmp_path: Path
) -> None:
    fp = FINGERPRINTS[2]
    await put(store, "old", 0, [error(fp, T0)], "ann", "1.0", received_at=T0)
    await put(store, "new", 0, [error(fp, T0 + 40 * DAY_MS)], "bob", received_at=T0 + 40 * DAY_MS)
    blobs = open_blob_store(None, tmp_path)
    assert await purge_expired(store, blobs, 30, now_ms=T0 + 41 * DAY_MS) == 1

    tables = await rollup_tables(store)
    assert tables["error_group_releases"] == []
    assert [(f, u) for f, u, _, _ in tables["error_group_users"]] == [(fp, "bob")]
    assert [(f, k, d) for f, k, d, *_ in tables["error_group_days"]] == [
        (fp, "", day_of(T0 + 40 * DAY_MS))
    ]
    [group] = await store.errors.groups(ErrorGroupFilters())
    assert (group.first_seen, group.users, group.latest_release) == (T0 + 40 * DAY_MS, 1, None)
    await assert_rollups_equal_a_rebuild(store)


async def test_rebuild_fills_the_rollups_of_stored_occurrences(store: SessionStore) -> None:
    await put(store, "s1", 0, [error(FINGERPRINTS[0], T0)], "ann", "1.0")
    await put(store, "s2", 0, [error(FINGERPRINTS[1], T0 + DAY_MS)], None)
    kept = await rollup_tables(store)
    async with store.engine.begin() as conn:
        for table in (group_days, group_users, group_releases, groups):
            await conn.execute(delete(table))
        await conn.run_sync(rebuild_rollups)
    assert await rollup_tables(store) == kept
