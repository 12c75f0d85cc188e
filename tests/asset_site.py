"""A customer's site on a loopback port of its own, serving stylesheets, fonts and images,
and recording every request it receives (what the tests count)."""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def solid_png(rgb: tuple[int, int, int], size: int = 4) -> bytes:
    """A PNG of one colour (distinct colours, distinct bytes: distinct copies)."""
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


RED_PNG = solid_png((255, 0, 0))
BLUE_PNG = solid_png((0, 0, 255))


class Route:
    """One answer: status, headers, body."""

    def __init__(
        self,
        body: bytes,
        content_type: str,
        status: int = 200,
        *,
        sized: bool = True,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.body = body
        self.status = status
        # Unsized: no Content-Length, the body runs to the connection's end.
        self.sized = sized
        # Seconds to wait before answering: a slow site.
        self.delay = delay
        self.headers = {"Content-Type": content_type, **(headers or {})}


class AssetSite:
    """Routes by path; `requests` lists (path, headers) of everything asked for."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.origin = ""
        self._lock = threading.Lock()

    def paths(self) -> list[str]:
        with self._lock:
            return [path for path, _ in self.requests]


def _handler(site: AssetSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with site._lock:
                site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = site.routes.get(self.path.split("?", 1)[0])
            if route is None:
                route = Route(b"not found", "text/plain", 404)
            time.sleep(route.delay)
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.sized:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def asset_site() -> Iterator[AssetSite]:
    """A running site on 127.0.0.1 and a free port."""
    site = AssetSite()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
