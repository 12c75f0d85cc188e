"""The processing workers of one service process: separate processes, one per core by default.

The serving process starts them (multiprocessing, spawn), wakes them through a pipe each when
it has queued batches, and starts one again when it dies; rows a dead worker had taken are in
the inbox still, and its successor takes them. A worker stops when it is told to (SIGTERM) or
when the serving process is gone (its pipe closes; on Linux it also gets SIGTERM then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
from multiprocessing.process import BaseProcess
from typing import Any

from service import log_redaction
from service.background_tasks import stop_task
from service.ingest.body import IngestLimits, allow_deep_nesting
from service.ingest.chunk_mover import ChunkMover
from service.ingest.processing import InboxProcessor
from service.jobs.embedded import death_signal_setter
from service.live.feed import LiveFeed, open_live_redis
from service.sessions.erasure import ErasureKeys
from service.settings import Settings
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine
from service.storage.session_store import SessionStore

__all__ = ["ProcessingPool", "run_processing_worker"]

log = logging.getLogger(__name__)

# How often the pool looks for workers that died.
SUPERVISE_SECONDS = 1.0
# How long a stopping worker may take to finish its page and move its chunks.
STOP_SECONDS = 15.0
# How long the service waits at start for its workers to be ready (imported, connected): a
# batch acknowledged at once after a start is then stored as soon as any other.
READY_SECONDS = 60.0


class ProcessingPool:
    """Starts, wakes, watches and stops `count` processing worker processes."""

    def __init__(self, settings: Settings, count: int) -> None:
        self._settings = settings
        self._count = count
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess | None] = [None] * count
        self._wake_ends: list[multiprocessing.connection.Connection | None] = [None] * count
        self._ready = [self._context.Event() for _ in range(count)]
        self._supervisor: asyncio.Task[None] | None = None
        self.restarts = 0

    @property
    def count(self) -> int:
        """How many workers the pool keeps running."""
        return self._count

    def pids(self) -> list[int]:
        """The workers' process ids (of those running)."""
        return [p.pid for p in self._processes if p is not None and p.pid is not None]

    def start(self) -> None:
        """Start every worker, and the task that starts a dead one again."""
        for index in range(self._count):
            self._start(index)
        self._supervisor = asyncio.create_task(self._supervise(), name="replaydesk-processing")

    async def ready(self) -> bool:
        """Wait until every worker has started and is ready to take batches (False when one was
        not within `READY_SECONDS`: batches wait in the inbox for it meanwhile)."""

        def wait_all() -> bool:
            return all(event.wait(READY_SECONDS) for event in self._ready)

        return await asyncio.to_thread(wait_all)

    def wake(self) -> None:
        """Tell every worker that batches are queued (never blocks)."""
        for end in self._wake_ends:
            if end is None:
                continue
            with contextlib.suppress(BlockingIOError, BrokenPipeError, OSError):
                # A full pipe already holds wake-ups enough.
                os.write(end.fileno(), b"w")

    async def close(self) -> None:
        """Stop every worker: each finishes its page and moves its journaled chunks."""
        await stop_task(self._supervisor)
        self._supervisor = None
        running = [p for p in self._processes if p is not None]
        for process in running:
            with contextlib.suppress(Exception):
                process.terminate()  # SIGTERM: the worker stops after its page
        await asyncio.to_thread(_join_all, running, STOP_SECONDS)
        for end in self._wake_ends:
            if end is not None:
                end.close()
        self._processes = [None] * self._count
        self._wake_ends = [None] * self._count

    def _start(self, index: int) -> None:
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run_processing_worker,
            args=(self._settings, index, self._count, reader, self._ready[index]),
            name=f"replaydesk-processing-{index}",
            daemon=True,
        )
        process.start()
        reader.close()
        os.set_blocking(writer.fileno(), False)
        old = self._wake_ends[index]
        if old is not None:
            old.close()
        self._processes[index] = process
        self._wake_ends[index] = writer

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(SUPERVISE_SECONDS)
            for index, process in enumerate(self._processes):
                if process is None or process.is_alive():
                    continue
                log.warning(
                    "processing worker %d stopped (exit code %s); starting it again",
                    index,
                    process.exitcode,
                )
                self.restarts += 1
                self._start(index)
                # Whatever it had taken waits in the inbox: its successor starts with it.
                self.wake()


def _join_all(processes: list[BaseProcess], timeout: float) -> None:
    for process in processes:
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(1.0)


def run_processing_worker(
    settings: Settings,
    worker: int,
    workers: int,
    wake: multiprocessing.connection.Connection,
    ready: Any = None,
) -> None:
    """The body of one processing worker process; it sets `ready` (an Event) once it takes
    batches."""
    set_death_signal = death_signal_setter()
    if set_death_signal is not None:
        set_death_signal()
    log_redaction.install()
    allow_deep_nesting()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_work(settings, worker, workers, wake, ready))
    except KeyboardInterrupt:
        pass


async def _work(
    settings: Settings,
    worker: int,
    workers: int,
    wake_end: multiprocessing.connection.Connection,
    ready: Any,
) -> None:
    from service.ingest.signals import environment as user_agents

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    wake = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    fd = wake_end.fileno()
    os.set_blocking(fd, False)

    def woken() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        if not data:
            # The serving process is gone.
            loop.remove_reader(fd)
            stop.set()
            return
        wake.set()

    loop.add_reader(fd, woken)
    user_agents.warm_up()
    engine = create_engine(settings.database_url)
    store = SessionStore(engine)
    blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.blob_options)
    mover = ChunkMover(store, blobs)
    mover.start()
    live = LiveFeed(open_live_redis(settings), settings.secret_key)
    processor = InboxProcessor(
        store,
        blobs,
        ErasureKeys(settings.secret_key),
        IngestLimits(
            max_body_bytes=settings.max_body_bytes,
            max_decompressed_bytes=settings.max_decompressed_bytes,
        ),
        mover,
        worker,
        workers,
        live,
    )
    if ready is not None:
        ready.set()
    try:
        await processor.run(stop, wake)
    finally:
        await processor.close()
        await mover.close()
        await live.close()
        store.dispose()
        await engine.dispose()
