"""Embedded mode across a stop: SIGTERM ends the service within seconds although a job waits on a
slow tracker, and the job runs again after the restart without writing twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec

from bench.ingest_server import BENCH_API_KEY, BENCH_INGEST_KEY
from bench.server_process import ROOT
from bench.ticket_server import BENCH_VENDOR_TOKEN
from service.plugin_testing import Fault
from tests.conftest import TEST_REDIS_URL
from tests.processes import DIES_WITH_THE_TESTS, free_port
from tests.recordings import BASE_TS, batch, checkout_events

# What the issue promises: SIGTERM to exit within 3 s.
STOP_SECONDS = 3.0
PATIENCE_SECONDS = 60.0
# The tracker takes this long to answer the note: longer than the service waits when stopping.
SLOW_TRACKER_SECONDS = 4.0


@contextmanager
def embedded_service(data_dir: Path, database_url: str, vendor_url: str) -> Iterator[Any]:
    """`serve` on embedded defaults with the Taskboard example, as a process of its own."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.ticket_server",
            "serve",
            "--embedded",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--database-url",
            database_url,
            "--redis-url",
            TEST_REDIS_URL,
            "--vendor-url",
            vendor_url,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=DIES_WITH_THE_TESTS,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10)
    try:
        deadline = time.monotonic() + PATIENCE_SECONDS
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        process.client = client  # type: ignore[attr-defined]
        yield process
    finally:
        client.close()
        if process.poll() is None:
            process.kill()
            process.wait(10)


def wait_until(check: Any, what: str) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"no {what} in {PATIENCE_SECONDS:g} s"
        time.sleep(0.05)


def test_a_job_under_way_at_sigterm_runs_again_after_the_restart_and_writes_once(
    tmp_path: Path, database_url: str, taskboard: Any
) -> None:
    data_dir = tmp_path / "data"
    api = {"Authorization": f"Bearer {BENCH_API_KEY}"}
    taskboard.token = BENCH_VENDOR_TOKEN  # the token bench.ticket_server configures
    taskboard.fail_next(Fault.slow(SLOW_TRACKER_SECONDS), method="POST")
    with embedded_service(data_dir, database_url, taskboard.url) as service:
        body = batch("sess-restart-1", 0, checkout_events(BASE_TS), user_id="u42")
        ingested = service.client.post(
            "/api/v1/ingest",
            content=msgspec.json.encode(body),
            headers={"X-ReplayDesk-Key": BENCH_INGEST_KEY},
        )
        assert ingested.status_code == 202, ingested.text
        accepted = service.client.post(
            "/api/v1/tickets/attach",
            json={"provider": "taskboard", "ticket_id": "T-r1", "user_id": "u42"},
            headers=api,
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        wait_until(lambda: taskboard.posts == 1, "note sent to the tracker")

        stopping_at = time.monotonic()
        service.send_signal(signal.SIGTERM)
        service.wait(PATIENCE_SECONDS)
        stopped_in = time.monotonic() - stopping_at
    assert stopped_in < STOP_SECONDS, f"the service took {stopped_in:.1f} s to stop"

    # The tracker wrote the note although nobody was left to hear its answer.
    wait_until(lambda: len(taskboard.comments_on("T-r1")) == 1, "note written by the tracker")
    with embedded_service(data_dir, database_url, taskboard.url) as service:
        state: dict[str, Any] = {}

        def finished() -> bool:
            state.update(service.client.get(f"/api/v1/jobs/{job_id}", headers=api).json())
            return state["state"] in ("finished", "failed")

        wait_until(finished, "end of the job after the restart")
    assert state["state"] == "finished", state
    # The job ran again, looked (its attempt may have written), found the note, wrote nothing.
    assert state["result"]["remote"]["remote_id"] == "c1", state
    assert [r.method for r in taskboard.requests] == ["POST", "GET"]
    assert len(taskboard.comments_on("T-r1")) == 1
