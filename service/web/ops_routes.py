"""Liveness and metrics for operators and load balancers."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from litestar import Request, Response, get

from service.auth.guards import services_of
from service.clock import now_ms
from service.storage.inbox_store import InboxBacklog

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
    quarantined; `chunks` gives the figures. With processing workers, `checks.processing` and
    `inbox` do the same for the batches acknowledged and not yet processed (waiting, stuck
    after failing five times, the oldest's age). Either in trouble makes the status "degraded"
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
    inbox = services.ingestor.inbox
    queued: dict[str, Any] = {}
    if inbox is not None:
        if results["database"] == "ok":
            with contextlib.suppress(Exception):  # the figures of the last count stay
                await asyncio.wait_for(inbox.refresh(), CHECK_TIMEOUT_SECONDS)
        queued = _inbox_figures(inbox.backlog)
        processing = _processing_problems(inbox.backlog)
        results["processing"] = "; ".join(processing) if processing else "ok"
        problems = [*problems, *processing]
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
            **({"inbox": queued} if queued else {}),
        },
        status_code=200 if dependencies_up else 503,
    )


# Batches acknowledged this long ago and still not processed mean the workers do not keep up.
_INBOX_LATE_SECONDS = 60.0


def _inbox_figures(backlog: InboxBacklog) -> dict[str, Any]:
    oldest = backlog.oldest_received_at
    return {
        "waiting": backlog.waiting,
        "stuck": backlog.stuck,
        "oldest_waiting_seconds": 0
        if oldest is None
        else round(max(0, now_ms() - oldest) / 1000, 3),
    }


def _processing_problems(backlog: InboxBacklog) -> list[str]:
    """What an operator should look at in the ingest inbox (processing workers' queue)."""
    problems = []
    if backlog.stuck:
        problems.append(f"{backlog.stuck} batch(es) failed processing five times and wait")
    oldest = backlog.oldest_received_at
    if oldest is not None and now_ms() - oldest > _INBOX_LATE_SECONDS * 1000:
        problems.append("the oldest queued batch waits for more than a minute")
    return problems


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
