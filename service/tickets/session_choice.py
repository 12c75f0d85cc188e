"""Which of a user's sessions a ticket is about: the one active when it was opened, or before."""

from __future__ import annotations

from collections.abc import Sequence

from service.storage.records import SessionFilters, SessionRecord
from service.storage.session_store import SessionStore

__all__ = ["CANDIDATES", "CLOCK_SKEW_MS", "choose_session", "session_for_ticket"]

# Session times come from the customer's browser clock, ticket times from the helpdesk's; two
# minutes absorbs the usual drift between them.
CLOCK_SKEW_MS = 2 * 60 * 1000
# Sessions that started before the ticket, newest first: the chosen one is among the first few.
CANDIDATES = 50


def choose_session(sessions: Sequence[SessionRecord], ticket_at: int) -> SessionRecord | None:
    """The session active at `ticket_at` (ms), else the one that ended last before it.

    A session counts as active when the ticket time falls between its first and last event
    (within the clock skew). Sessions that started after the ticket was opened are not
    candidates: they cannot be what the customer wrote about. When several were active (two
    tabs), the one that started last wins.
    """
    before = [s for s in sessions if s.started_at <= ticket_at + CLOCK_SKEW_MS]
    if not before:
        return None
    active = [s for s in before if s.ended_at >= ticket_at - CLOCK_SKEW_MS]
    if active:
        return max(active, key=lambda s: (s.started_at, s.session_id))
    return max(before, key=lambda s: (s.ended_at, s.session_id))


async def session_for_ticket(
    store: SessionStore, user_id: str, ticket_at: int
) -> SessionRecord | None:
    """The user's session a ticket opened at `ticket_at` (ms since the epoch) is about."""
    candidates = await store.search(
        SessionFilters(user_id=user_id, until=ticket_at + CLOCK_SKEW_MS, limit=CANDIDATES)
    )
    return choose_session(candidates, ticket_at)
