"""The long-lived objects one service process works with, built and closed by the app lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from service.access_keys import AccessKeys
from service.ingest import IngestLimits, Ingestor
from service.issue_filing import IssueFiling
from service.jobs.queue import JobQueue
from service.metrics import Metrics
from service.plugin_host import PluginHost
from service.session_views import SessionViews
from service.settings import Settings
from service.storage.blobs import BlobStore
from service.storage.session_store import SessionStore
from service.ticket_attachments import TicketAttachments
from service.viewer_access import ViewerAccess
from service.viewer_tokens import ViewerTokens

__all__ = ["Services"]


@dataclass(frozen=True, kw_only=True)
class Services:
    """Everything a request handler may call into."""

    settings: Settings
    engine: AsyncEngine
    blobs: BlobStore
    store: SessionStore
    keys: AccessKeys
    ingestor: Ingestor
    views: SessionViews
    queue: JobQueue
    metrics: Metrics
    viewer_tokens: ViewerTokens
    viewer_access: ViewerAccess
    plugins: PluginHost
    tickets: TicketAttachments
    issues: IssueFiling

    @property
    def ingest_limits(self) -> IngestLimits:
        """Size limits of one ingest body."""
        return IngestLimits(
            max_body_bytes=self.settings.max_body_bytes,
            max_decompressed_bytes=self.settings.max_decompressed_bytes,
        )
