"""Prometheus metrics of one service process, on a registry of its own."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.ingest.chunk_mover import MAX_WAITING_CHUNKS

__all__ = ["Metrics"]


class Metrics:
    """The counters and histograms the service exports at /metrics."""

    def __init__(
        self,
        queue_depth: Callable[[], float] | None = None,
        chunks_waiting: Callable[[], float] | None = None,
        chunks_quarantined: Callable[[], float] | None = None,
        oldest_chunk_waiting_seconds: Callable[[], float] | None = None,
        chunk_moves_failing: Callable[[], float] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.ingest_batches = Counter(
            "replaydesk_ingest_batches",
            "Ingest batches by outcome (accepted, duplicate).",
            ["outcome"],
            registry=self.registry,
        )
        self.ingest_bytes = Counter(
            "replaydesk_ingest_bytes",
            "Bytes of accepted ingest bodies, as sent on the wire.",
            registry=self.registry,
        )
        self.ingest_events = Counter(
            "replaydesk_ingest_events",
            "rrweb events in accepted batches.",
            registry=self.registry,
        )
        self.ingest_latency = Histogram(
            "replaydesk_ingest_latency_seconds",
            "Time from body received to acknowledgement (durable write included).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.refusals = Counter(
            "replaydesk_ingest_refusals",
            "Refused ingest requests by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "replaydesk_webhooks",
            "Provider webhooks by outcome (enqueued, ignored, duplicate, rejected, invalid, "
            "unavailable, unknown_provider).",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "replaydesk_queue_depth",
            "Jobs waiting in the queue.",
            registry=self.registry,
        )
        if queue_depth is not None:
            self.queue_depth.set_function(queue_depth)
        # The chunk figures are counted from the chunk journal, which every process shares:
        # they hold across restarts, and an erasure lowers them.
        self.chunks_waiting = Gauge(
            "replaydesk_chunks_waiting",
            "Event chunks acknowledged and waiting in the database for their move into the "
            f"blob store, quarantined ones aside (ingest refuses batches past "
            f"{MAX_WAITING_CHUNKS:,}).",
            registry=self.registry,
        )
        if chunks_waiting is not None:
            self.chunks_waiting.set_function(chunks_waiting)
        self.chunks_quarantined = Gauge(
            "replaydesk_chunks_quarantined",
            "Event chunks the blob store refused on their own while it took others: they stay "
            "in the database, readable, and are tried again every few minutes.",
            registry=self.registry,
        )
        if chunks_quarantined is not None:
            self.chunks_quarantined.set_function(chunks_quarantined)
        self.oldest_chunk_waiting = Gauge(
            "replaydesk_chunks_oldest_waiting_seconds",
            "Age of the oldest waiting event chunk (0 when none waits); moves take about half "
            "a second.",
            registry=self.registry,
        )
        if oldest_chunk_waiting_seconds is not None:
            self.oldest_chunk_waiting.set_function(oldest_chunk_waiting_seconds)
        self.chunk_moves_failing = Gauge(
            "replaydesk_chunk_moves_failing",
            "1 while this process's last move of chunks into the blob store failed, else 0.",
            registry=self.registry,
        )
        if chunk_moves_failing is not None:
            self.chunk_moves_failing.set_function(chunk_moves_failing)
        self.asset_urls = Counter(
            "replaydesk_asset_urls",
            "Asset URLs sessions referenced, by what copying them came to: stored, or why not "
            "(refused, failed, too_large, wrong_type, redirected, over_budget); each URL once "
            "per session, by this process's collector.",
            ["status"],
            registry=self.registry,
        )
        self.asset_bytes = Counter(
            "replaydesk_asset_bytes",
            "Bytes of the asset copies this process's collector fetched.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
