"""The Litestar application: routes, error mapping, and the lifespan that owns connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import pluggy
from litestar import Litestar, Router
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from redis import Redis

from service import __version__, log_redaction
from service.assets.collector import AssetCollector
from service.assets.routes import asset_bytes_handlers, asset_map_handlers
from service.auth.guards import (
    require_api_key,
    require_api_key_or_viewer_token,
    require_api_key_or_viewer_token_unrecorded,
)
from service.auth.keys import AccessKeys
from service.background_tasks import stop_task
from service.clock import now_ms
from service.error_groups.routes import error_group_route_handlers
from service.ingest.body import allow_deep_nesting
from service.ingest.ingestor import Ingestor
from service.ingest.processing_pool import ProcessingPool
from service.ingest.recorder_routes import recorder_route_handlers
from service.ingest.routes import IngestCorsMiddleware, ingest
from service.ingest.signals import environment as user_agents
from service.jobs.embedded import EmbeddedRedis, EmbeddedWorker, requeue_abandoned
from service.jobs.queue import JobQueue
from service.jobs.routes import job_route_handlers
from service.jobs.runtime import configure_job_runtime
from service.live.feed import LiveFeed, open_live_redis
from service.live.routes import live_route_handlers
from service.plugin_host.host import PluginHost
from service.plugin_host.link_check import warn_of_loopback_links
from service.plugin_host.manager import build_plugin_manager
from service.plugin_host.routes import plugin_route_handlers
from service.sessions.erasure import ErasureKeys
from service.sessions.reader import SessionReader
from service.sessions.routes import session_read_handlers, session_route_handlers
from service.settings import Settings
from service.sidebar.routes import sidebar_route_handlers
from service.storage.asset_store import AssetStore, SessionAssetEntry
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine, is_embedded, sqlite_file_url
from service.storage.key_store import KeyStore
from service.storage.session_store import SessionStore
from service.storage.ticket_store import TicketStore
from service.storage.token_store import TokenStore
from service.tickets.attachments import TicketAttachments
from service.tickets.issue_filing import IssueFiling
from service.tickets.outbox import OutboxRelay
from service.tickets.routes import ticket_route_handlers
from service.tickets.webhook_routes import webhook_route_handlers
from service.viewer.access import ViewerAccess
from service.viewer.routes import viewer_route_handlers
from service.viewer.tokens import ViewerTokens
from service.web.access_log import AccessLogMiddleware, log_unrouted
from service.web.metrics import Metrics
from service.web.ops_routes import health, metrics
from service.web.problems import exception_handlers
from service.web.services import Services

__all__ = ["create_app"]

log = logging.getLogger("service")

# Redis calls happen on request paths (health) and must fail fast when Redis is away.
REDIS_TIMEOUT_SECONDS = 2.0
RETENTION_PERIOD_SECONDS = 3600
SESSION_END_SWEEP_PERIOD_SECONDS = 300


def create_app(settings: Settings, plugin_manager: pluggy.PluginManager | None = None) -> Litestar:
    """Build the ReplayDesk web application for these settings.

    Without a plugin manager, the plugins of the `replaydesk` entry points are loaded.
    """
    allow_deep_nesting()
    plugins = PluginHost(
        plugin_manager or build_plugin_manager(settings), settings.plugin_environment
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            # Exceptions in any logger's records lose their message while the app runs.
            stack.callback(log_redaction.install())
            warn_of_loopback_links(settings.public_url, plugins)
            engine = create_engine(settings.database_url)
            stack.push_async_callback(engine.dispose)
            blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.blob_options)
            redis = _open_redis(settings, stack)
            if not settings.redis_url:
                await _start_embedded_worker(settings, plugins, redis, TicketStore(engine), stack)
            queue = JobQueue(redis)
            store = SessionStore(engine)
            stack.callback(store.dispose)
            live = LiveFeed(open_live_redis(settings), settings.secret_key)
            stack.push_async_callback(live.close)
            pool = _processing_pool(settings)
            ingestor = Ingestor(
                store,
                blobs,
                ErasureKeys(settings.secret_key),
                wake_processing=None if pool is None else pool.wake,
                live=live,
            )
            # The first page event would otherwise wait for the parser's rules on the loop.
            await asyncio.to_thread(user_agents.warm_up)
            ingestor.start()
            stack.push_async_callback(ingestor.close)
            if pool is not None:
                pool.start()
                stack.push_async_callback(pool.close)
                if not await pool.ready():
                    log.warning("a processing worker was not ready in time; batches wait for it")
            attachments = TicketAttachments(store, TicketStore(engine), queue, plugins)
            viewer_tokens = ViewerTokens(
                settings.secret_key, settings.public_url, settings.previous_secret_keys
            )
            app.state.services = Services(
                settings=settings,
                blobs=blobs,
                store=store,
                keys=AccessKeys(
                    KeyStore(engine),
                    settings.api_keys,
                    settings.ingest_keys,
                    settings.ingest_origins,
                ),
                ingestor=ingestor,
                reader=SessionReader(store, blobs, settings.session_idle_timeout_seconds),
                queue=queue,
                metrics=Metrics(
                    queue_depth=lambda: _safe_depth(queue),
                    chunks_waiting=lambda: ingestor.mover.waiting,
                    chunks_quarantined=lambda: ingestor.mover.quarantined,
                    oldest_chunk_waiting_seconds=ingestor.mover.oldest_waiting_seconds,
                    chunk_moves_failing=lambda: ingestor.mover.failure is not None,
                ),
                viewer_tokens=viewer_tokens,
                viewer_access=ViewerAccess(viewer_tokens, TokenStore(engine)),
                plugins=plugins,
                attachments=attachments,
                issues=IssueFiling(store, attachments.ticket_store, queue, plugins),
                assets=AssetStore(engine),
                live=live,
            )
            app.state.plugin_manager = plugins.manager
            app.state.processing_pool = pool
            retention = asyncio.create_task(
                _enqueue_periodically(
                    queue.enqueue_retention_purge, RETENTION_PERIOD_SECONDS, "the retention purge"
                )
            )
            stack.callback(retention.cancel)
            # Awaited on the way out, before the engine closes under a relay pass.
            outbox = asyncio.create_task(OutboxRelay(attachments.ticket_store, attachments).run())
            stack.push_async_callback(stop_task, outbox)
            if plugins.wants_session_ends():
                sweep = asyncio.create_task(
                    _enqueue_periodically(
                        queue.enqueue_session_end_sweep,
                        SESSION_END_SWEEP_PERIOD_SECONDS,
                        "the session-end sweep",
                    )
                )
                stack.push_async_callback(stop_task, sweep)
            # Each session's copies come from the origins of the key that sent it; with
            # fetching off, only the stylesheets recordings carry inlined are kept.
            collector = AssetCollector(
                app.state.services.assets,
                blobs,
                app.state.services.keys.ingest_origins,
                counted=_asset_metrics(app.state.services.metrics),
                fetching=settings.asset_fetching,
            )
            collector.start()
            app.state.asset_collector = collector
            stack.push_async_callback(collector.close)
            yield

    return Litestar(
        route_handlers=[
            ingest,
            health,
            metrics,
            Router(path="/", route_handlers=session_route_handlers, guards=[require_api_key]),
            Router(
                path="/",
                route_handlers=[
                    *session_read_handlers,
                    *live_route_handlers,
                    *asset_map_handlers,
                ],
                guards=[require_api_key_or_viewer_token],
            ),
            Router(
                path="/",
                route_handlers=asset_bytes_handlers,
                guards=[require_api_key_or_viewer_token_unrecorded],
            ),
            Router(path="/", route_handlers=viewer_route_handlers),
            Router(
                path="/",
                route_handlers=[
                    *ticket_route_handlers,
                    *job_route_handlers,
                    *plugin_route_handlers,
                    *error_group_route_handlers,
                ],
                guards=[require_api_key],
            ),
            *webhook_route_handlers,
            *recorder_route_handlers,
            *sidebar_route_handlers,
        ],
        lifespan=[lifespan],
        middleware=[AccessLogMiddleware, IngestCorsMiddleware],
        after_exception=[log_unrouted],
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        request_max_body_size=settings.max_body_bytes,
        # Litestar's own exception log names the path; problems.py logs the route instead.
        logging_config=LoggingConfig(log_exceptions="never"),
        openapi_config=OpenAPIConfig(
            title="ReplayDesk",
            version=__version__,
            path="/schema",
            render_plugins=[JsonRenderPlugin(), SwaggerRenderPlugin()],
        ),
        debug=False,
    )


def _processing_pool(settings: Settings) -> ProcessingPool | None:
    """The processing workers, unless batches are processed in their requests. In-memory
    SQLite is private to one process, so it keeps them there."""
    if settings.processing_workers == 0:
        return None
    if is_embedded(settings.database_url) and sqlite_file_url(settings.database_url) is None:
        return None
    return ProcessingPool(settings, settings.processing_workers)


def _open_redis(settings: Settings, stack: contextlib.AsyncExitStack) -> Redis[bytes]:
    if settings.redis_url:
        redis = Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        stack.callback(redis.close)
        return redis
    # Embedded mode: a private Redis, and (`_start_embedded_worker`) a worker thread.
    embedded = EmbeddedRedis(settings.data_dir)
    redis = embedded.start()
    stack.callback(embedded.stop)
    return redis


async def _start_embedded_worker(
    settings: Settings,
    plugins: PluginHost,
    redis: Redis[bytes],
    tickets: TicketStore,
    stack: contextlib.AsyncExitStack,
) -> None:
    """The embedded queue's worker thread, once what the last stop left under way is back in
    the queue with its lease released (nobody else works this data dir's queue)."""
    configure_job_runtime(settings, plugins)
    requeued = await asyncio.to_thread(requeue_abandoned, redis)
    await tickets.release_leases(now_ms())
    if requeued:
        log.warning("%d job(s) under way when the service last stopped run again", len(requeued))
    worker = EmbeddedWorker(redis)
    worker.start()
    stack.callback(worker.stop)


def _safe_depth(queue: JobQueue) -> float:
    try:
        return float(queue.depth())
    except Exception:
        return float("nan")


def _asset_metrics(metrics: Metrics) -> Callable[[SessionAssetEntry], None]:
    def counted(entry: SessionAssetEntry) -> None:
        metrics.asset_urls.labels(status=entry.status).inc()
        if entry.asset is not None:
            metrics.asset_bytes.inc(entry.asset.size)

    return counted


async def _enqueue_periodically(enqueue: Callable[[], object], period: float, what: str) -> None:
    """Enqueue a periodic job every `period` seconds; its deterministic id makes replicas agree."""
    while True:
        try:
            await asyncio.to_thread(enqueue)
        except Exception as exc:
            log.warning("could not enqueue %s (%s); retrying later", what, exc)
        await asyncio.sleep(period)
