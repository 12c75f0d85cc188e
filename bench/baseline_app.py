"""The ingest baseline: a bare Litestar app that appends each body to a file and answers 202."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, Request, get, post

__all__ = ["BaselineAck", "create_baseline_app"]

INGEST_PATH = "/api/v1/ingest"
MAX_BODY_BYTES = 8 * 1024 * 1024


class BaselineAck(msgspec.Struct, frozen=True, kw_only=True):
    """The same shape of answer ReplayDesk gives, so both responses cost the same to send."""

    session_id: str
    seq: int
    status: str


def create_baseline_app(path: Path) -> Litestar:
    """An app whose ingest endpoint reads the body, appends it to `path` and says 202."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        with path.open("ab") as sink:
            app.state.sink = sink
            yield

    @post(INGEST_PATH, status_code=202)
    async def ingest(request: Request[Any, Any, Any]) -> BaselineAck:
        body = await request.body()
        request.app.state.sink.write(body)
        return BaselineAck(session_id="-", seq=0, status="accepted")

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(
        route_handlers=[ingest, health],
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
        debug=False,
    )
