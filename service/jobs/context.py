"""What a job works with: its own engine (on the job's event loop) and what is built on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from service.plugin_host.host import PluginHost
from service.sessions.reader import SessionReader
from service.settings import Settings
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine
from service.storage.session_store import SessionStore
from service.storage.ticket_store import TicketStore
from service.viewer.tokens import ViewerTokens

__all__ = ["JobContext", "in_context"]

T = TypeVar("T")


class JobContext:
    """Stores, session reader, plugins and tokens of one job run; whether it is the last try."""

    def __init__(
        self, settings: Settings, plugins: PluginHost, engine: AsyncEngine, final_attempt: bool
    ) -> None:
        self.settings = settings
        self.plugins = plugins
        self.engine = engine
        self.final_attempt = final_attempt
        self.store = SessionStore(engine)
        self.ticket_store = TicketStore(engine)
        self.blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.blob_options)
        self.reader = SessionReader(self.store, self.blobs, settings.session_idle_timeout_seconds)
        self.tokens = ViewerTokens(settings.secret_key, settings.public_url)


async def in_context(
    settings: Settings,
    plugins: PluginHost,
    final_attempt: bool,
    work: Callable[[JobContext], Awaitable[T]],
) -> T:
    """Run `work` with a context on an engine of its own (this event loop's), then close it
    and the connections its store opened beside it."""
    engine = create_engine(settings.database_url)
    try:
        context = JobContext(settings, plugins, engine, final_attempt)
        try:
            return await work(context)
        finally:
            context.store.dispose()
    finally:
        await engine.dispose()
