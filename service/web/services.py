"""The long-lived objects one service process works with, built and closed by the app lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from service.auth.keys import AccessKeys
from service.ingest.body import IngestLimits
from service.ingest.ingestor import Ingestor
from service.jobs.queue import JobQueue
from service.live.feed import LiveFeed
from service.plugin_host.host import PluginHost
from service.sessions.reader import SessionReader
from service.settings import Settings
from service.storage.blobs import BlobStore
from service.storage.session_store import SessionStore
from service.tickets.attachments import TicketAttachments
from service.tickets.issue_filing import IssueFiling
from service.viewer.access import ViewerAccess
from service.viewer.tokens import ViewerTokens
from service.web.metrics import Metrics

__all__ = ["Services"]


@dataclass(frozen=True, kw_only=True)
class Services:
    """Everything a request handler may call into."""

    settings: Settings
    blobs: BlobStore
    store: SessionStore
    keys: AccessKeys
    ingestor: Ingestor
    reader: SessionReader
    queue: JobQueue
    metrics: Metrics
    viewer_tokens: ViewerTokens
    viewer_access: ViewerAccess
    plugins: PluginHost
    attachments: TicketAttachments
    issues: IssueFiling
    live: LiveFeed

    @property
    def ingest_limits(self) -> IngestLimits:
        """Size limits of one ingest body."""
        return IngestLimits(
            max_body_bytes=self.settings.max_body_bytes,
            max_decompressed_bytes=self.settings.max_decompressed_bytes,
        )
