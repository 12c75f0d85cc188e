"""The retention purge runs as an RQ job on real Redis, enqueued once per hour."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from redis import Redis
from rq import SimpleWorker
from rq.job import Job, JobStatus

from service.jobs.queue import QUEUE_NAME, JobQueue
from service.jobs.runtime import configure_job_runtime
from service.sessions.erasure import ErasureKeys
from service.settings import Settings
from service.storage.blobs import open_blob_store
from service.storage.chunk_layout import session_prefix
from service.storage.database import create_engine
from service.storage.records import BatchRecord
from service.storage.session_store import SessionStore
from tests.batch_records import batch_record, store_batch
from tests.conftest import make_settings


def test_hourly_purge_is_enqueued_once_and_runs(settings: Settings, tmp_path: Path) -> None:
    redis = Redis.from_url(settings.redis_url or "")
    queue = JobQueue(redis)
    moment = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
    job_id = queue.enqueue_retention_purge(moment)
    assert queue.enqueue_retention_purge(moment) == job_id
    assert queue.depth() == 1

    configure_job_runtime(settings)
    SimpleWorker([QUEUE_NAME], connection=redis).work(burst=True)
    job = Job.fetch(job_id, connection=redis)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 0
    assert queue.depth() == 0


def test_the_hourly_purge_also_removes_what_an_erasure_left_behind(settings: Settings) -> None:
    keys = ErasureKeys(settings.secret_key)
    now = int(time.time() * 1000)
    record = BatchRecord(
        session_id="sess-left-job1",
        seq=0,
        user_id="u-left-job",
        blob_key=f"{session_prefix('sess-left-job1')}000000000000-0.json.gz",
        first_ts=now,
        last_ts=now,
        event_count=1,
        byte_count=2,
        received_at=now,
        final=False,
        signals=[],
    )

    async def leave_a_session_behind_an_erasure() -> None:
        engine = create_engine(settings.database_url)
        try:
            store = SessionStore(engine)
            await open_blob_store(None, settings.data_dir).put(record.blob_key, b"[]")
            assert await store_batch(store, record)
            await store.add_tombstones([keys.user("u-left-job")], at=now)
            store.dispose()
        finally:
            await engine.dispose()

    async def stored_sessions() -> list[str]:
        engine = create_engine(settings.database_url)
        try:
            return await SessionStore(engine).session_ids_of_user("u-left-job")
        finally:
            await engine.dispose()

    asyncio.run(leave_a_session_behind_an_erasure())
    redis = Redis.from_url(settings.redis_url or "")
    job_id = JobQueue(redis).enqueue_retention_purge()
    configure_job_runtime(settings)
    SimpleWorker([QUEUE_NAME], connection=redis).work(burst=True)
    assert Job.fetch(job_id, connection=redis).return_value() == 1
    assert asyncio.run(stored_sessions()) == []
    assert not (settings.data_dir / "blobs" / "sessions" / "sess-left-job1").exists()


def test_the_hourly_purge_also_removes_old_chunks_no_session_points_at(
    settings: Settings,
) -> None:
    folder = settings.data_dir / "blobs" / "sessions" / "sess-orphan-job1"
    key = f"{session_prefix('sess-orphan-job1')}000000000000-0.json.gz"
    asyncio.run(open_blob_store(None, settings.data_dir).put(key, b"[]"))
    past = time.time() - (settings.retention_days + 1) * 24 * 3600
    for chunk in folder.iterdir():
        os.utime(chunk, (past, past))
    redis = Redis.from_url(settings.redis_url or "")
    job_id = JobQueue(redis).enqueue_retention_purge()
    configure_job_runtime(settings)
    SimpleWorker([QUEUE_NAME], connection=redis).work(burst=True)
    # The job's figure counts sessions; this folder had none.
    assert Job.fetch(job_id, connection=redis).return_value() == 0
    assert not folder.exists()


def test_the_hourly_purge_truncates_the_sqlite_write_ahead_log(
    tmp_path: Path, sqlite_template: Path, redis_url: str
) -> None:
    """What an erasure could not truncate (the log was busy) goes within the hour."""
    database = tmp_path / "replaydesk.db"
    database.write_bytes(sqlite_template.read_bytes())
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{database}", redis_url)
    wal = Path(f"{database}-wal")
    # Open, so that the log outlives the engines below (the last connection removes it).
    keeper = sqlite3.connect(database)
    keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()
    try:

        async def write_then_delete() -> None:
            engine = create_engine(settings.database_url)
            try:
                store = SessionStore(engine)
                assert await store_batch(store, batch_record("sess-wal-job01"))
                await store.delete_sessions(["sess-wal-job01"])
                store.dispose()
            finally:
                await engine.dispose()

        asyncio.run(write_then_delete())
        assert wal.stat().st_size > 0
        redis = Redis.from_url(redis_url)
        job_id = JobQueue(redis).enqueue_retention_purge()
        configure_job_runtime(settings)
        SimpleWorker([QUEUE_NAME], connection=redis).work(burst=True)
        assert Job.fetch(job_id, connection=redis).get_status() == JobStatus.FINISHED
        assert wal.stat().st_size == 0
    finally:
        keeper.close()
