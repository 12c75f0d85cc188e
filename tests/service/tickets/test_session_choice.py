"""The session a ticket is about: active when it was opened, else the one that ended last before."""

from __future__ import annotations

from typing import Any

import msgspec

from service.settings import Settings
from service.storage.database import create_engine
from service.storage.records import SessionRecord
from service.storage.session_store import SessionStore
from service.tickets.session_choice import CLOCK_SKEW_MS, choose_session, session_for_ticket
from tests.conftest import INGEST
from tests.recordings import BASE_TS, batch, click, meta

MINUTE = 60_000


def session(session_id: str, start: int, end: int) -> SessionRecord:
    return SessionRecord(
        session_id=session_id,
        user_id="u1",
        started_at=start,
        ended_at=end,
        first_error_at=None,
        received_first_at=start,
        received_last_at=end,
        final=False,
        chunk_count=1,
        byte_count=1,
        event_count=1,
        click_count=0,
        error_count=0,
        failed_request_count=0,
        rage_click_count=0,
        dead_click_count=0,
        input_count=0,
        page_count=1,
    )


MORNING = session("morning", 0, 30 * MINUTE)
LONG_TAB = session("long-tab", 10 * MINUTE, 300 * MINUTE)
NOON = session("noon", 120 * MINUTE, 150 * MINUTE)
EVENING = session("evening", 400 * MINUTE, 420 * MINUTE)
ALL = [MORNING, LONG_TAB, NOON, EVENING]


def chosen(at: int, sessions: list[SessionRecord] = ALL) -> str | None:
    found = choose_session(sessions, at)
    return found.session_id if found else None


def test_the_session_active_at_the_ticket_time_wins_not_the_newest() -> None:
    assert chosen(140 * MINUTE) == "noon"  # noon and long-tab are both open: the later one
    assert chosen(200 * MINUTE) == "long-tab"
    assert chosen(5 * MINUTE) == "morning"


def test_else_the_session_that_ended_last_before_the_ticket() -> None:
    assert chosen(350 * MINUTE) == "long-tab"
    assert chosen(10_000 * MINUTE) == "evening"
    assert chosen(35 * MINUTE, [MORNING, NOON, EVENING]) == "morning"


def test_sessions_after_the_ticket_are_not_candidates_beyond_clock_skew() -> None:
    assert chosen(-10 * MINUTE) is None
    # A browser clock a minute ahead still counts as the session the ticket came from.
    assert chosen(400 * MINUTE - CLOCK_SKEW_MS // 2, [EVENING]) == "evening"


async def test_the_choice_on_the_database(client: Any, settings: Settings) -> None:
    for number, start in enumerate((BASE_TS, BASE_TS + 60 * MINUTE, BASE_TS + 120 * MINUTE)):
        events = [meta(start, "https://shop.test/"), click(start + 10 * MINUTE)]
        body = batch(f"sess-choice-{number}", 0, events, user_id="chooser")
        await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)

    async def pick(at: int) -> str | None:
        engine = create_engine(settings.database_url)
        try:
            found = await session_for_ticket(SessionStore(engine), "chooser", at)
        finally:
            await engine.dispose()
        return found.session_id if found else None

    assert await pick(BASE_TS + 65 * MINUTE) == "sess-choice-1"
    assert await pick(BASE_TS + 100 * MINUTE) == "sess-choice-1"
    assert await pick(BASE_TS + 500 * MINUTE) == "sess-choice-2"
    assert await pick(BASE_TS - 60 * MINUTE) is None
