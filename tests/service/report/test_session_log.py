"""The log file attached to tickets: every console line and request, in order, bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from service.plugin_testing import sample_report
from service.report.session_log import log_file
from tests.recordings import BASE_TS, checkout_events, console_error, meta, network

SESSION = sample_report().session


async def chunks(*batches: list[dict[str, object]]) -> AsyncIterator[bytes]:
    for events in batches:
        yield msgspec.json.encode(events)


def at(offset_ms: int) -> int:
    return int(SESSION.started_at.timestamp() * 1000) + offset_ms


async def test_the_log_lists_pages_console_output_and_requests_across_chunks() -> None:
    first = [
        meta(at(0), "https://shop.test/cart"),
        network(at(1200), "https://shop.test/api/pay", 500),
    ]
    second = [console_error(at(61_300), "TypeError: payment failed", ["at pay (app.js:10:5)"])]
    made = await log_file(SESSION, chunks(first, second))
    assert made is not None
    assert made.filename == "replaydesk-sess-sample-0001-log.txt"
    assert made.content_type == "text/plain; charset=utf-8"
    text = made.content.decode()
    assert f"ReplayDesk session {SESSION.session_id}" in text and "User: u42" in text
    lines = text.splitlines()
    page = next(i for i, line in enumerate(lines) if "page" in line and "shop.test/cart" in line)
    request = next(
        i for i, line in enumerate(lines) if "POST https://shop.test/api/pay  500" in line
    )
    error = next(i for i, line in enumerate(lines) if "console.error  TypeError" in line)
    assert page < request < error
    assert lines[error].lstrip().startswith("1:01 09:31:01.300")
    assert lines[error + 1].strip() == "at pay (app.js:10:5)"
    # Strings are shown as the page logged them, without their JSON quotes.
    assert '"TypeError' not in text


async def test_a_session_that_logged_nothing_but_pages_has_no_log_file() -> None:
    assert await log_file(SESSION, chunks([meta(at(0), "https://shop.test/")])) is None
    assert await log_file(SESSION, chunks([])) is None


async def test_a_long_log_is_cut_with_a_line_saying_so() -> None:
    noisy = [console_error(at(i), f"failure number {i}") for i in range(2000)]
    made = await log_file(SESSION, chunks(noisy, checkout_events(BASE_TS)), max_bytes=20_000)
    assert made is not None and len(made.content) <= 20_000 + 100
    assert made.content.decode().rstrip().endswith("the replay has the rest.")
    assert "failure number 1999" not in made.content.decode()
