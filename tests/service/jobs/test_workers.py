"""The workers `replaydesk worker` runs: both stop promptly, the in-process one keeps its
connections from one job to the next."""

from __future__ import annotations

import os
import time
from pathlib import Path

import msgspec
import pytest
from redis import Redis
from rq import Queue

from service.jobs.context import JobContext, close_job_loop, run_job
from service.jobs.queue import QUEUE_NAME
from service.jobs.workers import ForkingWorker, InProcessWorker
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.settings import Settings

# A worker with nothing (left) to do exits at once; 60 s was RQ's command-channel read.
PROMPT_SECONDS = 3.0


def leave_file(path: str) -> None:
    """A job that leaves a file behind, naming the process that ran it."""
    Path(path).write_text(str(os.getpid()))


@pytest.mark.parametrize("kind", [ForkingWorker, InProcessWorker])
def test_a_burst_worker_runs_the_queue_and_exits_promptly(
    kind: type[ForkingWorker], redis_url: str, tmp_path: Path
) -> None:
    redis = Redis.from_url(redis_url)
    Queue(QUEUE_NAME, connection=redis).enqueue(leave_file, str(tmp_path / "done"))
    started = time.monotonic()
    kind([QUEUE_NAME], connection=redis).work(
        burst=True, with_scheduler=True, logging_level="WARNING"
    )
    took = time.monotonic() - started
    redis.close()
    ran_in = int((tmp_path / "done").read_text())
    assert (ran_in == os.getpid()) == (kind is InProcessWorker)
    assert took < PROMPT_SECONDS, f"{kind.__name__} took {took:.1f} s to drain and exit"


def test_jobs_on_one_thread_share_their_engine_until_the_settings_change(
    settings: Settings, tmp_path: Path
) -> None:
    plugins = PluginHost(build_plugin_manager(settings), {})
    engines: list[object] = []

    async def note_engine(context: JobContext) -> None:
        await context.store.ping()
        engines.append(context.engine)

    try:
        run_job(settings, plugins, False, note_engine)
        run_job(settings, plugins, True, note_engine)
        other = msgspec.structs.replace(settings, data_dir=tmp_path / "other")
        run_job(other, plugins, False, note_engine)
    finally:
        close_job_loop()
    assert engines[0] is engines[1]
    assert engines[2] is not engines[0]
