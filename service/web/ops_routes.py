"""Liveness and metrics for operators and load balancers."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from litestar import Request, Response, get

from service.auth.guards import services_of

__all__ = ["health", "metrics"]

# A dependency that takes longer than this counts as down: a health probe must answer quickly.
CHECK_TIMEOUT_SECONDS = 3.0
# Probes come often and from several balancers: the chunk journal is counted at most this often.
_RECOUNT_SECONDS = 1.0


@get("/health", summary="Liveness and dependency checks", include_in_schema=True)
async def health(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """200 when the database, blob store and queue answer; 503 naming what does not.

    Also reports the chunk mover: `checks.chunk_mover` is "ok", or says whether its last move
    failed, whether the oldest waiting chunk is older than a minute, and how many chunks are
    quarantined; `chunks` gives the figures. A mover in trouble makes the status "degraded"
    but keeps the code 200 (see below).
    """
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
    dependencies_up = all(value == "ok" for value in results.values())
    mover = services.ingestor.mover
    if results["database"] == "ok":
        with contextlib.suppress(Exception):  # the figures of the last count stay
            await asyncio.wait_for(mover.refresh(_RECOUNT_SECONDS), CHECK_TIMEOUT_SECONDS)
    problems = mover.problems()
    results["chunk_mover"] = "; ".join(problems) if problems else "ok"
    # A load balancer takes 503 for "take this instance out". A dependency that does not
    # answer is this instance's trouble; the chunk mover's is not: the journal and the blob
    # store are shared, every instance would say the same, and taking them all out would stop
    # ingest, which still works (chunks wait in the database, and ingest answers 503 itself
    # past its backlog limit). So the mover makes the status "degraded" with a 200.
    return Response(
        {
            "status": "ok" if dependencies_up and not problems else "degraded",
            "checks": results,
            "chunks": {
                "waiting": mover.waiting,
                "quarantined": mover.quarantined,
                "oldest_waiting_seconds": round(mover.oldest_waiting_seconds(), 3),
            },
        },
        status_code=200 if dependencies_up else 503,
    )


@get("/metrics", summary="Prometheus metrics", include_in_schema=True)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Counters and histograms in the Prometheus text format."""
    services = services_of(request)
    # The chunk figures come from the database: counted again for each scrape (scrapes are
    # far apart), so that an erasure shows at once; when the database does not answer, the
    # last count.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(services.ingestor.mover.refresh(), CHECK_TIMEOUT_SECONDS)
    body = await asyncio.to_thread(services.metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
