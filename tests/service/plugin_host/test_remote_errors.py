"""Remote failures are sorted into "retry later" and "will not change", over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from service import (
    PermanentError,
    RetryableError,
    before_the_write,
    parse_retry_after,
    remote_request,
)
from service.plugin_host.remote_errors import error_for_status, may_have_written, rate_limit_wait


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 425, 429])
def test_server_errors_and_rate_limits_are_retryable(status: int) -> None:
    error = error_for_status(status, "POST /x", "busy", "12")
    assert isinstance(error, RetryableError) and error.status == status
    assert error.retry_after == 12.0
    assert "POST /x answered" in str(error) and "busy" in str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
def test_answers_that_will_not_change_are_permanent(status: int) -> None:
    assert isinstance(error_for_status(status, "POST /x"), PermanentError)


def test_success_is_no_error() -> None:
    assert error_for_status(201, "POST /x") is None


def test_retry_after_takes_seconds_or_an_http_date() -> None:
    now = datetime(2026, 9, 21, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("-5") == 0 and parse_retry_after("1e9") == 24 * 3600


def test_a_rate_limit_without_retry_after_waits_for_the_announced_reset() -> None:
    now = datetime(2026, 11, 22, 10, 0, 30, tzinfo=UTC)
    # Retry-After wins over the reset headers.
    assert rate_limit_wait({"retry-after": "7", "ratelimit-reset": "50"}, now) == 7
    # Jira: the reset moment as an ISO timestamp to the minute.
    assert rate_limit_wait({"x-ratelimit-reset": "2026-11-22T10:01Z"}, now) == 30
    # Unix seconds, and the IETF header's seconds from now (Zendesk's ticketing endpoints).
    assert rate_limit_wait({"x-ratelimit-reset": str(now.timestamp() + 12)}, now) == 12
    assert rate_limit_wait({"ratelimit-reset": "45"}, now) == 45
    assert rate_limit_wait({"x-ratelimit-reset": "whenever"}, now) is None
    assert rate_limit_wait({}, now) is None


class _Answers(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        status = int(self.path.strip("/"))
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "3")
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"nope!")


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_remote_request_maps_statuses_and_transport_failures(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        assert remote_request(client, "GET", "/200").status_code == 200
        with pytest.raises(RetryableError) as limited:
            remote_request(client, "GET", "/429")
        assert limited.value.retry_after == 3.0 and "GET /429 answered 429: nope!" in str(
            limited.value
        )
        with pytest.raises(PermanentError):
            remote_request(client, "GET", "/422", what="create comment")
    with httpx.Client(timeout=1) as client, pytest.raises(RetryableError):
        remote_request(client, "GET", "http://127.0.0.1:9/")  # nothing listens on port 9


@pytest.mark.parametrize(
    ("status", "written"),
    [
        *[(status, False) for status in (408, 425, 429, 503, 400, 422)],
        *[(status, True) for status in (500, 502, 504)],
    ],
)
def test_an_answer_says_whether_the_request_may_have_been_processed(
    status: int, written: bool
) -> None:
    error = error_for_status(status, "POST /x")
    assert error is not None and error.may_have_written is written


def test_only_failures_before_the_request_left_rule_out_a_write(server: str) -> None:
    with httpx.Client(timeout=1) as client, pytest.raises(RetryableError) as refused:
        remote_request(client, "GET", "http://127.0.0.1:9/")  # connection refused
    assert refused.value.may_have_written is False

    def fail_with(error: type[httpx.TransportError]) -> RetryableError:
        def handler(request: httpx.Request) -> httpx.Response:
            raise error("scripted", request=request)

        with httpx.Client(transport=httpx.MockTransport(handler)) as client:
            with pytest.raises(RetryableError) as raised:
                remote_request(client, "POST", "http://tracker.test/notes")
        return raised.value

    for not_sent in (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
        assert fail_with(not_sent).may_have_written is False, not_sent
    for maybe_sent in (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError):
        assert fail_with(maybe_sent).may_have_written is True, maybe_sent


def test_calls_before_the_write_say_they_wrote_nothing() -> None:
    with pytest.raises(RetryableError) as upload, before_the_write():
        raise RetryableError("POST /uploads answered 500", status=500)
    assert upload.value.may_have_written is False
    with pytest.raises(ValueError), before_the_write():
        raise ValueError("not a remote error: left alone")
    assert may_have_written(ValueError()) and may_have_written(PermanentError("x"))
