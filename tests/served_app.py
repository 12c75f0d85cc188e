"""The app under uvicorn on a free loopback port, on the test's own event loop: for tests that
need a real HTTP server (long responses, uvicorn's own logging)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn

from service.cli.serve import UVICORN_OPTIONS
from service.settings import Settings
from service.web.app import create_app


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    """Serve an app of these settings; its base URL. The app is built before the caller's body
    runs: Litestar and uvicorn set up their loggers when created."""
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, **UVICORN_OPTIONS)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
