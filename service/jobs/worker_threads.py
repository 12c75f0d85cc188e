"""RQ workers that run on threads other than the main one: the embedded worker of `serve`, and
`replaydesk worker --threads N`, which runs N jobs at a time in one process.

Signal handlers can only be set, and job timeouts only raised by a signal, in the main thread:
these workers set none and time jobs out with a timer instead (`TimerDeathPenalty`, which
raises in the job's thread when it next runs Python code). Delayed retries are moved by
`InProcessScheduler`, ticked from the thread that owns the workers, since a scheduler forked
from a process with threads could inherit a lock some other thread held.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from redis import Redis
from rq import SimpleWorker
from rq.exceptions import StopRequested
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

from service.jobs.context import close_job_loop
from service.jobs.queue import QUEUE_NAME
from service.jobs.workers import QuickToStop

__all__ = ["InProcessScheduler", "ListeningThreadWorker", "ThreadWorker", "WorkerThreads"]

log = logging.getLogger(__name__)

# The scheduler lock lives 61 s (RQ: interval + 60); refreshing it every 10 s keeps it.
_SCHEDULER_HEARTBEAT_SECONDS = 10.0
# How long an idle thread worker waits for a job before it looks whether it should stop, and
# how often `WorkerThreads` moves delayed retries that are due.
POLL_SECONDS = 1


class ThreadWorker(SimpleWorker):
    """A worker that runs jobs in a thread other than the main one (no signal handlers).

    It does not listen on RQ's command channel: the embedded worker lives inside the service,
    which stops it directly. Each burst would otherwise start a pub/sub thread blocked in a read
    of up to 60 s, and with redis-py 8 its teardown waits for that read to end.
    """

    # Signals can only be handled in the main thread; timeouts use a timer instead.
    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        return None

    def subscribe(self) -> None:
        return None

    def stop_after_this_job(self) -> None:
        """Take no job after the one under way (RQ looks between jobs)."""
        self._stop_requested = True


class ListeningThreadWorker(QuickToStop, ThreadWorker):
    """One of `WorkerThreads`' workers: listens on the command channel (a shutdown command
    signals the process, whose main thread stops every worker) and, idle, looks every
    `POLL_SECONDS` whether it was asked to stop."""

    def stop(self) -> None:
        """Stop after the job under way, or within `POLL_SECONDS` when idle (a warm stop)."""
        self._stop_requested = True

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> Any:
        if timeout is None:
            # A burst: RQ's one look at the queue, which returns at once.
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while not self._stop_requested:
            # With an idle time as short as the wait, RQ gives up after one wait.
            found = super().dequeue_job_and_maintain_ttl(POLL_SECONDS, POLL_SECONDS)
            if found is not None:
                return found
        raise StopRequested


class InProcessScheduler(RQScheduler):
    """RQ's scheduler, driven from a thread of this process instead of a forked child.

    A fork would not share an in-memory fakeredis, and a process with threads should not fork.
    The scheduler lock still makes only one process (this one, or another `replaydesk worker`)
    move due jobs at a time.
    """

    def __init__(self, redis: Redis[bytes]) -> None:
        super().__init__([QUEUE_NAME], connection=redis, logging_level="WARNING")
        self._redis = redis
        self._last_heartbeat = 0.0

    @property
    def connection(self) -> Redis[bytes]:
        return self._redis

    def tick(self) -> None:
        """Hold the lock and enqueue scheduled jobs (delayed retries) that are due."""
        if self.should_reacquire_locks:
            self.acquire_locks()  # type: ignore[no-untyped-call]
        if not self.acquired_locks:
            return
        if time.monotonic() - self._last_heartbeat > _SCHEDULER_HEARTBEAT_SECONDS:
            self.heartbeat()  # type: ignore[no-untyped-call]
            self._last_heartbeat = time.monotonic()
        self.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]

    def release(self) -> None:
        """Give the lock up for another process to take (it expires by itself otherwise)."""
        try:
            self.release_locks()  # type: ignore[no-untyped-call]
        except Exception as exc:
            log.warning("could not release the scheduler lock (%s); it expires by itself", exc)


class WorkerThreads:
    """`replaydesk worker --threads N`: N RQ workers, each on a thread of its own with its own
    Redis connection and job loop (`service/jobs/context.py`), so up to N jobs run at once.

    Each is a whole RQ worker: it registers, heartbeats, moves its job through the registries,
    retries, fails and times out jobs as any other does. The main thread moves delayed retries
    and takes the signals: SIGINT or SIGTERM stops every worker after its current job (a warm
    stop), a second one exits at once (a cold stop: jobs under way are left to RQ's clean-up
    of abandoned jobs, as with a killed worker).
    """

    def __init__(
        self, count: int, connect: Callable[[], Redis[bytes]], log_job_description: bool = False
    ) -> None:
        if count < 1:
            raise ValueError("a worker needs at least one thread")
        self.workers = [
            ListeningThreadWorker(
                [QUEUE_NAME], connection=connect(), log_job_description=log_job_description
            )
            for _ in range(count)
        ]
        self._scheduler_connection = connect()
        self._stopping = False

    def stop(self) -> None:
        """A warm stop of every worker (callable from any thread)."""
        self._stopping = True
        for worker in self.workers:
            worker.stop()

    def work(
        self, burst: bool = False, with_scheduler: bool = True, logging_level: str | None = None
    ) -> None:
        """Run until stopped, or with `burst` until the queue is empty."""
        scheduler = InProcessScheduler(self._scheduler_connection) if with_scheduler else None
        threads = [
            threading.Thread(
                target=self._run,
                args=(worker, burst, logging_level),
                name=f"replaydesk-worker-{number}",
                daemon=True,
            )
            for number, worker in enumerate(self.workers)
        ]
        restore = self._take_signals()
        try:
            if scheduler is not None:
                scheduler.tick()
            for thread in threads:
                thread.start()
            while alive := [thread for thread in threads if thread.is_alive()]:
                if scheduler is not None and not self._stopping:
                    scheduler.tick()
                alive[0].join(POLL_SECONDS)
        finally:
            restore()
            if scheduler is not None:
                scheduler.release()

    @staticmethod
    def _run(worker: ListeningThreadWorker, burst: bool, logging_level: str | None) -> None:
        try:
            worker.work(burst=burst, logging_level=logging_level)
        finally:
            try:
                close_job_loop()
            except Exception:
                log.exception("could not close a worker thread's database connections")

    def _take_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def warm(signum: int, _frame: FrameType | None) -> None:
            log.info("stopping after the jobs under way (%s again stops at once)", signum)
            self.stop()
            signal.signal(signal.SIGINT, cold)
            signal.signal(signal.SIGTERM, cold)

        def cold(_signum: int, _frame: FrameType | None) -> None:
            log.warning("cold stop: jobs under way are abandoned")
            raise SystemExit(1)

        before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
        for number in before:
            signal.signal(number, warm)

        def restore() -> None:
            for number, handler in before.items():
                signal.signal(number, handler)

        return restore
