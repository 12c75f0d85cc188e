"""A stub tracker on loopback that notes when each ticket's comment arrives."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["StubVendor"]


class StubVendor:
    """Accepts `POST /tickets/{id}/comments` (201) and records the wall-clock time of each."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.writes = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def received(self) -> int:
        with self._lock:
            return len(self.arrivals)

    def __enter__(self) -> StubVendor:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ticket = self.path.split("/")[2]
                with vendor._lock:
                    vendor.writes += 1
                    vendor.arrivals.setdefault(ticket, time.time())
                    comment = vendor.writes
                body = json.dumps({"id": comment}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
