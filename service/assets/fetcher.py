"""Fetching one asset copy without letting a recording aim the service anywhere it likes.

Only http(s) URLs of origins the ingest keys allow (`origin_policy.py`); the host is resolved
here and the connection made to the address that was checked (no second lookup a hostile DNS
server could answer differently); redirects only within the same origin; timeouts; a size cap
on the bytes as decoded; an allow-list of content types; no cookies, no Referer, nothing of the
agent or the session sent.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx
import msgspec

from service.assets.origin_policy import OriginPolicy, address_kind
from service.auth.keys import normalize_origin

__all__ = ["MAX_COPY_BYTES", "AssetFetcher", "FetchFailure", "Fetched", "asset_content_type"]

# No stylesheet, font or image a page needs is larger; a bigger file is not copied.
MAX_COPY_BYTES = 5 * 1024 * 1024
_CONNECT_SECONDS = 5.0
_READ_SECONDS = 10.0
# The whole fetch, redirects included: a server trickling bytes cannot hold a scan longer.
_TOTAL_SECONDS = 20.0
_MAX_REDIRECTS = 3
_USER_AGENT = "ReplayDesk-asset-copy/1"

_FONT_TYPES = {
    "application/font-woff": "font/woff",
    "application/x-font-woff": "font/woff",
    "application/font-woff2": "font/woff2",
    "application/x-font-ttf": "font/ttf",
    "application/x-font-truetype": "font/ttf",
    "application/font-sfnt": "font/sfnt",
    "application/x-font-otf": "font/otf",
    "application/x-font-opentype": "font/otf",
    "application/vnd.ms-fontobject": "application/vnd.ms-fontobject",
}
# Servers often send fonts as bytes of no particular type: the file's extension decides then.
_FONT_EXTENSIONS = {
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
}
_UNTYPED = frozenset({"application/octet-stream", "binary/octet-stream", ""})

FailureStatus = Literal["refused", "failed", "too_large", "wrong_type", "redirected"]


class Fetched(msgspec.Struct, frozen=True):
    """An asset's bytes and the content type it is served with."""

    content_type: str
    data: bytes


class FetchFailure(msgspec.Struct, frozen=True):
    """Why an asset was not copied."""

    status: FailureStatus


def asset_content_type(declared: str | None, url: str) -> str | None:
    """The content type a copy is served with, or None when it is no stylesheet, font or
    image."""
    media = (declared or "").split(";", 1)[0].strip().lower()
    if media == "text/css":
        return media
    if media.startswith("image/") or media.startswith("font/"):
        return media if _token(media) else None
    if media in _FONT_TYPES:
        return _FONT_TYPES[media]
    if media in _UNTYPED:
        path = urlsplit(url).path.lower()
        for extension, font_type in _FONT_EXTENSIONS.items():
            if path.endswith(extension):
                return font_type
    return None


def _token(media: str) -> bool:
    return all(c.isalnum() or c in "/+-." for c in media) and len(media) <= 100


class AssetFetcher:
    """Fetches asset copies under an origin policy."""

    def __init__(
        self,
        policy: OriginPolicy,
        *,
        max_bytes: int = MAX_COPY_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self.max_bytes = max_bytes
        self._transport = transport

    async def fetch(self, url: str) -> Fetched | FetchFailure:
        """The asset at `url`, or why it was not fetched."""
        try:
            async with asyncio.timeout(_TOTAL_SECONDS):
                return await self._fetch(url)
        except TimeoutError:
            return FetchFailure("failed")

    async def _fetch(self, url: str) -> Fetched | FetchFailure:
        try:
            origin = _origin(url)
        except ValueError:
            return FetchFailure("refused")
        if not self.policy.allows(origin):
            return FetchFailure("refused")
        async with httpx.AsyncClient(
            transport=self._transport,
            follow_redirects=False,
            timeout=httpx.Timeout(_READ_SECONDS, connect=_CONNECT_SECONDS),
            trust_env=False,
        ) as client:
            current = url
            for _ in range(_MAX_REDIRECTS + 1):
                outcome = await self._one(client, current, origin)
                if not isinstance(outcome, str):
                    return outcome
                try:
                    if _origin(outcome) != origin:
                        return FetchFailure("redirected")
                except ValueError:
                    return FetchFailure("redirected")
                current = outcome
        return FetchFailure("redirected")

    async def _one(
        self, client: httpx.AsyncClient, url: str, origin: str
    ) -> Fetched | FetchFailure | str:
        """One request: the asset, a failure, or where a redirect points (absolute)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = await self._checked_address(host, port, origin)
        if address is None:
            return FetchFailure("refused")
        request_url = httpx.URL(url).copy_with(host=address)
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        headers = {
            "Host": parts.netloc.rpartition("@")[2],
            "User-Agent": _USER_AGENT,
            "Accept": "text/css,image/*,font/*,*/*;q=0.1",
        }
        # A client per fetch keeps no cookie from one asset for the next.
        client.cookies.clear()
        try:
            request = client.build_request(
                "GET", request_url, headers=headers, extensions=extensions
            )
            response = await client.send(request, stream=True)
        except (httpx.HTTPError, OSError, ValueError):
            return FetchFailure("failed")
        try:
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("location")
                return urljoin(url, location) if location else FetchFailure("failed")
            if response.status_code != 200:
                return FetchFailure("failed")
            content_type = asset_content_type(response.headers.get("content-type"), url)
            if content_type is None:
                return FetchFailure("wrong_type")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                return FetchFailure("too_large")
            body = bytearray()
            async for piece in response.aiter_bytes():
                body += piece
                if len(body) > self.max_bytes:
                    return FetchFailure("too_large")
            return Fetched(content_type, bytes(body))
        except (httpx.HTTPError, OSError):
            return FetchFailure("failed")
        finally:
            await response.aclose()

    async def _checked_address(self, host: str, port: int, origin: str) -> str | None:
        """The address to connect to, if every address the host resolves to is allowed."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            return None
        addresses = [str(info[4][0]) for info in infos]
        if not addresses:
            return None
        for address in addresses:
            if not self.policy.allows_address(origin, address_kind(address.split("%", 1)[0])):
                return None
        return addresses[0].split("%", 1)[0]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("not http(s)")
    return normalize_origin(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}")
