"""What a job works with: an engine on the job's event loop, and what is built on it.

A worker thread runs its jobs on one event loop of its own and keeps the engine (and the stores,
blob store and token signer built on it) from one job to the next: opening them cost more than
a whole attach job's own work. A forking worker's work horse starts with none and exits after
its job; a non-forking worker and the embedded worker thread reuse them for every job.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from service.plugin_host.host import PluginHost
from service.sessions.reader import SessionReader
from service.settings import Settings
from service.storage.blobs import BlobStore, open_blob_store
from service.storage.database import create_engine
from service.storage.session_store import SessionStore
from service.storage.ticket_store import TicketStore
from service.viewer.tokens import ViewerTokens

__all__ = ["JobContext", "close_job_loop", "in_context", "run_job"]

T = TypeVar("T")


class _Resources:
    """The engine and what is built on it, for one set of settings on one event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings.database_url)
        self.store = SessionStore(self.engine)
        self.ticket_store = TicketStore(self.engine)
        self.blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.blob_options)
        self.reader = SessionReader(self.store, self.blobs, settings.session_idle_timeout_seconds)
        self.tokens = ViewerTokens(settings.secret_key, settings.public_url)

    async def close(self) -> None:
        self.store.dispose()
        await self.engine.dispose()


class JobContext:
    """Stores, session reader, plugins and tokens of one job run; whether it is the last try."""

    def __init__(self, resources: _Resources, plugins: PluginHost, final_attempt: bool) -> None:
        self.settings: Settings = resources.settings
        self.plugins = plugins
        self.final_attempt = final_attempt
        self.engine: AsyncEngine = resources.engine
        self.store: SessionStore = resources.store
        self.ticket_store: TicketStore = resources.ticket_store
        self.blobs: BlobStore = resources.blobs
        self.reader: SessionReader = resources.reader
        self.tokens: ViewerTokens = resources.tokens


class _JobLoop(threading.local):
    """Per thread: the event loop its jobs run on, and the resources kept on it."""

    def __init__(self) -> None:
        self.runner: asyncio.Runner | None = None
        self.resources: _Resources | None = None


_LOOP = _JobLoop()


async def _kept_resources(settings: Settings) -> _Resources:
    kept = _LOOP.resources
    if kept is not None and kept.settings == settings:
        return kept
    if kept is not None:
        # Other settings (a test's own database, say): what was kept serves no one any more.
        await kept.close()
    _LOOP.resources = _Resources(settings)
    return _LOOP.resources


def run_job(
    settings: Settings,
    plugins: PluginHost,
    final_attempt: bool,
    work: Callable[[JobContext], Awaitable[T]],
) -> T:
    """Run `work` on this thread's job loop, with the resources kept there from earlier jobs."""

    async def with_context() -> T:
        resources = await _kept_resources(settings)
        return await work(JobContext(resources, plugins, final_attempt))

    if _LOOP.runner is None:
        _LOOP.runner = asyncio.Runner()
    return _LOOP.runner.run(with_context())


def close_job_loop() -> None:
    """Close what this thread's jobs kept open: call it from the thread that ran them."""
    runner, resources = _LOOP.runner, _LOOP.resources
    _LOOP.runner, _LOOP.resources = None, None
    if runner is None:
        return
    if resources is not None:
        runner.run(resources.close())
    runner.close()


async def in_context(
    settings: Settings,
    plugins: PluginHost,
    final_attempt: bool,
    work: Callable[[JobContext], Awaitable[T]],
) -> T:
    """Run `work` on the caller's event loop with resources of its own, closed afterwards (a
    command run once, such as `replaydesk issue`)."""
    resources = _Resources(settings)
    try:
        return await work(JobContext(resources, plugins, final_attempt))
    finally:
        await resources.close()
