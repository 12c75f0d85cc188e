"""The asset copies of a session: its URL-to-copy map, and each copy's bytes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery

from service.assets.collector import AssetCollector
from service.auth.guards import granted_window, services_of
from service.auth.scopes import SESSIONS_READ
from service.errors import NotFound
from service.storage.asset_layout import asset_blob_key, is_asset_hash
from service.storage.blobs import BlobNotFound

__all__ = ["AssetMap", "asset_bytes_handlers", "asset_map_handlers"]

# Copies are named by their content's hash: the bytes under a name never change.
_CACHE = "private, max-age=31536000, immutable"
# A copy opened as a document (an SVG, say) runs nothing and loads nothing.
_COPY_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
_NO_COPY = "no such asset copy for this session"
# How long a refreshing map waits for the copies of what the newest batches reference: a live
# replay holds those batches back meanwhile. A slower copy is in the next refresh.
REFRESH_WAIT_SECONDS = 3.0


class AssetEntry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One URL the session referenced: its copy (`hash`, `content_type`) when there is one,
    and `status` (`stored`, or why not: `refused`, `failed`, `too_large`, `wrong_type`,
    `redirected`, `over_budget`)."""

    url: str
    status: str
    hash: str | None = None
    content_type: str | None = None


class AssetMap(msgspec.Struct, frozen=True, kw_only=True):
    """What the viewer rewrites references with: every other URL shows as an empty box."""

    session_id: str
    fetching: bool
    """Whether this service copies assets (`REPLAYDESK_ASSET_FETCHING`)."""
    bytes_path: str
    """Where a copy's bytes are: this path followed by its hash."""
    assets: list[AssetEntry]


@get(
    "/api/v1/sessions/{session_id:str}/assets",
    summary="A session's asset copies",
    opt={"viewer_access": "assets", "scope": SESSIONS_READ},
)
async def session_asset_map(
    request: Request[Any, Any, Any], session_id: FromPath[str], refresh: FromQuery[bool] = False
) -> AssetMap:
    """The stylesheets, fonts and images the session's pages referenced, each with the hash
    of the service's copy (fetch it from `bytes_path` + hash with the same credential) or why
    there is none; for a windowed viewer link, those first referenced by the window's end.

    `refresh=true` (a live viewer whose newest events name URLs the map lacks): the newest
    batches are read for assets first, waiting up to a few seconds for their copies."""
    services = services_of(request)
    if await services.store.get(session_id) is None:
        raise NotFound(f"no session {session_id!r}")
    collector: AssetCollector | None = request.app.state.get("asset_collector")
    if refresh and collector is not None:
        await collector.scan_now(session_id, REFRESH_WAIT_SECONDS)
    window = granted_window(request)
    copies = await services.assets.session_assets(
        session_id, None if window is None else window.end_ms
    )
    return AssetMap(
        session_id=session_id,
        fetching=services.settings.asset_fetching,
        bytes_path=f"/replay-assets/{quote(session_id, safe='')}/",
        assets=[
            AssetEntry(url=c.url, status=c.status, hash=c.hash, content_type=c.content_type)
            for c in copies
        ],
    )


@get(
    "/replay-assets/{session_id:str}/{asset_hash:str}",
    summary="One asset copy's bytes",
    opt={"scope": SESSIONS_READ},
)
async def asset_copy(
    request: Request[Any, Any, Any], session_id: FromPath[str], asset_hash: FromPath[str]
) -> Response[bytes]:
    """The bytes of a copy the session references, with its content type (API key, or a
    viewer token for that session)."""
    services = services_of(request)
    if not is_asset_hash(asset_hash):
        raise NotFound(_NO_COPY)
    window = granted_window(request)
    asset = await services.assets.asset_of_session(
        session_id, asset_hash, None if window is None else window.end_ms
    )
    if asset is None:
        raise NotFound(_NO_COPY)
    try:
        data = await services.blobs.get(asset_blob_key(asset.hash))
    except BlobNotFound:
        raise NotFound(_NO_COPY) from None
    return Response(
        data,
        media_type=asset.content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": _CACHE,
            "Content-Security-Policy": _COPY_CSP,
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )


# API key, or a viewer token for the session in the path (its use recorded).
asset_map_handlers = [session_asset_map]
# The same credentials, unrecorded (one use per copy would bury the audit trail).
asset_bytes_handlers = [asset_copy]
