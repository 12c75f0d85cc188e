"""`GET /recorder.js` for customers' sites, and the demo shop that records itself (`/demo`)."""

from __future__ import annotations

import gzip
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from service.auth.guards import services_of
from service.errors import NotFound
from service.web.problems import problem_response
from service.web.static_bundles import STATIC_DIR, BundleMissing

__all__ = ["DEMO_DIR", "RECORDER_BUNDLE", "recorder_route_handlers"]

RECORDER_BUNDLE = STATIC_DIR / "recorder.js"
DEMO_DIR = STATIC_DIR / "demo"
# Sites embed the script on every page: an hour of caching spares them a request per page view,
# and the ETag makes the revalidation after that cheap.
RECORDER_CACHE_CONTROL = "public, max-age=3600"
# Litestar adds "; charset=utf-8" to text/* types itself.
_SCRIPT = "text/javascript"
# Page name in the URL -> template in DEMO_DIR.
_DEMO_PAGES = {"": "index.html", "checkout": "checkout.html"}
_DEMO_ASSETS = {"demo.css": "text/css", "demo.js": _SCRIPT}
_DEMO_PRODUCTS = [
    {"id": "mug", "name": "Enamel camp mug", "price": 14.0},
    {"id": "lamp", "name": "Brass desk lamp", "price": 89.0},
    {"id": "tote", "name": "Waxed canvas tote", "price": 42.0},
]


class _Bundle:
    """One built file: its bytes, their gzip, and the ETag of each."""

    def __init__(self, body: bytes) -> None:
        digest = hashlib.sha256(body).hexdigest()[:32]
        self.body = body
        self.gzipped = gzip.compress(body, compresslevel=9, mtime=0)
        self.etag = f'"{digest}"'
        # A different representation of the same file: a weak validator of the same value.
        self.gzip_etag = f'W/"{digest}"'


@lru_cache(maxsize=4)
def _load_bundle(path: Path, mtime_ns: int) -> _Bundle:
    return _Bundle(path.read_bytes())


def _current_bundle(path: Path, how_to_build: str) -> _Bundle:
    try:
        return _load_bundle(path, path.stat().st_mtime_ns)
    except FileNotFoundError:
        raise BundleMissing(f"{path.name} has not been built: {how_to_build}") from None


def _accepts_gzip(request: Request[Any, Any, Any]) -> bool:
    for coding in request.headers.get("accept-encoding", "").lower().split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _unquoted_tags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header, compared weakly (RFC 9110 13.1.2)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _bundle_response(
    request: Request[Any, Any, Any], bundle: _Bundle, media_type: str, headers: dict[str, str]
) -> Response[bytes]:
    gzipped = _accepts_gzip(request)
    etag = bundle.gzip_etag if gzipped else bundle.etag
    common = {"ETag": etag, "Vary": "Accept-Encoding", **headers}
    if bundle.etag in _unquoted_tags(request.headers.get("if-none-match", "")):
        return Response(b"", status_code=304, headers=common)
    if gzipped:
        return Response(
            bundle.gzipped, media_type=media_type, headers={**common, "Content-Encoding": "gzip"}
        )
    return Response(bundle.body, media_type=media_type, headers=common)


@get("/recorder.js", summary="The browser recorder", include_in_schema=True)
async def recorder_script(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The recorder bundle sites embed: `<script src=".../recorder.js">`, then
    `ReplayDesk.init({key, endpoint, userId})`. 503 when it was not built."""
    bundle = _current_bundle(
        RECORDER_BUNDLE, "run `make setup` (or `npm ci && npm run build` in recorder/)"
    )
    return _bundle_response(
        request,
        bundle,
        _SCRIPT,
        {
            "Cache-Control": RECORDER_CACHE_CONTROL,
            # A public script for other origins: readable by them, and loadable by pages that
            # require cross-origin resources to opt in (COEP).
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )


@get("/recorder.js.map", summary="Source map of the recorder", include_in_schema=False)
async def recorder_source_map(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The recorder's source map, for browser developer tools."""
    path = RECORDER_BUNDLE.with_name("recorder.js.map")
    if not path.exists():
        raise NotFound("recorder.js.map has not been built: run `make setup`")
    bundle = _current_bundle(path, "run `make setup`")
    headers = {"Cache-Control": RECORDER_CACHE_CONTROL, "Access-Control-Allow-Origin": "*"}
    return _bundle_response(request, bundle, "application/json", headers)


def _require_embedded_mode(request: Request[Any, Any, Any]) -> str:
    """The ingest key the demo records with; the demo exists only in embedded mode."""
    settings = services_of(request).settings
    if settings.redis_url is not None:
        raise NotFound(
            "the demo is served only in embedded mode (without REPLAYDESK_REDIS_URL), "
            "so a scaled deployment does not record demo sessions"
        )
    if not settings.ingest_keys:
        raise NotFound("the demo needs an ingest key: set REPLAYDESK_INGEST_KEYS")
    return settings.ingest_keys[0]


def _render_demo_page(template: str, ingest_key: str) -> bytes:
    # The key goes into a <script> as a JSON string; "</" must not end the script early.
    key_literal = json.dumps(ingest_key).replace("</", "<\\/")
    html = (DEMO_DIR / template).read_text(encoding="utf-8")
    return html.replace("{{INGEST_KEY}}", key_literal).encode()


def _demo_page(request: Request[Any, Any, Any], page: str) -> Response[bytes]:
    ingest_key = _require_embedded_mode(request)
    template = _DEMO_PAGES.get(page)
    if template is None:
        raise NotFound(f"no demo page {page!r}; try /demo or /demo/checkout")
    return Response(
        _render_demo_page(template, ingest_key),
        media_type="text/html",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@get("/demo", summary="Demo shop that records itself", include_in_schema=False)
async def demo_home(request: Request[Any, Any, Any]) -> Response[bytes]:
    """A small shop with the recorder embedded: browse, then go to checkout."""
    return _demo_page(request, "")


@get("/demo/{page:str}", summary="Demo shop pages and assets", include_in_schema=False)
async def demo_page(request: Request[Any, Any, Any], page: FromPath[str]) -> Response[bytes]:
    """The demo's other pages (`checkout`) and its stylesheet and script."""
    if page in _DEMO_ASSETS:
        _require_embedded_mode(request)
        return Response(
            (DEMO_DIR / page).read_bytes(),
            media_type=_DEMO_ASSETS[page],
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )
    return _demo_page(request, page)


@get("/demo/api/products", summary="Demo: the products", include_in_schema=False)
async def demo_products(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    """The shop's products (a request that works)."""
    _require_embedded_mode(request)
    return _DEMO_PRODUCTS


@post("/demo/api/checkout", summary="Demo: the broken checkout", include_in_schema=False)
async def demo_checkout(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Always fails with 500: the demo's checkout is broken on purpose."""
    _require_embedded_mode(request)
    return problem_response(
        500,
        "Payment failed",
        "the payment provider timed out (the demo's checkout fails on purpose)",
    )


recorder_route_handlers = [
    recorder_script,
    recorder_source_map,
    demo_home,
    demo_page,
    demo_products,
    demo_checkout,
]
