"""Serving the built browser bundles (a setup output in service/static) with validators."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from litestar import Request, Response

from service.errors import ReplayDeskError

__all__ = ["STATIC_DIR", "BundleMissing", "bundle_response"]

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
# Bundles change only with a new release; a short cache plus an ETag keeps them fresh.
CACHE_CONTROL = "public, max-age=300"


class BundleMissing(ReplayDeskError):
    """A front-end bundle was not built."""

    status_code = 503
    title = "Bundle not built"


@lru_cache(maxsize=16)
def _load(path: Path, mtime_ns: int) -> tuple[bytes, str]:
    body = path.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def bundle_response(
    request: Request[Any, Any, Any],
    name: str,
    media_type: str,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """The bundle `name` from the static folder, or 304 when the client has it already."""
    path = STATIC_DIR / name
    try:
        body, etag = _load(path, path.stat().st_mtime_ns)
    except FileNotFoundError:
        raise BundleMissing(f"{name} has not been built: run `make setup`") from None
    common = {"ETag": etag, "Cache-Control": CACHE_CONTROL, **(headers or {})}
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=common)
    return Response(body, media_type=media_type, headers=common)
