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
        self.chunks_waiting = Gauge(
            "replaydesk_chunks_waiting",
            "Event chunks this process acknowledged that are not in the blob store yet (they "
            f"wait in the database; ingest refuses batches past {MAX_WAITING_CHUNKS:,}).",
            registry=self.registry,
        )
        if chunks_waiting is not None:
            self.chunks_waiting.set_function(chunks_waiting)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
