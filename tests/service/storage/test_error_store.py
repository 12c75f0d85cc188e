"""Error occurrences on SQLite and PostgreSQL: written with the batch, following the session's
user, grouped in a window, paged, and gone with their session."""

from __future__ import annotations

from service.error_fingerprints import console_identity, request_identity
from service.session_environment import SessionEnvironment
from service.signal_kinds import (
    ConsoleErrorSignal,
    FailedRequestSignal,
    PageViewSignal,
    Signal,
)
from service.storage.error_store import ErrorGroupFilters
from service.storage.session_store import SessionStore
from tests.batch_records import batch_record, store_batch, store_batches

BOOM = console_identity("boom 1", ["f (https://x/app.js:1:2)"]).fingerprint
PAY = request_identity("POST", "https://x/api/pay/41", 500).fingerprint


def boom(ts: int, n: int = 1) -> ConsoleErrorSignal:
    return ConsoleErrorSignal(
        ts=ts, message=f"boom {n}", stack=["f (https://x/app.js:9:9)"], fingerprint=BOOM
    )


def pay(ts: int) -> FailedRequestSignal:
    return FailedRequestSignal(
        ts=ts, method="POST", url="https://x/api/pay/42", status=500, fingerprint=PAY
    )


async def put(
    store: SessionStore,
    session_id: str,
    signals: list[Signal],
    user_id: str | None = "u1",
    seq: int = 0,
    release: str | None = None,
) -> None:
    environment = SessionEnvironment(release=release) if release else None
    assert await store_batch(
        store,
        batch_record(session_id, seq, user_id=user_id, signals=signals, environment=environment),
    )


async def test_occurrences_fold_per_session_and_group_in_a_window(store: SessionStore) -> None:
    await put(store, "s1", [boom(1000), boom(1500, 2), pay(1600)], "u1", release="4.0")
    await put(store, "s1", [boom(3000)], "u1", seq=1)
    await put(store, "s2", [boom(5000)], "u2", release="4.1")
    await put(store, "s3", [boom(6000)], None)

    groups = await store.errors.groups(ErrorGroupFilters())
    assert [g.fingerprint for g in groups] == [BOOM, PAY]
    group = groups[0]
    assert (group.kind, group.title) == ("console_error", "boom <n>")
    assert (group.count, group.users, group.sessions) == (5, 2, 3)
    assert (group.first_seen, group.last_seen) == (1000, 6000)
    assert group.latest_release == "4.1"  # s3, newer, has none
    assert groups[1].title == "POST x/api/pay/{id} → 500"

    windowed = await store.errors.groups(ErrorGroupFilters(since=4000, release="4.1"))
    assert [(g.fingerprint, g.count, g.first_seen, g.latest_release) for g in windowed] == [
        (BOOM, 1, 1000, "4.1")
    ]
    assert await store.errors.groups(ErrorGroupFilters(kind="failed_request", until=500)) == []

    first = await store.errors.groups(ErrorGroupFilters(limit=1))
    rest = await store.errors.groups(
        ErrorGroupFilters(limit=1, after=(first[0].last_seen, first[0].fingerprint))
    )
    assert [g.fingerprint for g in first + rest] == [BOOM, PAY]

    assert await store.errors.group_sessions(BOOM, None, 2) == [(6000, "s3"), (5000, "s2")]
    assert await store.errors.group_sessions(BOOM, (5000, "s2"), 2) == [(3000, "s1")]


async def test_url_filter_looks_at_the_sessions_pages(store: SessionStore) -> None:
    await put(store, "s1", [PageViewSignal(ts=900, url="https://x/cart_1"), boom(1000)])
    await put(store, "s2", [PageViewSignal(ts=900, url="https://x/home"), pay(1000)])
    found = await store.errors.groups(ErrorGroupFilters(url="cart_"))
    assert [g.fingerprint for g in found] == [BOOM]
    assert await store.errors.groups(ErrorGroupFilters(url="%")) == []


async def test_seen_elsewhere_counts_other_identified_users(store: SessionStore) -> None:
    await put(store, "old", [boom(100)], "u9", release="3.9")
    await put(store, "mine", [boom(2000)], "me")
    await put(store, "a1", [boom(3000)], "a")
    await put(store, "a2", [boom(4000)], "a")
    await put(store, "b1", [boom(3500)], "b")
    await put(store, "anon", [boom(9000)], None)

    seen = await store.errors.seen_elsewhere([BOOM, PAY], "me", since=1000)
    assert set(seen) == {BOOM}
    assert seen[BOOM].other_users == 2
    assert seen[BOOM].newest_other_session == "a2"
    assert (seen[BOOM].first_seen, seen[BOOM].first_release) == (100, "3.9")

    nobody = await store.errors.seen_elsewhere([BOOM], "me", since=5000)
    assert (nobody[BOOM].other_users, nobody[BOOM].newest_other_session) == (0, None)
    anonymous = await store.errors.seen_elsewhere([BOOM], None, since=1000)
    assert anonymous[BOOM].other_users == 3


async def test_occurrences_follow_the_sessions_user(store: SessionStore) -> None:
    await put(store, "s1", [boom(1000)], None)
    await put(store, "s1", [], "late", seq=1)
    await put(store, "s1", [pay(3000)], None, seq=2)
    seen = await store.errors.seen_elsewhere([BOOM, PAY], "someone", since=0)
    assert seen[BOOM].newest_other_session == "s1"
    assert seen[PAY].newest_other_session == "s1"
    assert (await store.errors.seen_elsewhere([BOOM], "late", since=0))[BOOM].other_users == 0


async def test_one_group_of_batches_writes_each_row_once(store: SessionStore) -> None:
    batches = [
        batch_record("s1", 0, signals=[boom(1000)]),
        batch_record("s1", 1, signals=[boom(2000), boom(2500)]),
        batch_record("s1", 1, signals=[boom(2000), boom(2500)]),  # a duplicate in the group
    ]
    assert await store_batches(store, batches) == [True, True, False]
    [group] = await store.errors.groups(ErrorGroupFilters())
    assert (group.count, group.sessions, group.first_seen, group.last_seen) == (3, 1, 1000, 2500)


async def test_signals_without_fingerprints_are_in_no_group(store: SessionStore) -> None:
    await put(store, "s1", [ConsoleErrorSignal(ts=1000, message="old row")])
    assert await store.errors.groups(ErrorGroupFilters()) == []


async def test_deleting_sessions_deletes_their_occurrences(store: SessionStore) -> None:
    await put(store, "s1", [boom(1000)], "u1")
    await put(store, "s2", [boom(2000)], "u2")
    await store.delete_sessions(["s1"])
    assert await store.errors.group_sessions(BOOM, None, 10) == [(2000, "s2")]
    await store.delete_sessions(["s2"])
    assert await store.errors.groups(ErrorGroupFilters()) == []
    assert await store.errors.seen_elsewhere([BOOM], None, 0) == {}
