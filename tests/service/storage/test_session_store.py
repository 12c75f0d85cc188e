"""SessionStore on SQLite and PostgreSQL: the batch write, counters, lookups and deletion."""

from __future__ import annotations

import pytest

from service.signal_kinds import ConsoleErrorSignal, PageViewSignal, Signal
from service.storage.records import BatchRecord, SessionFilters
from service.storage.session_store import SessionStore
from tests.batch_records import batch_record, store_batch, store_batches


def record(
    seq: int,
    first: int | None,
    last: int | None,
    signals: list[Signal] = (),  # type: ignore[assignment]
    user_id: str | None = "u1",
    final: bool = False,
    session_id: str = "sess-store-01",
) -> BatchRecord:
    return batch_record(
        session_id,
        seq,
        user_id=user_id,
        first_ts=first,
        last_ts=last,
        event_count=0 if first is None else 10,
        byte_count=100,
        received_at=1_000_000 + seq,
        final=final,
        signals=list(signals),
    )


def error(ts: int) -> ConsoleErrorSignal:
    return ConsoleErrorSignal(ts=ts, message="boom")


async def test_batches_accumulate_counters_and_time_span(store: SessionStore) -> None:
    assert await store_batch(store, record(1, 5000, 6000, [error(5500)]))
    assert await store_batch(store, record(0, 1000, 2000, [error(1500), error(1600)]))
    assert await store_batch(store, record(2, None, None, final=True))
    session = await store.get("sess-store-01")
    assert session is not None
    assert (session.started_at, session.ended_at) == (1000, 6000)
    assert session.first_error_at == 1500
    assert session.error_count == 3
    assert session.event_count == 20
    assert session.chunk_count == 3
    assert session.final is True
    # In seq order, each still in the journal until the mover takes it.
    assert await store.session_chunks("sess-store-01") == [
        (f"sessions/sess-store-01/{seq:012d}-x.json.gz", f"chunk sess-store-01 {seq}".encode())
        for seq in range(3)
    ]


async def test_a_repeated_seq_writes_nothing(store: SessionStore) -> None:
    assert await store_batch(store, record(0, 1000, 2000, [error(1500)]))
    assert not await store_batch(store, record(0, 1000, 2000, [error(1500)]))
    session = await store.get("sess-store-01")
    assert session is not None and session.error_count == 1 and session.chunk_count == 1
    assert len(await store.signals("sess-store-01")) == 1
    assert await store.record_new_batches([record(0, 1000, 2000)], [[]], [b"again"]) == [
        "duplicate"
    ]
    # The first write's chunk, not the repeat's.
    assert await store.session_chunks("sess-store-01") == [
        ("sessions/sess-store-01/000000000000-x.json.gz", b"chunk sess-store-01 0")
    ]


async def test_user_id_is_kept_when_a_batch_has_none_and_rekeyed_when_it_changes(
    store: SessionStore,
) -> None:
    await store_batch(store, record(0, 1000, 2000, user_id="u1"))
    await store_batch(store, record(1, 3000, 4000, user_id=None))
    assert (await store.get("sess-store-01")).user_id == "u1"  # type: ignore[union-attr]
    await store_batch(store, record(2, 5000, 6000, user_id="u2"))
    assert (await store.get("sess-store-01")).user_id == "u2"  # type: ignore[union-attr]
    assert await store.session_ids_of_user("u2") == ["sess-store-01"]


async def test_search_orders_newest_first_and_filters_by_url(store: SessionStore) -> None:
    for i in range(3):
        view = PageViewSignal(ts=i * 100, url=f"https://x/{i}")
        await store_batch(
            store, record(0, i * 100, i * 100 + 50, [view], session_id=f"sess-{i}-0000")
        )
    found = await store.search(SessionFilters(limit=10))
    assert [s.session_id for s in found] == ["sess-2-0000", "sess-1-0000", "sess-0-0000"]
    assert [s.session_id for s in await store.search(SessionFilters(url="x/1"))] == ["sess-1-0000"]


async def test_sessions_come_with_their_pages(store: SessionStore) -> None:
    """Each way of reading sessions for a summary brings their page views, in visit order."""
    views = [PageViewSignal(ts=ts, url=f"https://x/{ts}") for ts in (300, 100, 200)]
    await store_batch(store, record(0, 100, 350, views, session_id="sess-paged-01"))
    await store_batch(store, record(0, 10, 20, session_id="sess-bare-01"))
    in_order = ["https://x/100", "https://x/200", "https://x/300"]

    found = await store.search_with_pages(SessionFilters(limit=10))
    assert [(r.session_id, pages) for r, pages in found] == [
        ("sess-paged-01", in_order),
        ("sess-bare-01", []),
    ]
    newest = await store.newest_with_pages("u1")
    assert newest is not None and (newest[0].session_id, newest[1]) == ("sess-paged-01", in_order)
    assert await store.newest_with_pages("nobody") is None
    one = await store.get_with_pages("sess-bare-01")
    assert one is not None and (one[0].session_id, one[1]) == ("sess-bare-01", [])
    assert await store.get_with_pages("sess-none-01") is None


async def test_delete_sessions_records_tombstones(store: SessionStore) -> None:
    await store_batch(store, record(0, 1000, 2000, [error(1500)]))
    await store.delete_sessions(["sess-store-01"], ["hash-a"], at=5)
    assert await store.get("sess-store-01") is None
    assert await store.signals("sess-store-01") == []
    assert await store.session_chunks("sess-store-01") == []
    assert await store.erased_subjects(["hash-b", "hash-a"]) == {"hash-a"}
    await store.delete_sessions([], ["hash-a"], at=6)  # a second erasure is harmless


async def test_expired_sessions_are_found_by_last_receipt(store: SessionStore) -> None:
    await store_batch(store, record(0, 1000, 2000, session_id="sess-old-0001"))
    assert await store.expired_session_ids(1_000_001, 10) == ["sess-old-0001"]
    assert await store.expired_session_ids(1_000_000, 10) == []


async def test_one_call_writes_many_batches_folding_each_session(store: SessionStore) -> None:
    group = [
        record(0, 1000, 2000, [error(1500)], session_id="sess-a-00001"),
        record(1, 3000, 4000, [error(3500)], session_id="sess-a-00001", user_id="u9"),
        record(2, None, None, final=True, session_id="sess-a-00001", user_id=None),
        record(0, 500, 600, session_id="sess-b-00001"),
        record(0, 500, 600, session_id="sess-b-00001"),  # the same seq twice in one group
        record(1, None, None, final=True, session_id="sess-c-00001"),
    ]
    assert await store_batches(store, group) == [True, True, True, True, False, True]
    a = await store.get("sess-a-00001")
    assert a is not None
    assert (a.started_at, a.ended_at, a.first_error_at) == (1000, 4000, 1500)
    assert (a.chunk_count, a.error_count, a.user_id, a.final) == (3, 2, "u9", True)
    b = await store.get("sess-b-00001")
    assert b is not None and b.chunk_count == 1
    c = await store.get("sess-c-00001")
    assert c is not None and c.final and c.started_at == c.ended_at == 1_000_001

    again = await store_batches(
        store,
        [
            record(1, 3000, 4000, session_id="sess-a-00001"),
            record(3, 9000, 9500, session_id="sess-a-00001"),
        ],
    )
    assert again == [False, True]
    a = await store.get("sess-a-00001")
    assert a is not None and (a.chunk_count, a.ended_at) == (4, 9500)


async def test_new_batches_are_written_unless_refused_or_stored_before(
    store: SessionStore,
) -> None:
    first = [record(0, 1000, 2000), record(0, 1000, 2000)]  # the same seq twice in one call
    assert await store.record_new_batches(first, [["h1"], ["h1"]], [b"a", b"b"]) == [
        "written",
        "duplicate",
    ]
    assert await store.record_new_batches([record(0, 1000, 2000)], [["h1"]], [b"c"]) == [
        "duplicate"
    ]
    await store.delete_sessions([], ["h1"], at=1)
    assert await store.erased_subjects(["h0", "h1"]) == {"h1"}
    mixed = [record(1, 2000, 3000), record(2, 3000, 4000)]
    assert await store.record_new_batches(mixed, [["h0", "h1"], ["h0"]], [b"d", b"e"]) == [
        "refused",
        "written",
    ]
    # Only what was written has rows and a journaled chunk.
    key = "sessions/sess-store-01/{:012d}-x.json.gz".format
    assert await store.session_chunks("sess-store-01") == [(key(0), b"a"), (key(2), b"e")]
    session = await store.get("sess-store-01")
    assert session is not None and session.chunk_count == 2


async def test_chunks_are_read_from_the_journal_until_they_are_moved(store: SessionStore) -> None:
    batches = [record(0, 1000, 2000), record(1, 2000, 3000), record(1, 2000, 3000)]
    outcomes = await store.record_new_batches(
        batches, [["h"]] * 3, [b"chunk 0", b"chunk 1", b"copy of 1"]
    )
    assert outcomes == ["written", "written", "duplicate"]
    key = "sessions/sess-store-01/{:012d}-x.json.gz".format
    # Only written batches get an entry: the repeat in the same call has none.
    assert await store.session_chunks("sess-store-01") == [
        (key(0), b"chunk 0"),
        (key(1), b"chunk 1"),
    ]

    stored: list[tuple[str, bytes]] = []

    async def put(files: list[tuple[str, bytes]]) -> None:
        stored.extend(files)

    entries, removed = await store.move_journal(1, put)
    assert [(e.blob_key, e.data) for e in entries] == [(key(0), b"chunk 0")] == stored
    assert entries[0].session_id == "sess-store-01" and removed == {entries[0].id}
    assert await store.session_chunks("sess-store-01") == [(key(0), None), (key(1), b"chunk 1")]
    entries, removed = await store.move_journal(10, put)
    assert len(entries) == 1 and removed == {entries[0].id}
    assert await store.move_journal(10, put) == ([], set())
    assert await store.session_chunks("sess-store-01") == [(key(0), None), (key(1), None)]


async def test_a_late_move_never_removes_a_chunk_journaled_since(store: SessionStore) -> None:
    # Mover A reads an entry; while it stores it, mover B (another process) moves and removes
    # it (on SQLite; on PostgreSQL A's lock makes B pass it by), and a new batch is journaled.
    # A's remove, by the id it read, must leave the new entry alone. (SQLite without
    # AUTOINCREMENT gave the largest id again: the new chunk was deleted before it reached the
    # blob store, and lost.)
    await store_batch(store, batch_record("sess-journal-01", 0))

    async def put(files: list[tuple[str, bytes]]) -> None:
        pass

    async def put_while_another_moves(files: list[tuple[str, bytes]]) -> None:
        await store.move_journal(10, put)
        await store_batch(store, batch_record("sess-journal-01", 1))

    entries, _ = await store.move_journal(10, put_while_another_moves)
    assert [e.blob_key for e in entries] == ["sessions/sess-journal-01/000000000000-x.json.gz"]
    assert await store.session_chunks("sess-journal-01") == [
        ("sessions/sess-journal-01/000000000000-x.json.gz", None),
        ("sessions/sess-journal-01/000000000001-x.json.gz", b"chunk sess-journal-01 1"),
    ]


async def test_a_move_whose_store_fails_keeps_the_entries(store: SessionStore) -> None:
    await store.record_new_batches([record(0, 1000, 2000)], [[]], [b"chunk"])

    async def failing(files: list[tuple[str, bytes]]) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await store.move_journal(10, failing)
    assert await store.session_chunks("sess-store-01") == [
        ("sessions/sess-store-01/000000000000-x.json.gz", b"chunk")
    ]


async def test_entries_that_fail_alone_are_quarantined_skipped_counted_and_erasable(
    store: SessionStore,
) -> None:
    batches = [record(seq, 1000, 2000) for seq in range(3)]
    await store.record_new_batches(batches, [[]] * 3, [b"chunk 0", b"chunk 1", b"chunk 2"])
    key = "sessions/sess-store-01/{:012d}-x.json.gz".format
    assert await store.journal_backlog() == (3, 0, batches[0].received_at)
    stored: list[str] = []

    async def refusing_the_second(files: list[tuple[str, bytes]]) -> dict[int, str]:
        stored.extend(k for k, _ in files if k != key(1))
        return {position: "ValueError" for position, (k, _) in enumerate(files) if k == key(1)}

    entries, removed = await store.move_journal(10, refusing_the_second)
    assert removed == {entries[0].id, entries[2].id} and stored == [key(0), key(2)]
    # The refused one stays, readable, but out of the waiting count and of later moves.
    assert await store.session_chunks("sess-store-01") == [
        (key(0), None),
        (key(1), b"chunk 1"),
        (key(2), None),
    ]
    assert await store.journal_backlog() == (0, 1, None)
    assert await store.move_journal(10, refusing_the_second) == ([], set())
    # A retry takes the quarantined ones only; failing again, it stays.
    again, removed = await store.move_journal(10, refusing_the_second, quarantined_after=0)
    assert [e.blob_key for e in again] == [key(1)] and removed == set()
    assert await store.move_journal(10, refusing_the_second, quarantined_after=again[0].id) == (
        [],
        set(),
    )
    assert await store.journal_backlog() == (0, 1, None)
    # Erasure removes it like any other entry.
    await store.forget_journal_of_sessions(["sess-store-01"])
    assert await store.journal_backlog() == (0, 0, None)


async def test_purged_sessions_leave_no_journal_entries(store: SessionStore) -> None:
    for session_id in ("sess-store-01", "sess-store-02", "sess-store-03"):
        await store.record_new_batches(
            [record(0, 1000, 2000, session_id=session_id)], [[]], [b"chunk"]
        )
    await store.forget_journal_of_sessions(["sess-store-01"])
    await store.delete_sessions(["sess-store-02"])

    async def keep(files: list[tuple[str, bytes]]) -> None:
        pass

    entries, _ = await store.move_journal(10, keep)
    assert [e.blob_key for e in entries] == ["sessions/sess-store-03/000000000000-x.json.gz"]


async def test_tombstones_are_listed_newest_first_and_lifted_one_at_a_time(
    store: SessionStore,
) -> None:
    await store.add_tombstones(["0a" * 32], at=10, kind="user")
    await store.delete_sessions([], ["0b" * 32, "1b" * 32], at=20)
    await store.add_tombstones(["0c" * 32], at=5)  # recorded before kinds were
    listed = await store.tombstones()
    assert [(t.subject_hash[:2], t.kind, t.erased_at) for t in listed] == [
        ("0b", "session", 20),
        ("1b", "session", 20),
        ("0a", "user", 10),
        ("0c", None, 5),
    ]
    assert [t.subject_hash[:2] for t in await store.tombstones("user")] == ["0a"]
    assert [t.subject_hash[:2] for t in await store.tombstones(limit=1)] == ["0b"]
    assert [t.subject_hash[:2] for t in await store.tombstones(hash_prefix="0b0b")] == ["0b"]
    assert await store.tombstones(hash_prefix="0_") == []  # no LIKE wildcard
    assert await store.tombstones(hash_prefix="%") == []
    assert (await store.count_tombstones(), await store.count_tombstones("session")) == (4, 2)

    assert await store.lift_tombstone("0a" * 32) is True
    assert await store.lift_tombstone("0a" * 32) is False
    assert await store.erased_subjects(["0a" * 32, "0b" * 32]) == {"0b" * 32}
    assert await store.count_tombstones("user") == 0
