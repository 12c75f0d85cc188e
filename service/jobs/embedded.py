"""Embedded mode: a private Redis next to the data dir and a worker thread inside the service."""

from __future__ import annotations

import ctypes
import hashlib
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.registry import FailedJobRegistry, StartedJobRegistry

from service.jobs.context import close_job_loop
from service.jobs.queue import QUEUE_NAME
from service.jobs.worker_threads import InProcessScheduler, ThreadWorker

__all__ = [
    "STOP_GRACE_SECONDS",
    "EmbeddedRedis",
    "EmbeddedWorker",
    "InProcessScheduler",
    "ThreadWorker",
    "death_signal_setter",
    "requeue_abandoned",
]

log = logging.getLogger(__name__)

# Unix socket paths are limited to 107 bytes; longer data-dir paths get a socket in /tmp.
_MAX_SOCKET_PATH = 100
_START_TIMEOUT_SECONDS = 10.0
# How often the embedded worker looks for new jobs when the queue was empty, and for delayed
# retries that are due.
_POLL_SECONDS = 0.5
# How long stopping the service waits for the job under way (SIGTERM to exit within 3 s).
STOP_GRACE_SECONDS = 2.0


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def death_signal_setter() -> Callable[[], None] | None:
    """A pre-exec hook that stops a child process when its parent dies (Linux only): the
    private Redis when the service dies, say.

    libc is looked up here, in the parent, so the child only makes one C call between fork
    and exec (Python code there can deadlock when other threads held locks at the fork).
    """
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return set_death_signal


class EmbeddedRedis:
    """A `redis-server` child on a unix socket, persisting its jobs in the data dir.

    Falls back to an in-memory fakeredis when no redis-server binary is installed.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        socket = data_dir / "redis.sock"
        if len(str(socket)) > _MAX_SOCKET_PATH:
            digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
            socket = Path(tempfile.gettempdir()) / f"replaydesk-{digest}.sock"
        self.socket = socket
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Redis[bytes]:
        """Connect to the data dir's Redis, starting it first if nobody has."""
        existing = self._connect()
        if existing is not None:
            return existing
        binary = shutil.which("redis-server")
        if binary is None:
            log.warning("redis-server not found; jobs queue in memory and do not survive a restart")
            import fakeredis

            return fakeredis.FakeRedis()
        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(mode=0o700, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self._process = subprocess.Popen(  # noqa: S603 - fixed arguments, binary from PATH
            [
                binary,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(redis_dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--logfile",
                str(redis_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=death_signal_setter(),
        )
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            connection = self._connect()
            if connection is not None:
                return connection
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"embedded redis-server did not start; see {redis_dir / 'redis.log'}")

    def join(self, timeout: float) -> Redis[bytes]:
        """Connect to the Redis another process started, waiting up to `timeout` seconds for
        it to answer; never start one. Raises `RuntimeError` when none answers."""
        deadline = time.monotonic() + timeout
        while True:
            connection = self._connect()
            if connection is not None:
                return connection
            if time.monotonic() >= deadline:
                raise RuntimeError(f"no embedded Redis answers on {self.socket}")
            time.sleep(0.05)

    def _connect(self) -> Redis[bytes] | None:
        if not self.socket.exists():
            return None
        connection = Redis(unix_socket_path=str(self.socket))
        try:
            connection.ping()
        except RedisConnectionError:
            return None
        return connection

    def stop(self) -> None:
        """Stop the child this object started (a Redis started by another process stays)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None


def requeue_abandoned(redis: Redis[bytes]) -> list[str]:
    """Put the jobs a stopped service left under way back at the front of the queue.

    Only for the embedded queue: one service serves a data dir (the data-dir lock), so a job
    still marked started when it starts was abandoned by the one before, which stopped while
    the job waited on a tracker. RQ would mark such a job failed only once its timeout passed.
    """
    queue = Queue(QUEUE_NAME, connection=redis)
    started = StartedJobRegistry(queue=queue)
    abandoned = started.get_job_ids(cleanup=False)
    if not abandoned:
        return []
    # Every entry counts as expired: RQ moves them to the failed registry, whence they requeue.
    started.cleanup(timestamp=float("inf"))
    failed = FailedJobRegistry(queue=queue)
    requeued: list[str] = []
    for job_id in abandoned:
        try:
            failed.requeue(job_id, at_front=True)
        except (NoSuchJobError, InvalidJobOperation):
            continue  # gone meanwhile (expired, or requeued by someone else)
        requeued.append(job_id)
    return requeued


class EmbeddedWorker:
    """Runs queued jobs, and delayed retries when they are due, in a daemon thread."""

    def __init__(self, redis: Redis[bytes]) -> None:
        self.redis = redis
        self.scheduler = InProcessScheduler(redis)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replaydesk-worker", daemon=True)
        self._current: ThreadWorker | None = None

    def start(self) -> None:
        """Start working the queue in the background."""
        self._thread.start()

    def stop(self, timeout: float = STOP_GRACE_SECONDS) -> None:
        """Take no more jobs; give the job under way `timeout` seconds to finish.

        A job still running then (a tracker that takes long to answer) is left: the process
        ends, and the next start puts it back in the queue (`requeue_abandoned`). Its attempt
        was recorded as one that may have written, so it looks before it writes again.
        """
        self._stop.set()
        current = self._current
        if current is not None:
            current.stop_after_this_job()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("a job was still running; it runs again when the service starts")
        self.scheduler.release()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scheduler.tick()
                # A job's description is its call, arguments (session IDs) included.
                worker = ThreadWorker(
                    [QUEUE_NAME], connection=self.redis, log_job_description=False
                )
                self._current = worker
                # `stop` sets the event before it looks for the current worker.
                if self._stop.is_set():
                    break
                worker.work(burst=True, logging_level="WARNING")
            except Exception:
                log.exception("embedded worker failed; retrying")
            finally:
                self._current = None
            self._stop.wait(_POLL_SECONDS)
        try:
            close_job_loop()
        except Exception:
            log.exception("could not close the embedded worker's database connections")
