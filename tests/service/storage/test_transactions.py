"""TransactionRunner: one function in one transaction, on SQLite (file, memory) and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.storage import transactions
from service.storage.database import create_engine, upgrade_database
from service.storage.transactions import TransactionRunner


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS runner_probe (n INTEGER)"))
    yield engine
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE runner_probe"))
    await engine.dispose()


def insert(conn: Connection, n: int) -> str:
    conn.execute(text("INSERT INTO runner_probe (n) VALUES (:n)"), {"n": n})
    return threading.current_thread().name


async def probe_values(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT n FROM runner_probe ORDER BY n"))).scalars())


async def test_the_work_is_committed_and_its_result_returned(engine: AsyncEngine) -> None:
    runner = TransactionRunner(engine)
    try:
        await runner.run(insert, 1)
        await runner.run(insert, n=2)
    finally:
        runner.dispose()
    # Seen through the async engine's own connections: committed, not just written.
    assert await probe_values(engine) == [1, 2]


async def test_a_failing_function_rolls_its_transaction_back(engine: AsyncEngine) -> None:
    def insert_then_fail(conn: Connection) -> None:
        insert(conn, 7)
        raise RuntimeError("the work failed")

    runner = TransactionRunner(engine)
    try:
        with pytest.raises(RuntimeError, match="the work failed"):
            await runner.run(insert_then_fail)
    finally:
        runner.dispose()
    assert await probe_values(engine) == []


def count_in_transaction(conn: Connection) -> tuple[int, bool]:
    """How many probe rows, and whether the driver's connection is inside a transaction."""
    n = conn.execute(text("SELECT count(*) FROM runner_probe")).scalar_one()
    driver = conn.connection.driver_connection
    if hasattr(driver, "is_in_transaction"):  # asyncpg
        return n, driver.is_in_transaction()
    return n, driver.in_transaction  # type: ignore[union-attr]  # sqlite3


async def test_a_read_needs_no_transaction_of_its_own(engine: AsyncEngine) -> None:
    runner = TransactionRunner(engine)
    try:
        await runner.run(insert, 3)
        read = await runner.read(count_in_transaction)
        in_run = await runner.run(count_in_transaction)
    finally:
        runner.dispose()
    # PostgreSQL: `run` sends a BEGIN (and later a COMMIT), each a round trip; `read` spares
    # both. SQLite starts no transaction for a read either way.
    assert read == (1, False)
    assert in_run == (1, engine.dialect.name == "postgresql")


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'runner.db'}"
    await asyncio.to_thread(upgrade_database, url)  # as serve does: sets the file's WAL mode
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE runner_probe (n INTEGER)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def commit_threads() -> Iterator[list[str]]:
    """Names of the threads that commit, on any engine, while the test runs."""
    names: list[str] = []

    def record(_conn: Connection) -> None:
        names.append(threading.current_thread().name)

    event.listen(Engine, "commit", record)
    yield names
    event.remove(Engine, "commit", record)


async def test_on_a_sqlite_file_the_work_and_its_commit_run_here(
    sqlite_file: AsyncEngine, commit_threads: list[str]
) -> None:
    runner = TransactionRunner(sqlite_file)

    def pragmas(conn: Connection) -> tuple[str, dict[str, object]]:
        names = (
            "journal_mode",
            "synchronous",
            "busy_timeout",
            "foreign_keys",
            "wal_autocheckpoint",
        )
        values = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}
        return threading.current_thread().name, values

    try:
        thread, values = await runner.run(pragmas)
        assert await runner.run(insert, 4) == threading.main_thread().name
    finally:
        runner.dispose()
    assert thread == threading.main_thread().name
    # The async engine's durability (FULL = 2: the commit fsyncs the log), but no waiting for
    # the lock on the event loop, and no checkpoints there either.
    assert values == {
        "journal_mode": "wal",
        "synchronous": 2,
        "busy_timeout": 0,
        "foreign_keys": 1,
        "wal_autocheckpoint": 0,
    }
    assert set(commit_threads) == {threading.main_thread().name}
    assert await probe_values(sqlite_file) == [4]


@pytest.fixture
def checkpoint_threads() -> Iterator[list[str]]:
    """Names of the threads that checkpoint a write-ahead log while the test runs."""
    names: list[str] = []

    def record(_conn: Connection, _cursor: object, statement: str, *_: object) -> None:
        if "wal_checkpoint" in statement:
            names.append(threading.current_thread().name)

    event.listen(Engine, "before_cursor_execute", record)
    yield names
    event.remove(Engine, "before_cursor_execute", record)


def insert_blob(conn: Connection, n: int) -> None:
    conn.execute(
        text("INSERT INTO runner_probe (n, blob) VALUES (:n, :blob)"),
        {"n": n, "blob": bytes(32768)},
    )


def wal_bytes(database: str) -> int:
    return Path(f"{database}-wal").stat().st_size


async def test_steady_writes_keep_the_write_ahead_log_small(
    sqlite_file: AsyncEngine, checkpoint_threads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sqlite_file.begin() as conn:
        await conn.execute(text("ALTER TABLE runner_probe ADD COLUMN blob BLOB"))
    monkeypatch.setattr(transactions, "CHECKPOINT_SECONDS", 0)
    runner = TransactionRunner(sqlite_file)
    try:
        for n in range(200):  # 6.5 MB of rows, one commit each
            await runner.run(insert_blob, n)
    finally:
        runner.dispose()
    # Checkpointed in worker threads, and each time the whole log, so that it started over.
    assert checkpoint_threads
    assert threading.main_thread().name not in checkpoint_threads
    database = sqlite_file.url.database
    assert database is not None
    assert wal_bytes(database) < 1_000_000
    assert await probe_values(sqlite_file) == list(range(200))


async def test_writes_wait_for_a_checkpoint_under_way_and_reads_do_not(
    sqlite_file: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real_checkpoint = transactions._checkpoint

    def held_checkpoint(engine: Engine) -> None:
        release.wait(timeout=10)
        real_checkpoint(engine)

    monkeypatch.setattr(transactions, "_checkpoint", held_checkpoint)
    runner = TransactionRunner(sqlite_file)
    try:
        await runner.run(insert, 1)  # starts a checkpoint, which is held
        cancelled = asyncio.create_task(runner.run(insert, 2))
        waiting = asyncio.create_task(runner.run(insert, 3))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        assert await runner.read(count_in_transaction) == (1, False)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        release.set()
        await asyncio.wait_for(waiting, timeout=10)
    finally:
        release.set()
        runner.dispose()
    # The cancelled write never ran; the other one ran once the checkpoint ended.
    assert await probe_values(sqlite_file) == [1, 3]


async def test_while_another_writer_holds_the_lock_the_work_waits_in_a_worker_thread(
    sqlite_file: AsyncEngine,
) -> None:
    database = sqlite_file.url.database
    assert database is not None
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # SQLite's write lock, until the commit below
    try:
        thread = await insert_while_held(sqlite_file, 5, lambda: holder.execute("COMMIT"))
    finally:
        holder.close()
    assert thread != threading.main_thread().name
    assert await probe_values(sqlite_file) == [5]


async def insert_while_held(engine: AsyncEngine, n: int, release: Callable[[], object]) -> str:
    """Insert `n` while another connection holds the file, checking that the work waits for
    the lock rather than failing, then `release` it; the thread the work ran on. (It does not
    wait on the event loop: the loop's connections have busy_timeout 0.)"""
    runner = TransactionRunner(engine)
    try:
        work = asyncio.create_task(runner.run(insert, n))
        for _ in range(20):
            await asyncio.sleep(0.01)
            assert not work.done()
        release()
        return await asyncio.wait_for(work, timeout=10)
    finally:
        runner.dispose()


async def test_in_memory_sqlite_runs_on_the_engine_itself() -> None:
    # A second engine on ":memory:" would open a different, empty database.
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    runner = TransactionRunner(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE runner_probe (n INTEGER)"))
        assert await runner.run(insert, 3) == threading.main_thread().name
    finally:
        runner.dispose()
        await engine.dispose()


def delete_all(conn: Connection) -> None:
    conn.execute(text("DELETE FROM runner_probe"))


async def test_truncate_log_leaves_no_old_page_in_the_write_ahead_log(
    sqlite_file: AsyncEngine,
) -> None:
    async with sqlite_file.begin() as conn:
        await conn.execute(text("ALTER TABLE runner_probe ADD COLUMN blob BLOB"))
    database = sqlite_file.url.database
    assert database is not None
    runner = TransactionRunner(sqlite_file)
    try:
        for n in range(20):
            await runner.run(insert_blob, n)
        await runner.run(delete_all)
        assert wal_bytes(database) > 0
        assert await runner.truncate_log() is True
        assert wal_bytes(database) == 0
        # Writes go on as before.
        await runner.run(insert, 1)
    finally:
        runner.dispose()
    assert await probe_values(sqlite_file) == [1]


async def test_a_reader_in_the_way_delays_the_truncation_but_never_ingest_for_long(
    sqlite_file: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transactions, "CHECKPOINT_SECONDS", 0)
    monkeypatch.setattr(transactions, "_TRUNCATE_PAUSE_SECONDS", 0.05)
    monkeypatch.setattr(transactions, "_TRUNCATE_RETRY_SECONDS", 0)
    checkpoints: list[tuple[str, bool]] = []
    passive, truncating = transactions._checkpoint, transactions._truncating_checkpoint

    def record_passive(engine: Engine) -> None:
        passive(engine)
        checkpoints.append(("passive", True))

    def record_truncating(engine: Engine) -> bool:
        done = truncating(engine)
        checkpoints.append(("truncate", done))
        return done

    monkeypatch.setattr(transactions, "_checkpoint", record_passive)
    monkeypatch.setattr(transactions, "_truncating_checkpoint", record_truncating)
    database = sqlite_file.url.database
    assert database is not None
    runner = TransactionRunner(sqlite_file)
    reader = sqlite3.connect(database, isolation_level=None)
    try:
        await runner.run(insert, 1)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM runner_probe").fetchone()  # holds its snapshot
        await runner.run(insert, 2)  # a page the reader's snapshot does not have

        async def write_meanwhile() -> float:
            slowest = 0.0
            for n in range(3, 13):
                started = time.monotonic()
                await runner.run(insert, n)
                slowest = max(slowest, time.monotonic() - started)
                await asyncio.sleep(0.02)
            return slowest

        started = time.monotonic()
        writes = asyncio.create_task(write_meanwhile())
        truncated = await runner.truncate_log()
        took = time.monotonic() - started
        slowest_write = await writes
        # The erasure gives up within about a second; no write waited more than an attempt.
        assert truncated is False
        assert took < 2.0
        assert slowest_write < 0.5
        assert ("truncate", True) not in checkpoints

        reader.execute("COMMIT")
        # A checkpoint after a write truncates what the erasure could not; then they are
        # passive again.
        await runner.run(insert, 13)
        await runner.run(insert, 14)
        await runner.run(insert, 15)
    finally:
        reader.close()
        runner.dispose()
    succeeded = checkpoints.index(("truncate", True))
    assert checkpoints[succeeded + 1 :] and all(
        kind == "passive" for kind, _ in checkpoints[succeeded + 1 :]
    )
    assert await probe_values(sqlite_file) == list(range(1, 16))


async def test_truncate_log_has_nothing_to_do_off_a_sqlite_file(engine: AsyncEngine) -> None:
    runner = TransactionRunner(engine)
    try:
        assert await runner.truncate_log() is True
    finally:
        runner.dispose()


async def test_when_opening_a_connection_finds_the_file_busy_the_work_waits_in_a_worker_thread(
    sqlite_file: AsyncEngine,
) -> None:
    # A new connection's first statement reads the schema, which needs a lock of its own: it
    # is busy while another connection holds the file (as during WAL recovery or a truncating
    # checkpoint). The loop's connections do not wait, so that work goes to a worker thread.
    database = sqlite_file.url.database
    assert database is not None
    await sqlite_file.dispose()  # the file held by no one else, so the holder can take it all
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")

    def release() -> None:
        holder.execute("COMMIT")
        holder.close()  # in WAL mode an exclusive hold ends with its connection

    try:
        thread = await insert_while_held(sqlite_file, 7, release)
    finally:
        holder.close()
    assert thread != threading.main_thread().name
    assert await probe_values(sqlite_file) == [7]
