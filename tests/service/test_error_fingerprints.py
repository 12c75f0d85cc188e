"""Fingerprints: what varies between users is not part of what an error is."""

from __future__ import annotations

from service.error_fingerprints import (
    console_identity,
    normalise_frame,
    normalise_message,
    request_identity,
    template_path,
)


def test_message_placeholders() -> None:
    assert normalise_message("order 41 failed: 0xdeadBEEF\nsecond line") == (
        "order <n> failed: <hex>"
    )
    assert normalise_message("user 3f2a1b9c-1d2e-4f00-8a9b-0123456789ab not 'Ann'") == (
        "user <uuid> not '…'"
    )
    assert normalise_message('took 1.5 s for "x" and `y`, digest 9f86d081884c7d65') == (
        "took <n> s for '…' and '…', digest <hex>"
    )
    # Words made of hex letters are words.
    assert normalise_message("deadbeef cafe") == "deadbeef cafe"


def test_frames_lose_line_column_origin_query_and_hash() -> None:
    assert normalise_frame("pay (https://cdn.x/app.js?v=3#h:10:5)") == "pay (/app.js)"
    assert normalise_frame("https://x/app.js:10:5") == "/app.js"
    assert normalise_frame("async run (webpack:///src/a.ts:1)") == "async run (webpack:///src/a.ts)"
    assert normalise_frame("<anonymous>") == "<anonymous>"


def test_console_identity_ignores_volatile_parts_but_not_frames() -> None:
    one = console_identity(
        "order 41 failed", ["pay (https://a/app.js:1:2)", "x (https://a/b.js:3:4)"]
    )
    two = console_identity(
        "order 42 failed", ["pay (https://b/app.js:7:8)", "x (https://a/b.js:5:6)"]
    )
    assert one == two
    assert one.title == "order <n> failed"
    assert len(one.fingerprint) == 16
    other_frame = console_identity("order 41 failed", ["ship (https://a/app.js:1:2)"])
    assert other_frame.fingerprint != one.fingerprint
    # Only the top three frames count.
    deep = ["a (/a.js:1:1)", "b (/b.js:1:1)", "c (/c.js:1:1)"]
    assert console_identity("e", [*deep, "d (/d.js:1:1)"]) == console_identity("e", deep)


def test_request_identity_templates_ids() -> None:
    assert template_path("/api/orders/41/items/3f2a1b9c-1d2e-4f00-8a9b-0123456789ab") == (
        "/api/orders/{id}/items/{id}"
    )
    assert template_path("/api/v2/users/me") == "/api/v2/users/me"
    one = request_identity("post", "https://Shop.example/api/orders/41?x=1#y", 500)
    two = request_identity("POST", "https://shop.example/api/orders/42", 500)
    assert one == two
    assert one.title == "POST shop.example/api/orders/{id} → 500"
    assert request_identity("POST", "https://shop.example/api/orders/42", 502) != one
    assert request_identity("GET", "https://shop.example:8443/x", 0).title == (
        "GET shop.example:8443/x → no answer"
    )
    # Not a URL: still one identity, never an error.
    assert request_identity("GET", "http://[::1", 0).title == "GET http://[::1 → no answer"
