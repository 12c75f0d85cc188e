"""`replaydesk worker --threads N`: N RQ workers on threads of one process keep RQ's semantics
(job status, retries, the failure registry, timeouts, a warm and a cold stop) and run jobs
at the same time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

from service.jobs.queue import QUEUE_NAME
from service.jobs.worker_threads import WorkerThreads
from tests.conftest import TEST_REDIS_URL
from tests.processes import DIES_WITH_THE_TESTS

PATIENCE_SECONDS = 30.0
ROOT = Path(__file__).resolve().parents[3]


def wait_here(path: str, seconds: float) -> str:
    """A job that notes it started, waits, and notes it ended."""
    Path(path, "started").mkdir(parents=True, exist_ok=True)
    Path(path, "started", str(threading.get_ident())).touch()
    time.sleep(seconds)
    Path(path, "ended").mkdir(parents=True, exist_ok=True)
    Path(path, "ended", str(threading.get_ident())).touch()
    return "waited"


def fail_twice(path: str) -> str:
    """Fails on its first two runs, then succeeds."""
    runs = Path(path)
    count = int(runs.read_text()) if runs.exists() else 0
    runs.write_text(str(count + 1))
    if count < 2:
        raise RuntimeError("not yet")
    return "third time"


def always_fails() -> None:
    raise ValueError("broken on purpose")


def sleep_long() -> None:
    # Short sleeps: the timeout is raised in the job's thread when it next runs Python code.
    for _ in range(300):
        time.sleep(0.05)


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis[bytes]]:
    connection = Redis.from_url(redis_url)
    yield connection
    connection.close()


def threads(count: int, redis_url: str) -> WorkerThreads:
    return WorkerThreads(count, lambda: Redis.from_url(redis_url))


def test_jobs_run_at_the_same_time_and_finish_with_their_results(
    redis: Redis[bytes], redis_url: str, tmp_path: Path
) -> None:
    queue = Queue(QUEUE_NAME, connection=redis)
    jobs = [queue.enqueue(wait_here, str(tmp_path), 1.0) for _ in range(4)]
    started = time.monotonic()
    threads(4, redis_url).work(burst=True)
    took = time.monotonic() - started
    for job in jobs:
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED
        assert job.return_value() == "waited"
    assert len(list((tmp_path / "started").iterdir())) == 4
    # One after the other they would take 4 s.
    assert took < 3.0, f"4 jobs of 1 s on 4 threads took {took:.1f} s"


def test_a_retry_runs_again_and_a_final_failure_lands_in_the_failed_registry(
    redis: Redis[bytes], redis_url: str, tmp_path: Path
) -> None:
    queue = Queue(QUEUE_NAME, connection=redis)
    retried = queue.enqueue(fail_twice, str(tmp_path / "runs"), retry=Retry(max=2))
    failed = queue.enqueue(always_fails)
    threads(2, redis_url).work(burst=True)
    retried.refresh()
    failed.refresh()
    assert retried.get_status() == JobStatus.FINISHED
    assert retried.return_value() == "third time"
    assert (tmp_path / "runs").read_text() == "3"
    assert failed.get_status() == JobStatus.FAILED
    assert failed.id in FailedJobRegistry(QUEUE_NAME, connection=redis).get_job_ids()


def test_a_job_past_its_timeout_fails_and_its_thread_goes_on(
    redis: Redis[bytes], redis_url: str, tmp_path: Path
) -> None:
    queue = Queue(QUEUE_NAME, connection=redis)
    slow = queue.enqueue(sleep_long, job_timeout=1)
    after = queue.enqueue(wait_here, str(tmp_path), 0.0)
    started = time.monotonic()
    threads(1, redis_url).work(burst=True)
    assert time.monotonic() - started < 10
    slow.refresh()
    after.refresh()
    assert slow.get_status() == JobStatus.FAILED
    assert "JobTimeoutException" in (slow.latest_result().exc_string or "")  # type: ignore[union-attr]
    assert after.get_status() == JobStatus.FINISHED


def test_a_warm_stop_lets_jobs_under_way_finish_and_leaves_the_rest_queued(
    redis: Redis[bytes], redis_url: str, tmp_path: Path
) -> None:
    queue = Queue(QUEUE_NAME, connection=redis)
    running = [queue.enqueue(wait_here, str(tmp_path), 1.5) for _ in range(2)]
    worker = threads(2, redis_url)
    thread = threading.Thread(target=worker.work)
    thread.start()
    deadline = time.monotonic() + PATIENCE_SECONDS
    while len(list((tmp_path / "started").glob("*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    waiting = queue.enqueue(wait_here, str(tmp_path), 0.0)
    worker.stop()
    thread.join(PATIENCE_SECONDS)
    assert not thread.is_alive()
    for job in running:
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED
    waiting.refresh()
    assert waiting.get_status() == JobStatus.QUEUED


def test_an_idle_worker_stops_within_a_poll(redis_url: str) -> None:
    worker = threads(3, redis_url)
    thread = threading.Thread(target=worker.work)
    thread.start()
    time.sleep(1.5)
    stopping = time.monotonic()
    worker.stop()
    thread.join(PATIENCE_SECONDS)
    assert time.monotonic() - stopping < 3.5


def _start_cli_worker(tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REPLAYDESK_REDIS_URL": TEST_REDIS_URL,
        "REPLAYDESK_DATA_DIR": str(tmp_path / "data"),
        "REPLAYDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'replaydesk.db'}",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker", "--threads", "2", *extra],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=DIES_WITH_THE_TESTS,
    )


def test_sigterm_stops_the_cli_worker_after_its_job_and_a_second_one_at_once(
    redis: Redis[bytes], tmp_path: Path
) -> None:
    queue = Queue(QUEUE_NAME, connection=redis)
    first = queue.enqueue(wait_here, str(tmp_path / "one"), 2.0)
    process = _start_cli_worker(tmp_path)
    try:
        deadline = time.monotonic() + PATIENCE_SECONDS
        while not (tmp_path / "one" / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(PATIENCE_SECONDS) == 0
        first.refresh()
        assert first.get_status() == JobStatus.FINISHED

        second = queue.enqueue(wait_here, str(tmp_path / "two"), 20.0)
        process = _start_cli_worker(tmp_path)
        deadline = time.monotonic() + PATIENCE_SECONDS
        while not (tmp_path / "two" / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        time.sleep(1.2)
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(PATIENCE_SECONDS)
        assert time.monotonic() - stopping < 5
        assert not (tmp_path / "two" / "ended").exists()
        assert Job.fetch(second.id, connection=redis).get_status() != JobStatus.FINISHED
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
