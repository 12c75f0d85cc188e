"""The fake-tracker base: routes, recorded requests, and every scripted fault over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service import RetryableError, remote_request
from service.plugin_testing import FakeTracker, Fault, RecordedRequest, Reply, route


class Notes(FakeTracker):
    def __init__(self) -> None:
        super().__init__()
        self.notes: dict[str, list[str]] = {}

    def authorize(self, request: RecordedRequest) -> Reply | None:
        return None if request.headers.get("x-key") == "k" else Reply(401, {"error": "key"})

    @route("POST", "/tickets/{ticket}/notes")
    def add(self, request: RecordedRequest, ticket: str) -> tuple[int, Any, dict[str, str]]:
        self.notes.setdefault(ticket, []).append(request.json["text"])
        return 201, {"n": len(self.notes[ticket])}, {"X-Note": ticket}

    @route("GET", "/tickets/{ticket}/notes")
    def listing(self, request: RecordedRequest, ticket: str) -> Reply:
        return Reply(200, self.notes.get(ticket, []))


@pytest.fixture
def fake() -> Iterator[Notes]:
    with Notes() as notes:
        yield notes


@pytest.fixture
def client(fake: Notes) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"X-Key": "k"}, timeout=2.0) as http:
        yield http


def add(client: httpx.Client, ticket: str = "T 1") -> httpx.Response:
    return remote_request(client, "POST", f"/tickets/{ticket}/notes?x=1", json={"text": "hi"})


def test_routes_get_their_path_parameters_and_every_request_is_recorded(
    fake: Notes, client: httpx.Client
) -> None:
    answer = add(client, "T%201")
    assert (answer.status_code, answer.json(), answer.headers["x-note"]) == (201, {"n": 1}, "T 1")
    assert client.get("/tickets/T%201/notes").json() == ["hi"]
    assert client.get("/nowhere").status_code == 404
    assert client.get("/tickets/T/notes", headers={"X-Key": "bad"}).status_code == 401
    (posted,) = fake.requests_to("POST", "/tickets/{ticket}/notes")
    assert posted.json == {"text": "hi"} and posted.query == {"x": ["1"]}
    assert posted.headers["x-key"] == "k" and posted.body == b'{"text":"hi"}'
    assert [r.method for r in fake.requests] == ["POST", "GET", "GET", "GET"]


def test_a_429_with_retry_after_then_5xx_only_on_matching_requests(
    fake: Notes, client: httpx.Client
) -> None:
    fake.fail_next(Fault(429, retry_after="7"), Fault(503), method="POST")
    assert client.get("/tickets/T/notes").status_code == 200  # not a POST: no fault
    with pytest.raises(RetryableError) as limited:
        add(client)
    assert (limited.value.status, limited.value.retry_after) == (429, 7.0)
    with pytest.raises(RetryableError) as unavailable:
        add(client)
    assert unavailable.value.status == 503
    assert fake.notes == {}
    assert add(client).status_code == 201


def test_a_write_that_lands_before_an_error_or_whose_reply_is_lost(
    fake: Notes, client: httpx.Client
) -> None:
    fake.fail_next(Fault(502, lands=True), Fault.lost_reply(), path="/tickets/{ticket}/notes")
    with pytest.raises(RetryableError):
        add(client)
    with pytest.raises(RetryableError, match="RemoteProtocolError"):
        add(client)
    assert fake.notes == {"T 1": ["hi", "hi"]}  # both landed
    assert len(fake.requests_to("POST")) == 2


def test_a_slow_answer_times_the_client_out_and_lands(fake: Notes) -> None:
    fake.fail_next(Fault.slow(1.0))
    with httpx.Client(base_url=fake.url, headers={"X-Key": "k"}, timeout=0.2) as impatient:
        with pytest.raises(RetryableError, match="timed out"):
            add(impatient)
    deadline = time.monotonic() + 5
    while not fake.notes and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.notes == {"T 1": ["hi"]}  # the write landed after the client gave up


def test_a_fault_for_every_request_and_a_quick_stop(fake: Notes, client: httpx.Client) -> None:
    fake.fail_next(Fault(500, times=None))
    for _ in range(3):
        assert client.get("/tickets/T/notes").status_code == 500
    fake.faults.clear()
    fake.fail_next(Fault.slow(30))
    with pytest.raises(httpx.TimeoutException):
        client.get("/tickets/T/notes", timeout=0.1)
    # Leaving the fixture stops the server at once: the slow answer stops waiting.
