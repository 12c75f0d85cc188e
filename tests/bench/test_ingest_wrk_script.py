"""bench/ingest_wrk.lua in wrk against a stub ingest endpoint: each pre-built request goes out
once and in order, answers are counted, and running out is reported, never papered over."""

from __future__ import annotations

import gzip
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.ingest_requests import RequestSet, session_templates, write_requests
from bench.wrk_results import round_problems
from bench.wrk_runner import run_wrk

WRK = shutil.which("wrk")
pytestmark = pytest.mark.skipif(WRK is None, reason="wrk is not installed (apt-get install wrk)")

HEADERS = {"Content-Type": "application/json", "Content-Encoding": "gzip", "X-ReplayDesk-Key": "k"}


class StubIngest(BaseHTTPRequestHandler):
    """202 with ReplayDesk's acknowledgement for each batch; 200 on GET /health."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: without this, each answer waits for a delayed ACK.
    disable_nagle_algorithm = True
    received: list[tuple[str, int]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        batch = json.loads(gzip.decompress(body))
        self.received.append((batch["session_id"], batch["seq"]))
        ack = {"session_id": batch["session_id"], "seq": batch["seq"], "status": "accepted"}
        self._answer(202, json.dumps(ack, separators=(",", ":")).encode())

    def do_GET(self) -> None:
        self._answer(200, b'{"status":"ok"}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """wrk drops its connection mid-request as it stops: nothing to report."""


@pytest.fixture
def stub() -> Iterator[tuple[str, list[tuple[str, int]]]]:
    received: list[tuple[str, int]] = []
    handler = type("Handler", (StubIngest,), {"received": received})
    server = QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/v1/ingest", received
    finally:
        server.shutdown()
        server.server_close()


def _requests(tmp_path: Path, count: int) -> tuple[RequestSet, list[tuple[str, int]]]:
    requests = write_requests(
        tmp_path / "requests", "r01", session_templates(), threads=1, per_thread=count, pool=4
    )
    order = []
    data = (tmp_path / "requests" / "thread-1.bin").read_bytes()
    position = 0
    while position < len(data):
        end = data.index(b"\n", position)
        length = int(data[position:end].split(b" ")[1])
        batch = json.loads(gzip.decompress(data[end + 1 : end + 1 + length]))
        order.append((batch["session_id"], batch["seq"]))
        position = end + 1 + length
    return requests, order


def test_each_request_goes_out_once_in_order_then_running_out_is_counted(
    tmp_path: Path, stub: tuple[str, list[tuple[str, int]]]
) -> None:
    url, received = stub
    requests, order = _requests(tmp_path, 25)
    assert WRK is not None
    run = run_wrk(
        WRK,
        url,
        requests_dir=requests.directory,
        threads=1,
        connections=1,
        # Long enough for the requests to run out on a busy machine too (a Python stub
        # answers them; under load 25 took more than a second).
        seconds=3,
        headers=HEADERS,
        server_pid=None,
        workdir=tmp_path,
    )
    # wrk's check of the first request before the run sends nothing: none is skipped.
    assert received == order
    result = run.result
    assert result.accepted == 25
    assert result.acked == [f"{session} {seq}" for session, seq in order]
    assert result.exhausted > 0
    assert result.statuses[202] == 25
    # The last /health request may be in flight when wrk stops.
    assert result.exhausted - 1 <= result.statuses[200] <= result.exhausted
    assert any(problem.startswith("ran out") for problem in round_problems(result, run.cpu))
    assert len(run.cpu.generator_threads) == 1


def test_with_wrap_the_requests_go_out_again_from_the_start(
    tmp_path: Path, stub: tuple[str, list[tuple[str, int]]]
) -> None:
    url, received = stub
    requests, order = _requests(tmp_path, 10)
    assert WRK is not None
    run = run_wrk(
        WRK,
        url,
        requests_dir=requests.directory,
        threads=1,
        connections=1,
        seconds=3,
        headers=HEADERS,
        server_pid=None,
        workdir=tmp_path,
        wrap=True,
    )
    assert run.result.exhausted == 0
    assert run.result.wrapped >= 1
    assert received[: 3 * len(order)] == (order * 3)[: len(received[: 3 * len(order)])]
    # The request in flight when wrk stops is received, its answer not read.
    assert len(received) - 1 <= run.result.accepted <= len(received)
