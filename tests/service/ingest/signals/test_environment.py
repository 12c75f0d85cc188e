"""The page event: the session's environment from a user agent string, and reloads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.ingest.signals.batch_pass import process_events
from service.ingest.signals.environment import parse_user_agent
from service.session_environment import SessionEnvironment, Size
from service.signal_kinds import PageViewSignal
from tests.recordings import CHROME_WINDOWS, page_event
from tests.service.ingest.signals.test_batch_pass import T0, as_raw, page_load, run, stored


def page(ts: int, **payload: Any) -> dict[str, Any]:
    fields = {"url": "https://shop.example.com/checkout", "release": "4.2.0"}
    return page_event(ts, **(fields | {"environment": "production"} | payload))


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (CHROME_WINDOWS, ("Chrome", "131", "Windows", "10", "desktop")),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            ("Mobile Safari", "17.5", "iOS", "17.5", "mobile"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            ("Chrome", "131", "Android", "14", "tablet"),
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7; rv:133.0) Gecko/20100101 "
            "Firefox/133.0",
            ("Firefox", "133", "Mac OS X", "10.15", "desktop"),
        ),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            ("Googlebot", "2.1", None, None, "bot"),
        ),
        ("nonsense", (None, None, None, None, "desktop")),
    ],
)
def test_user_agents_read_as_browser_os_and_device(agent: str, expected: tuple[Any, ...]) -> None:
    parsed = parse_user_agent(agent)
    assert (
        parsed.browser,
        parsed.browser_version,
        parsed.os,
        parsed.os_version,
        parsed.device,
    ) == expected


def test_the_batchs_last_page_event_is_the_environment() -> None:
    batch = run(page_load(), page(T0 + 5, release="4.1.0"), page(T0 + 9))
    assert batch.environment == SessionEnvironment(
        browser="Chrome",
        browser_version="131",
        os="Windows",
        os_version="10",
        device="desktop",
        viewport=Size(1280, 720),
        screen=Size(1920, 1080),
        pixel_ratio=1.5,
        language="en-NZ",
        time_zone="Pacific/Auckland",
        release="4.2.0",
        environment="production",
        user_agent=CHROME_WINDOWS,
    )
    assert batch.environment.describe() == (
        "Chrome 131 on Windows 10 (desktop), viewport 1280×720, en-NZ, Pacific/Auckland, "
        "release 4.2.0 (production)"
    )


def test_a_reload_is_a_page_view_and_secrets_leave_the_url() -> None:
    batch = run(
        page_load(), page(T0 + 5, navigation="reload", url="https://x.example/?token=s3cr3t")
    )
    reloads = [s for s in batch.signals if isinstance(s, PageViewSignal) and s.via == "reload"]
    assert reloads == [
        PageViewSignal(ts=T0 + 5, url="https://x.example/?token=[secret]", via="reload")
    ]
    assert "s3cr3t" not in batch.events_json.decode()
    assert stored(batch)[-1]["data"]["payload"]["url"] == "https://x.example/?token=[secret]"


def test_hostile_values_are_cleaned_or_the_event_ignored() -> None:
    batch = run(
        page(
            T0,
            release="4.2\x00\x1b[31m" + "9" * 500,
            language="en\nNZ",
            environment="card 4111 1111 1111 1111",
        )
    )
    assert batch.environment is not None
    assert batch.environment.release == "4.2[31m" + "9" * 121
    assert batch.environment.language == "enNZ"
    assert "4111" not in (batch.environment.environment or "")
    for odd in ({"viewport": {"width": -1, "height": 2}}, {"userAgent": 7}, {"url": None}):
        assert run(page(T0, **odd)).environment is None


@given(
    st.dictionaries(
        st.sampled_from(["url", "userAgent", "viewport", "release", "navigation"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda c: st.lists(c) | st.dictionaries(st.text(), c),
            max_leaves=8,
        ),
    )
)
def test_any_page_payload_is_taken_or_ignored_never_an_error(payload: dict[str, Any]) -> None:
    event = {"type": 5, "timestamp": T0, "data": {"tag": "replaydesk/page", "payload": payload}}
    batch = process_events(as_raw(json.dumps([event]).encode()))
    assert batch.event_count == 1
