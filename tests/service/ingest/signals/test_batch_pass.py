"""Behaviour of the ingest-time pass: stored events, validation errors and derived signals."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from service.error_fingerprints import console_identity, request_identity
from service.errors import BatchInvalid
from service.ingest.signals.batch_pass import process_events
from service.ingest.signals.console_errors import MAX_MESSAGE_CHARS, MAX_STACK_LINES
from service.signal_kinds import Signal, kind_of, signal_data

T0 = 1_700_000_000_000
BUTTON_ID = 12
EMAIL_INPUT_ID = 15
NOTE_INPUT_ID = 17
CARD = "4111 1111 1111 1111"

Event = dict[str, Any]


# --- event builders, shaped like what rrweb and the recorder send -----------------------------


def meta(ts: int, href: str) -> Event:
    return {"type": 4, "data": {"href": href, "width": 1280, "height": 720}, "timestamp": ts}


def full_snapshot(ts: int) -> Event:
    def element(node_id: int, tag: str, attrs: dict[str, str], children: list[Any]) -> Any:
        return {
            "type": 2,
            "tagName": tag,
            "attributes": attrs,
            "childNodes": children,
            "id": node_id,
        }

    text = {"type": 3, "textContent": "Place order", "id": 13}
    body = element(
        11,
        "body",
        {},
        [
            element(BUTTON_ID, "button", {"id": "pay"}, [text]),
            element(EMAIL_INPUT_ID, "input", {"type": "email", "value": "****"}, []),
            element(NOTE_INPUT_ID, "textarea", {}, []),
        ],
    )
    html = element(3, "html", {"lang": "en"}, [element(4, "head", {}, []), body])
    document = {"type": 0, "childNodes": [{"type": 1, "name": "html", "id": 2}, html], "id": 1}
    return {
        "type": 2,
        "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
        "timestamp": ts,
    }


def mutation(ts: int) -> Event:
    added = {"type": 3, "textContent": "Processing…", "id": 90}
    return {
        "type": 3,
        "data": {
            "source": 0,
            "texts": [],
            "attributes": [{"id": BUTTON_ID, "attributes": {"disabled": ""}}],
            "removes": [],
            "adds": [{"parentId": 11, "nextId": None, "node": added}],
        },
        "timestamp": ts,
    }


def mouse_move(ts: int) -> Event:
    positions = [{"x": 400, "y": 300, "id": 11, "timeOffset": -20}]
    return {"type": 3, "data": {"source": 1, "positions": positions}, "timestamp": ts}


def mouse(ts: int, kind: int, node_id: int = BUTTON_ID, x: int = 640, y: int = 410) -> Event:
    data = {"source": 2, "type": kind, "id": node_id, "x": x, "y": y, "pointerType": 0}
    return {"type": 3, "data": data, "timestamp": ts}


def click(ts: int, node_id: int = BUTTON_ID) -> list[Event]:
    """The three interactions a real click produces: mousedown, mouseup, click."""
    return [mouse(ts - 80, 1, node_id), mouse(ts - 2, 0, node_id), mouse(ts, 2, node_id)]


def click_label(ts: int, label: str, selector: str = "button#pay", tag: str = "button") -> Event:
    payload = {"label": label, "selector": selector, "tag": tag}
    return {"type": 5, "data": {"tag": "replaydesk/click", "payload": payload}, "timestamp": ts}


def typed(ts: int, node_id: int, text: str) -> Event:
    data = {"source": 5, "text": text, "isChecked": False, "id": node_id}
    return {"type": 3, "data": data, "timestamp": ts}


def console(ts: int, level: str, args: list[str], trace: list[str] | None = None) -> Event:
    payload = {"level": level, "trace": trace or [], "payload": args}
    return {"type": 6, "data": {"plugin": "rrweb/console@1", "payload": payload}, "timestamp": ts}


def network(ts: int, **payload: Any) -> Event:
    body = {"kind": "fetch", "method": "GET", "url": "https://api.example.com/x", "status": 200}
    body |= {"duration": 40.5} | payload
    return {"type": 6, "data": {"plugin": "replaydesk/network@1", "payload": body}, "timestamp": ts}


def navigation(ts: int, url: str, kind: str = "push") -> Event:
    payload = {"url": url, "kind": kind}
    return {
        "type": 6,
        "data": {"plugin": "replaydesk/navigation@1", "payload": payload},
        "timestamp": ts,
    }


def identify(ts: int, user_id: Any) -> Event:
    payload = {"userId": user_id, "traits": {"plan": "pro"}}
    return {"type": 5, "data": {"tag": "replaydesk/identify", "payload": payload}, "timestamp": ts}


def as_raw(body: bytes) -> list[msgspec.Raw]:
    """Split a batch body the way the ingest endpoint does."""
    return msgspec.json.decode(body, type=list[msgspec.Raw])


def run(*events: Event | list[Event]) -> Any:
    flat: list[Event] = []
    for event in events:
        flat.extend(event if isinstance(event, list) else [event])
    return process_events(as_raw(json.dumps(flat).encode()))


def stored(batch: Any) -> list[Event]:
    events: list[Event] = json.loads(batch.events_json)
    return events


def of_kind(batch: Any, kind: str) -> list[Signal]:
    return [signal for signal in batch.signals if kind_of(signal) == kind]


def page_load(ts: int = T0) -> list[Event]:
    return [meta(ts, "https://shop.example.com/checkout"), full_snapshot(ts + 1)]


# --- stored events ----------------------------------------------------------------------------


def test_empty_batch() -> None:
    batch = process_events([])
    assert (batch.events_json, batch.event_count, batch.first_ts, batch.last_ts) == (
        b"[]",
        0,
        None,
        None,
    )
    assert batch.signals == []
    assert batch.identified_user_id is None


def test_events_needing_no_scrubbing_are_stored_byte_for_byte() -> None:
    pieces = [
        b'{"timestamp": 1700000000000, "type": 4, "data": {"href": "https://x.example/caf\\u00e9",'
        b' "width": 1280, "height": 720}}',
        b'{"type":2,"data":{"node":{"type":0,"childNodes":[],"id":1},'
        b'"initialOffset":{"left":0,"top":0}},"timestamp":1700000000001}',
        b'{"type":6,"timestamp":1700000000002,"data":{"plugin":"rrweb/console@1","payload":'
        b'{"level":"warn","trace":["at f (https://x.example/app.js:1:2)"],'
        b'"payload":["\\"r\\u00e9sum\\u00e9 saved\\"","{\\"id\\":7}"]}}}',
        b'{"type":3,"data":{"source":2,"type":2,"id":12,"x":1.5,"y":2},"timestamp":1700000000003}',
    ]
    batch = process_events(as_raw(b"[ " + b" ,\n".join(pieces) + b" ]"))
    assert batch.events_json == b"[" + b",".join(pieces) + b"]"


def test_a_scrubbed_event_keeps_its_other_numbers_as_sent() -> None:
    # Rewriting the href must not choke on (or round) numbers elsewhere in the event.
    raw = (
        b'{"type":4,"timestamp":1700000000000,"data":{"href":"https://x.example/?token=abc",'
        b'"width":1e999,"height":720.50,"dpr":0.1}}'
    )
    batch = process_events(as_raw(b"[" + raw + b"]"))
    assert batch.events_json == (
        b'[{"type":4,"timestamp":1700000000000,"data":{"href":"https://x.example/?token=[secret]",'
        b'"width":1e999,"height":720.50,"dpr":0.1}}]'
    )


def test_events_are_stably_sorted_by_timestamp() -> None:
    batch = run(
        mouse_move(T0 + 30),
        {"type": 0, "data": {}, "timestamp": T0 + 10},
        {"type": 1, "data": {}, "timestamp": T0 + 10},
        meta(T0, "https://shop.example.com/"),
    )
    assert [(e["type"], e["timestamp"]) for e in stored(batch)] == [
        (4, T0),
        (0, T0 + 10),
        (1, T0 + 10),
        (3, T0 + 30),
    ]
    assert (batch.event_count, batch.first_ts, batch.last_ts) == (4, T0, T0 + 30)


def test_pii_is_gone_from_stored_events_and_signals() -> None:
    secrets = [
        "bob@example.com",
        "4111111111111111",
        CARD,
        "s3cr3tT0ken",
        "hunter2",
        "sk_live_51HqLyjWDarjtT1zdp7dc",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "session=abc",
    ]
    batch = run(
        meta(T0, "https://shop.example.com/account?token=s3cr3tT0ken&email=bob%40example.com"),
        console(
            T0 + 10,
            "error",
            [
                '"Payment failed for bob@example.com"',
                f'"card {CARD}"',
                '{"key":"sk_live_51HqLyjWDarjtT1zdp7dc"}',
            ],
            ["at pay (https://shop.example.com/app.js:10:5)"],
        ),
        network(
            T0 + 20,
            method="POST",
            url="https://api.example.com/login?access_token=s3cr3tT0ken",
            status=401,
            requestHeaders={
                "Authorization": "Bearer s3cr3tT0ken",
                "Content-Type": "application/json",
            },
            responseHeaders={"Set-Cookie": "session=abc", "X-Request-Id": "r-1"},
            requestBody='{"email":"bob@example.com","password":"hunter2"}',
            responseBody='{"jwt":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}',
            error="401 for bob@example.com",
        ),
        navigation(T0 + 30, "https://shop.example.com/users/bob@example.com"),
        click(T0 + 140),
        click_label(T0 + 140, "Signed in as bob@example.com"),
    )
    everything = batch.events_json.decode() + msgspec.json.encode(batch.signals).decode()
    for secret in secrets:
        assert secret not in everything
    events = stored(batch)
    assert events[0]["data"] == {
        "href": "https://shop.example.com/account?token=[secret]&email=[email]",
        "width": 1280,
        "height": 720,
    }
    request = events[2]["data"]["payload"]
    assert request["requestHeaders"] == {"Content-Type": "application/json"}
    assert request["responseHeaders"] == {"X-Request-Id": "r-1"}
    assert request["requestBody"] == '{"email":"[email]","password":"[secret]"}'
    # Console arguments stay valid JSON after scrubbing, so the player can still show them.
    args = events[1]["data"]["payload"]["payload"]
    assert [json.loads(arg) for arg in args] == [
        "Payment failed for [email]",
        "card [card]",
        {"key": "[secret]"},
    ]


def test_order_ids_and_timestamps_survive() -> None:
    message = '"Order 4000123456789010 placed at 1700000000004 (ref ORD-1234567890128)"'
    batch = run(console(T0, "error", [message]))
    assert stored(batch)[0]["data"]["payload"]["payload"] == [message]
    assert signal_data(of_kind(batch, "console_error")[0])["message"] == json.loads(message)


# --- invalid events ---------------------------------------------------------------------------


HEAD_ERROR = "expected an object with integer 'type' and 'timestamp'"


@pytest.mark.parametrize(
    ("bad_event", "message"),
    [
        (b"1", f"events[3]: {HEAD_ERROR}"),
        (b'"event"', f"events[3]: {HEAD_ERROR}"),
        (b"null", f"events[3]: {HEAD_ERROR}"),
        (b"[3, 1700000000000]", f"events[3]: {HEAD_ERROR}"),
        (b'{"timestamp":1700000000000,"data":{}}', f"events[3]: {HEAD_ERROR}"),
        (b'{"type":3,"data":{}}', f"events[3]: {HEAD_ERROR}"),
        (b'{"type":"3","timestamp":1700000000000}', f"events[3]: {HEAD_ERROR}"),
        (b'{"type":3,"timestamp":"1700000000000"}', f"events[3]: {HEAD_ERROR}"),
        (b'{"type":3.0,"timestamp":1700000000000}', f"events[3]: {HEAD_ERROR}"),
        (b'{"type":true,"timestamp":1700000000000}', f"events[3]: {HEAD_ERROR}"),
        (b'{"type":3,"timestamp":1.7e12}', f"events[3]: {HEAD_ERROR}"),
        (b'{"type":3,"timestamp":-5}', "events[3]: 'timestamp' must not be negative"),
        (b'{"type":7,"timestamp":1700000000000}', "events[3]: unknown event type 7, expected 0..6"),
        (
            b'{"type":-1,"timestamp":1700000000000}',
            "events[3]: unknown event type -1, expected 0..6",
        ),
    ],
)
def test_invalid_event_fails_the_batch_naming_its_index(bad_event: bytes, message: str) -> None:
    good = json.dumps([meta(T0, "https://x.example/"), mouse_move(T0 + 1), mutation(T0 + 2)])
    body = good.encode()[:-1] + b"," + bad_event + b"]"
    with pytest.raises(BatchInvalid) as caught:
        process_events(as_raw(body))
    assert caught.value.detail == message


@pytest.mark.parametrize(
    "event",
    [
        {"type": 6, "data": {"plugin": "rrweb/console@1", "payload": "oops"}, "timestamp": T0},
        {
            "type": 6,
            "data": {"plugin": "rrweb/console@1", "payload": {"level": 3}},
            "timestamp": T0,
        },
        {"type": 6, "data": {"plugin": "replaydesk/network@1", "payload": [1, 2]}, "timestamp": T0},
        {"type": 6, "data": {"plugin": "replaydesk/navigation@1", "payload": {}}, "timestamp": T0},
        {
            "type": 6,
            "data": {"plugin": "rrweb/sequential-id@1", "payload": {"id": 4}},
            "timestamp": T0,
        },
        {"type": 6, "data": "not an object", "timestamp": T0},
        {"type": 5, "data": {"tag": "replaydesk/click", "payload": ["Buy"]}, "timestamp": T0},
        {
            "type": 5,
            "data": {"tag": "replaydesk/identify", "payload": {"userId": 42}},
            "timestamp": T0,
        },
        {"type": 5, "data": {"tag": "checkout-step", "payload": {"step": 2}}, "timestamp": T0},
        {"type": 4, "data": {"width": 10}, "timestamp": T0},
        {"type": 3, "data": {"positions": []}, "timestamp": T0},
        {"type": 3, "data": {"source": 2, "type": 2}, "timestamp": T0},
        {"type": 3, "timestamp": T0},
    ],
)
def test_unexpected_payload_shapes_are_stored_as_received_without_signals(event: Event) -> None:
    raw = json.dumps(event).encode()
    batch = process_events(as_raw(b"[" + raw + b"]"))
    assert batch.events_json == b"[" + raw + b"]"
    assert batch.signals == []
    assert batch.identified_user_id is None


def test_unexpected_console_and_network_shapes_are_still_scrubbed() -> None:
    batch = run(
        {
            "type": 6,
            "data": {"plugin": "rrweb/console@1", "payload": "mail bob@example.com"},
            "timestamp": T0,
        },
        {
            "type": 6,
            "data": {
                "plugin": "replaydesk/network@1",
                "payload": {"url": "https://api.example.com/?token=abc", "note": [CARD]},
            },
            "timestamp": T0 + 1,
        },
    )
    events = stored(batch)
    assert events[0]["data"]["payload"] == "mail [email]"
    assert events[1]["data"]["payload"] == {
        "url": "https://api.example.com/?token=[secret]",
        "note": ["[card]"],
    }
    assert batch.signals == []


# --- page views and identity ------------------------------------------------------------------


def test_page_views_come_from_meta_and_navigation() -> None:
    batch = run(
        page_load(),
        navigation(T0 + 500, "https://shop.example.com/orders?session=xyz"),
        navigation(T0 + 900, "https://shop.example.com/orders#details", kind="hash"),
    )
    assert [(s.ts, signal_data(s)) for s in of_kind(batch, "page_view")] == [
        (T0, {"url": "https://shop.example.com/checkout"}),
        (T0 + 500, {"url": "https://shop.example.com/orders?session=[secret]", "via": "push"}),
        (T0 + 900, {"url": "https://shop.example.com/orders#details", "via": "hash"}),
    ]
    assert stored(batch)[2]["data"]["payload"] == {
        "url": "https://shop.example.com/orders?session=[secret]",
        "kind": "push",
    }


def test_last_identify_in_time_order_wins() -> None:
    batch = run(identify(T0 + 50, "u-late"), page_load(), identify(T0 + 10, "u-early"))
    assert batch.identified_user_id == "u-late"


def test_overlong_user_id_is_ignored() -> None:
    assert run(identify(T0, "u" * 257)).identified_user_id is None


# --- clicks -----------------------------------------------------------------------------------


def test_click_carries_position_and_the_recorder_label() -> None:
    batch = run(
        page_load(), click(T0 + 100), click_label(T0 + 130, "Place order"), mutation(T0 + 150)
    )
    assert [(s.ts, signal_data(s)) for s in of_kind(batch, "click")] == [
        (
            T0 + 100,
            {
                "node_id": BUTTON_ID,
                "x": 640,
                "y": 410,
                "label": "Place order",
                "selector": "button#pay",
                "tag": "button",
            },
        )
    ]


def test_a_label_belongs_to_the_click_it_follows_even_within_one_millisecond() -> None:
    # Three unlabelled clicks and a labelled one, all at one millisecond (a script, a test):
    # the label is the last click's, not the first unlabelled one's.
    batch = run(
        page_load(),
        click(T0 + 100),
        click(T0 + 100),
        click(T0 + 100, node_id=EMAIL_INPUT_ID),
        click_label(T0 + 100, "", selector="input#email", tag="input"),
    )
    assert [signal_data(s).get("selector") for s in of_kind(batch, "click")] == [
        None,
        None,
        "input#email",
    ]


def test_label_further_than_100_ms_away_is_not_attached() -> None:
    batch = run(page_load(), click(T0 + 100), click_label(T0 + 250, "Place order"))
    assert signal_data(of_kind(batch, "click")[0]) == {"node_id": BUTTON_ID, "x": 640, "y": 410}


def test_label_text_is_scrubbed_in_signal_and_event() -> None:
    batch = run(click(T0 + 100), click_label(T0 + 100, "Log out bob@example.com"))
    assert signal_data(of_kind(batch, "click")[0])["label"] == "Log out [email]"
    label_event = next(e for e in stored(batch) if e["type"] == 5)
    assert label_event["data"]["payload"]["label"] == "Log out [email]"


def test_clicks_are_signals_and_activity_is_kept_as_merged_spans() -> None:
    # Struggles are derived over the whole session (tests/service/test_struggles.py); a batch
    # gives its clicks and when the page was busy.
    batch = run(
        page_load(),
        click(T0 + 100),
        mutation(T0 + 400),
        typed(T0 + 900, NOTE_INPUT_ID, "x"),
        mouse_move(T0 + 2500),
        network(T0 + 6000, duration=500.7),
    )
    assert [kind_of(s) for s in batch.signals] == ["page_view", "click", "input"]
    assert batch.activity == [
        (T0, T0),
        (T0 + 400, T0 + 400),
        (T0 + 900, T0 + 900),
        (T0 + 5500, T0 + 6000),
    ]


# --- inputs -----------------------------------------------------------------------------------


def test_one_input_signal_per_run_on_a_node_without_the_text() -> None:
    batch = run(
        page_load(),
        typed(T0 + 100, EMAIL_INPUT_ID, "b"),
        mutation(T0 + 110),
        typed(T0 + 120, EMAIL_INPUT_ID, "bo"),
        typed(T0 + 140, EMAIL_INPUT_ID, "bob@example.com"),
        typed(T0 + 500, NOTE_INPUT_ID, "leave at door"),
        typed(T0 + 900, EMAIL_INPUT_ID, "bob@example.co"),
    )
    assert [(s.ts, signal_data(s)) for s in of_kind(batch, "input")] == [
        (T0 + 100, {"node_id": EMAIL_INPUT_ID}),
        (T0 + 500, {"node_id": NOTE_INPUT_ID}),
        (T0 + 900, {"node_id": EMAIL_INPUT_ID}),
    ]


# --- console errors ---------------------------------------------------------------------------


def test_console_error_with_stack() -> None:
    trace = [
        "at submitOrder (https://shop.example.com/static/app.js:120:17)",
        "at HTMLButtonElement.onClick (https://shop.example.com/static/app.js:88:3)",
    ]
    batch = run(
        page_load(),
        console(T0 + 200, "error", ['"Checkout failed:"', '{"status":500}', "42"], trace),
    )
    (signal,) = of_kind(batch, "console_error")
    assert signal.ts == T0 + 200
    assert signal_data(signal) == {
        "message": 'Checkout failed: {"status":500} 42',
        "stack": trace,
        "level": "error",
        "fingerprint": console_identity('Checkout failed: {"status":500} 42', trace).fingerprint,
    }


def test_urls_in_console_messages_and_stacks_lose_their_secrets() -> None:
    batch = run(
        console(
            T0,
            "error",
            ['"GET https://api.example.com/me?access_token=t0kEn9&page=2 401"'],
            ["at load (https://cdn.example.com/app.js?api_key=k3yV4lue:1:2)"],
        )
    )
    everything = batch.events_json.decode() + msgspec.json.encode(batch.signals).decode()
    assert "t0kEn9" not in everything and "k3yV4lue" not in everything
    (signal,) = of_kind(batch, "console_error")
    assert signal_data(signal) == {
        "message": "GET https://api.example.com/me?access_token=[secret]&page=2 401",
        "stack": ["at load (https://cdn.example.com/app.js?api_key=[secret]:1:2)"],
        "level": "error",
        "fingerprint": console_identity(
            "GET https://api.example.com/me?access_token=[secret]&page=3 404",
            ["load (https://cdn.example.com/app.js)"],
        )[0],
    }


def test_uncaught_error_and_failed_assert_are_console_errors_but_warnings_are_not() -> None:
    uncaught = "\"TypeError: Cannot read properties of undefined (reading 'total')\""
    batch = run(
        console(T0, "error", [uncaught], ["at render (https://shop.example.com/app.js:1:2)"]),
        console(T0 + 1, "assert", ['"cart must not be empty"']),
        console(T0 + 2, "warn", ['"deprecated"']),
        console(T0 + 3, "log", ['"hello"']),
    )
    assert [
        (signal_data(s)["level"], signal_data(s)["message"])
        for s in of_kind(batch, "console_error")
    ] == [
        ("error", "TypeError: Cannot read properties of undefined (reading 'total')"),
        ("assert", "cart must not be empty"),
    ]


def test_console_error_message_and_stack_are_capped() -> None:
    trace = [f"at f{i} (https://x.example/app.js:{i}:1)" for i in range(80)]
    batch = run(console(T0, "error", [json.dumps("x" * 1500), json.dumps("y" * 1500)], trace))
    data = signal_data(of_kind(batch, "console_error")[0])
    assert len(data["message"]) == MAX_MESSAGE_CHARS
    assert data["stack"] == trace[:MAX_STACK_LINES]
    # The stored event keeps everything the recorder sent.
    assert len(stored(batch)[0]["data"]["payload"]["trace"]) == 80


# --- failed requests --------------------------------------------------------------------------


def test_failed_requests() -> None:
    batch = run(
        page_load(),
        network(
            T0 + 100,
            method="POST",
            url="https://api.example.com/orders",
            status=500,
            duration=120.5,
        ),
        network(
            T0 + 200,
            kind="fetch",
            method="GET",
            url="https://api.example.com/cart?api_key=k1",
            status=0,
            duration=3,
            error="TypeError: Failed to fetch",
        ),
        network(
            T0 + 300,
            kind="xhr",
            method="GET",
            url="https://api.example.com/slow",
            status=0,
            duration=30000,
        ),
        network(T0 + 400, method="GET", url="https://api.example.com/ok", status=204),
        network(T0 + 500, method="GET", url="https://api.example.com/moved", status=302),
        network(
            T0 + 600, kind="beacon", method="POST", url="https://api.example.com/ping", status=0
        ),
    )
    assert [(s.ts, signal_data(s)) for s in of_kind(batch, "failed_request")] == [
        (
            T0 + 100,
            {
                "method": "POST",
                "url": "https://api.example.com/orders",
                "status": 500,
                "duration": 120.5,
                "fingerprint": request_identity("POST", "https://api.example.com/orders", 500)[0],
            },
        ),
        (
            T0 + 200,
            {
                "method": "GET",
                "url": "https://api.example.com/cart?api_key=[secret]",
                "status": 0,
                "duration": 3,
                "error": "TypeError: Failed to fetch",
                "fingerprint": request_identity("GET", "https://api.example.com/cart", 0)[0],
            },
        ),
        (
            T0 + 300,
            {
                "method": "GET",
                "url": "https://api.example.com/slow",
                "status": 0,
                "duration": 30000,
                "fingerprint": request_identity("GET", "https://api.example.com/slow", 0)[0],
            },
        ),
    ]


# --- the whole session ------------------------------------------------------------------------


def test_a_realistic_checkout_yields_time_ordered_signals() -> None:
    batch = run(
        identify(T0 + 5, "u42"),
        page_load(),
        typed(T0 + 300, EMAIL_INPUT_ID, "bob@example.com"),
        click(T0 + 1000),
        click_label(T0 + 1001, "Place order"),
        network(
            T0 + 1400, method="POST", url="https://api.example.com/orders", status=502, duration=350
        ),
        console(
            T0 + 1410, "error", ['"Order failed"'], ["at pay (https://shop.example.com/app.js:1:1)"]
        ),
        mutation(T0 + 1420),
        mouse_move(T0 + 2500),
    )
    assert [(kind_of(s), s.ts) for s in batch.signals] == [
        ("page_view", T0),
        ("input", T0 + 300),
        ("click", T0 + 1000),
        ("failed_request", T0 + 1400),
        ("console_error", T0 + 1410),
    ]
    assert batch.identified_user_id == "u42"
    assert json.loads(msgspec.json.encode(batch.signals))  # every signal is JSON-serialisable
    assert all(signal_data(s) for s in batch.signals)


def test_a_logged_error_gives_its_frames_to_the_trace_and_keeps_only_its_message() -> None:
    # What rrweb's console plugin sends for console.error('Checkout failed', error).
    thrown = (
        "Error: Payment failed: HTTP 500\n"
        "    at https://shop.example.com/demo.js:84:43\n"
        "    at async placeOrder (https://shop.example.com/demo.js:80:5)\n"
        "End of stack for Error object"
    )
    logged_at = ["console.error (https://shop.example.com/demo.js:88:19)"]
    batch = run(
        console(T0, "error", ['"Checkout failed"', json.dumps(thrown)], logged_at),
    )
    (signal,) = of_kind(batch, "console_error")
    assert signal_data(signal) == {
        "message": "Checkout failed Error: Payment failed: HTTP 500",
        "stack": [
            "https://shop.example.com/demo.js:84:43",
            "async placeOrder (https://shop.example.com/demo.js:80:5)",
        ],
        "level": "error",
        # The same error whatever it said about HTTP 500 and wherever demo.js was served from.
        "fingerprint": console_identity(
            "Checkout failed Error: Payment failed: HTTP 404",
            ["/demo.js:1:1", "async placeOrder (https://cdn.example/demo.js?v=2:9:9)"],
        ).fingerprint,
    }
    (event,) = stored(batch)
    assert event["data"]["payload"] == {
        "level": "error",
        "trace": signal_data(signal)["stack"],
        "payload": ['"Checkout failed"', '"Error: Payment failed: HTTP 500"'],
    }
    assert "End of stack" not in batch.events_json.decode()


def test_only_errors_and_warnings_keep_a_stack() -> None:
    call_site = ["log (https://shop.example.com/app.js:5:9)"]
    batch = run(
        console(T0, "info", ['"added to cart"'], call_site),
        console(T0 + 1, "log", [json.dumps("Error: x\nEnd of stack for Error object")], call_site),
        console(T0 + 2, "warn", ['"slow"'], call_site),
        console(T0 + 3, "trace", ['"here"'], call_site),
    )
    payloads = [event["data"]["payload"] for event in stored(batch)]
    assert [(p["level"], p["trace"], p["payload"]) for p in payloads] == [
        ("info", [], ['"added to cart"']),
        ("log", [], ['"Error: x"']),
        ("warn", call_site, ['"slow"']),
        ("trace", call_site, ['"here"']),
    ]
