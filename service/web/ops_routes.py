"""Liveness and metrics for operators and load balancers."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get

from service.auth.guards import services_of

__all__ = ["health", "metrics"]

# A dependency that takes longer than this counts as down: a health probe must answer quickly.
CHECK_TIMEOUT_SECONDS = 3.0


@get("/health", summary="Liveness and dependency checks", include_in_schema=True)
async def health(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """200 when the database, blob store and queue answer; 503 naming what does not."""
    services = services_of(request)
    checks = {
        "database": services.store.ping(),
        "blob_store": services.blobs.check(),
        "queue": asyncio.to_thread(services.queue.ping),
    }
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"down: {type(exc).__name__}"
    healthy = all(value == "ok" for value in results.values())
    return Response(
        {"status": "ok" if healthy else "degraded", "checks": results},
        status_code=200 if healthy else 503,
    )


@get("/metrics", summary="Prometheus metrics", include_in_schema=True)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Counters and histograms in the Prometheus text format."""
    body = await asyncio.to_thread(services_of(request).metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
