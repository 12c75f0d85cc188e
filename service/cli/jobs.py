"""The `replaydesk jobs` command: failed jobs with their errors, and requeueing them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from redis import Redis

from service.clock import now_ms
from service.data_dir_lock import DataDirBusy, DataDirLock, acquire_data_dir_lock
from service.jobs.failed_jobs import list_failed_jobs, requeue_failed_jobs
from service.jobs.queue import JobQueue
from service.settings import Settings
from service.storage.database import create_engine
from service.storage.ticket_store import TicketStore

__all__ = ["QueueUnavailable", "jobs_command", "list_jobs", "requeue", "requeue_command"]

# How long a command waits for another command to let the data dir go, or for the Redis of a
# serve that holds it (one just started may still be starting its Redis).
_WAIT_SECONDS = 10.0


class QueueUnavailable(Exception):
    """The data dir's queue cannot be reached right now."""


@contextlib.contextmanager
def _redis(settings: Settings) -> Iterator[Redis[bytes]]:
    """The configured Redis, or the data dir's embedded one.

    The embedded Redis belongs to the process holding the data dir's lock. With a serve
    running, that is the serve: the command joins its Redis and leaves it alone. Otherwise the
    command takes the lock and starts the Redis for its own length, so that a serve starting
    meanwhile is refused rather than joining a Redis about to stop.
    """
    if settings.redis_url:
        redis: Redis[bytes] = Redis.from_url(settings.redis_url)
        try:
            yield redis
        finally:
            redis.close()
        return
    from service.jobs.embedded import EmbeddedRedis

    embedded = EmbeddedRedis(settings.data_dir)
    try:
        lock = _lock_unless_served(settings.data_dir)
    except DataDirBusy as busy:
        if busy.command != "serve":
            raise QueueUnavailable(str(busy)) from None
        try:
            joined = embedded.join(timeout=_WAIT_SECONDS)
        except RuntimeError:
            raise QueueUnavailable(f"{busy}; its job queue does not answer") from None
        try:
            yield joined
        finally:
            joined.close()
        return
    try:
        yield embedded.start()
    finally:
        embedded.stop()
        if lock is not None:
            lock.release()


def _lock_unless_served(data_dir: Path) -> DataDirLock | None:
    """The data dir's lock for this command; raises `DataDirBusy` while a serve holds it.

    Another command's hold is waited out (it lasts seconds), so that two commands never share
    a Redis that one of them is about to stop.
    """
    deadline = time.monotonic() + _WAIT_SECONDS
    while True:
        try:
            return acquire_data_dir_lock(data_dir, command="jobs")
        except DataDirBusy as busy:
            if busy.command == "serve" or time.monotonic() >= deadline:
                raise
        time.sleep(0.1)


def jobs_command(settings: Settings, echo: Callable[[str], object] = print) -> int:
    """List failed jobs (newest first) and how many wait in the queue."""
    with _redis(settings) as redis:
        failed = list_failed_jobs(redis)
        waiting = JobQueue(redis).depth()
    echo(f"{waiting} job(s) queued, {len(failed)} failed")
    for job in failed:
        ended = f"{job.ended_at:%Y-%m-%d %H:%M} UTC" if job.ended_at else "-"
        echo(f"{job.job_id}  {job.function}  failed {ended}")
        echo(f"  {job.error or '(no error recorded)'}")
    if failed:
        echo("requeue with `replaydesk jobs requeue JOB_ID...` or `replaydesk jobs requeue --all`")
    return 0


def requeue_command(
    settings: Settings, job_ids: Sequence[str], everything: bool, echo: Callable[[str], object]
) -> int:
    """Requeue failed jobs (by id, or all); attach jobs become pending again in the database."""
    with _redis(settings) as redis:
        wanted = [job.job_id for job in list_failed_jobs(redis)] if everything else job_ids
        requeued = requeue_failed_jobs(redis, wanted)

    async def reopen() -> None:
        engine = create_engine(settings.database_url)
        try:
            attach = [job_id for job_id in requeued if job_id.startswith("attach-")]
            await TicketStore(engine).reopen(attach, now_ms())
        finally:
            await engine.dispose()

    asyncio.run(reopen())
    if everything and not wanted:
        echo("no failed jobs to requeue")
    for job_id in requeued:
        echo(f"requeued {job_id}")
    missing = sorted(set(wanted) - set(requeued))
    for job_id in missing:
        echo(f"not a failed job: {job_id}")
    return 1 if missing else 0


def list_jobs(settings: Settings, _: argparse.Namespace) -> int:
    """`replaydesk jobs [list]`."""
    return _on_the_queue(lambda: jobs_command(settings))


def requeue(settings: Settings, args: argparse.Namespace) -> int:
    """`replaydesk jobs requeue JOB_ID... | --all`."""
    if not args.job_ids and not args.all:
        print("replaydesk: name the jobs to requeue, or --all", file=sys.stderr)
        return 2
    return _on_the_queue(lambda: requeue_command(settings, args.job_ids, args.all, print))


def _on_the_queue(command: Callable[[], int]) -> int:
    """Run a `replaydesk jobs` command; a queue it cannot reach is an error message, exit 1."""
    try:
        return command()
    except QueueUnavailable as exc:
        print(f"replaydesk: {exc}", file=sys.stderr)
        return 1
