"""Generated and mutated batches against a running service (SQLite and PostgreSQL).

Whatever a browser sends, after each example: the answer was a 2xx or a 4xx; another tenant's
ordinary batch is still accepted and found by lookup; the chunk mover's backlog is empty;
search, summary and report answer 200; and erasing the example's user completes.

`make test` runs a bounded number of examples; `make fuzz` runs many more (the `fuzz` profile,
`REPLAYDESK_FUZZ_EXAMPLES` examples per database).
"""

from __future__ import annotations

import gzip
import itertools
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from service.settings import Settings
from service.web.app import create_app
from tests.conftest import AUTH, INGEST, user_path
from tests.recordings import checkout_events

# This test's own settings (other hypothesis tests keep theirs): a few dozen examples in
# `make test`, many more in `make fuzz`.
_RUNS = {
    "ci": settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    ),
    "fuzz": settings(
        max_examples=int(os.environ.get("REPLAYDESK_FUZZ_EXAMPLES", "5000")),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    ),
}
RUN = _RUNS[os.environ.get("REPLAYDESK_FUZZ_PROFILE", "ci")]

NOW = int(time.time() * 1000)
_tenant_sessions = itertools.count()

# --- what a browser (or someone holding the public key) may send ------------------------------

nasty_text = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Z", "Cc", "Cf"]),
    max_size=40,
) | st.sampled_from(["", ".", "..", "a/b", "x\n", "\x00", "%2F", "é" * 300, "../../etc", " "])
session_ids = st.from_regex(r"\A[A-Za-z0-9_-]{8,24}\Z") | nasty_text
user_ids = st.none() | st.from_regex(r"\A[a-z0-9@.+-]{1,20}\Z") | nasty_text
numbers = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from([0, -1, 2**53, 2**63, 2**64, 99_999_999_999_999_999])
)
timestamps = st.integers(NOW - 3_600_000, NOW + 60_000) | numbers
json_leaf = st.none() | st.booleans() | numbers | nasty_text
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def events(draw: st.DrawFn) -> Any:
    ts = draw(timestamps)
    kind = draw(
        st.sampled_from(
            ["meta", "console", "network", "click", "identify", "label", "input", "snapshot", "raw"]
        )
    )
    if kind == "meta":
        return {
            "type": 4,
            "timestamp": ts,
            "data": {"href": draw(nasty_text), "width": 1, "height": 1},
        }
    if kind == "console":
        payload = {
            "level": draw(st.sampled_from(["error", "assert", "log", 7])),
            "payload": draw(st.lists(nasty_text | st.just('{"a":[1,[2]]}'), max_size=3)),
            "trace": draw(st.lists(nasty_text, max_size=3)),
        }
        return {
            "type": 6,
            "timestamp": ts,
            "data": {"plugin": "rrweb/console@1", "payload": payload},
        }
    if kind == "network":
        payload = {
            "kind": draw(st.sampled_from(["fetch", "xhr", "beacon", 5])),
            "method": draw(nasty_text),
            "url": draw(nasty_text),
            "status": draw(numbers),
            "duration": draw(numbers),
        }
        if draw(st.booleans()):
            payload["error"] = draw(nasty_text)
        return {
            "type": 6,
            "timestamp": ts,
            "data": {"plugin": "replaydesk/network@1", "payload": payload},
        }
    if kind == "click":
        return {
            "type": 3,
            "timestamp": ts,
            "data": {
                "source": 2,
                "type": 2,
                "id": draw(numbers),
                "x": draw(numbers),
                "y": draw(numbers),
            },
        }
    if kind == "identify":
        return {
            "type": 5,
            "timestamp": ts,
            "data": {"tag": "replaydesk/identify", "payload": {"userId": draw(nasty_text)}},
        }
    if kind == "label":
        return {
            "type": 5,
            "timestamp": ts,
            "data": {
                "tag": "replaydesk/click",
                "payload": {
                    "label": draw(nasty_text),
                    "selector": draw(nasty_text),
                    "tag": draw(nasty_text),
                },
            },
        }
    if kind == "input":
        return {"type": 3, "timestamp": ts, "data": {"source": 5, "id": draw(numbers), "text": "*"}}
    if kind == "snapshot":
        return {"type": 2, "timestamp": ts, "data": {"node": draw(json_values)}}
    return {"type": draw(numbers), "timestamp": ts, "data": draw(json_values)}


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, dict[str, str], str | None, Any]:
    """(body bytes, extra headers, sent_at parameter, the batch before mutation)."""
    batch: dict[str, Any] = {
        "session_id": draw(session_ids),
        "seq": draw(st.integers(0, 5) | numbers),
        "events": draw(st.lists(events(), max_size=8)),
    }
    user = draw(user_ids)
    if user is not None:
        batch["user_id"] = user
    if draw(st.booleans()):
        batch["final"] = draw(st.booleans() | numbers)
    if draw(st.integers(0, 3)) == 0:
        batch["id_deltas"] = draw(st.booleans() | json_leaf)  # node IDs said to be differences
    if draw(st.integers(0, 9)) == 0:
        batch[draw(nasty_text)] = draw(json_leaf)  # an unknown field
    data = msgspec.json.encode(batch)
    mutation = draw(st.sampled_from(["none", "none", "none", "flip", "cut", "utf8", "deep", "dup"]))
    if mutation == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    elif mutation == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif mutation == "utf8":
        at = data.find(b'"events":[') + 10
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]))
        data = data[:at] + b'{"type":6,"timestamp":1,"data":"' + bad + b'"},' + data[at:]
    elif mutation == "deep":
        depth = draw(st.sampled_from([50, 900, 3000, 15_000]))
        at = data.find(b'"events":[') + 10
        data = (
            data[:at]
            + b'{"type":2,"timestamp":1,"data":'
            + b"[" * depth
            + b"]" * depth
            + b"},"
            + data[at:]
        )
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        data = gzip.compress(data)
        if draw(st.booleans()):
            headers["Content-Encoding"] = "gzip"
        if draw(st.integers(0, 4)) == 0:
            data = data[: len(data) // 2]
    sent_at = draw(st.none() | st.integers(NOW - 10**9, NOW + 10**9).map(str) | nasty_text)
    return data, headers, sent_at, (batch if mutation == "dup" else None)


# --- the running service ----------------------------------------------------------------------


@pytest.fixture
def service(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(settings)) as client:
        yield client


def post(client: TestClient[Any], data: bytes, headers: dict[str, str], sent_at: str | None) -> Any:
    url = "/api/v1/ingest" + ("" if sent_at is None else f"?sent_at={quote(sent_at, safe='')}")
    return client.post(url, content=data, headers={**INGEST, **headers})


def backlog_after_moving(client: TestClient[Any]) -> int:
    """The chunk journal's size once moves have run: a move of the service's own may hold
    entries (locked, or read and not yet removed) while this one runs, so look again briefly."""
    services = client.app.state.services
    deadline = time.monotonic() + 5
    while True:
        client.blocking_portal.call(services.ingestor.mover.flush)
        backlog = client.blocking_portal.call(services.store.journal_backlog)
        left = backlog.waiting + backlog.quarantined
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@RUN
@given(example=bodies())
def test_nothing_a_browser_sends_breaks_the_service(
    service: TestClient[Any], example: tuple[bytes, dict[str, str], str | None, Any]
) -> None:
    data, headers, sent_at, duplicate = example
    answer = post(service, data, headers, sent_at)
    assert answer.status_code < 500, answer.text
    if duplicate is not None:
        again = post(service, data, headers, sent_at)
        assert again.status_code < 500, again.text
        if answer.status_code == 202:
            assert again.json()["status"] == "duplicate"

    tenant_session = f"sess-tenant-{next(_tenant_sessions):08d}"
    ordinary = {
        "session_id": tenant_session,
        "seq": 0,
        "user_id": "u-other-tenant",
        "events": checkout_events(int(time.time() * 1000)),
    }
    sent = service.post("/api/v1/ingest", content=msgspec.json.encode(ordinary), headers=INGEST)
    assert sent.status_code == 202, sent.text
    latest = service.get("/api/v1/users/u-other-tenant/sessions/latest", headers=AUTH)
    assert latest.status_code == 200 and latest.json()["session_id"] == tenant_session

    assert backlog_after_moving(service) == 0
    assert service.get("/api/v1/sessions", headers=AUTH).status_code == 200
    if answer.status_code != 202:
        return
    session_id = answer.json()["session_id"]
    path = quote(session_id, safe="")
    for suffix in ("", "/report", "/events"):
        read = service.get(f"/api/v1/sessions/{path}{suffix}", headers=AUTH)
        assert read.status_code == 200, (suffix, read.text)
    user = service.get(f"/api/v1/sessions/{path}", headers=AUTH).json()["user_id"]
    if user is not None:
        erased = service.delete(user_path(user), headers=AUTH)
        assert erased.status_code < 300, erased.text
        gone = service.get(f"/api/v1/sessions/{path}", headers=AUTH)
        assert gone.status_code == 404, gone.text
