"""Who else hit a report's errors: the lookup behind "This error hit 14 other users in the
last 7 days", with a link to the newest of their sessions bound to the same ticket."""

from __future__ import annotations

from service.clock import now_ms
from service.report.replay_report import SEEN_ELSEWHERE_DAYS, SeenElsewhere
from service.sessions.reader import to_datetime
from service.storage.error_store import ErrorStore
from service.viewer.tokens import ViewerTokens

__all__ = ["seen_elsewhere"]

DAY_MS = 24 * 3600 * 1000


async def seen_elsewhere(
    errors: ErrorStore,
    tokens: ViewerTokens,
    fingerprints: list[str],
    user_id: str | None,
    ticket: str | None,
    ttl_seconds: int,
) -> dict[str, SeenElsewhere]:
    """By fingerprint, the errors other users hit in the last `SEEN_ELSEWHERE_DAYS` days; an
    error nobody else hit is left out, so the ticket says nothing about it."""
    since = now_ms() - SEEN_ELSEWHERE_DAYS * DAY_MS
    found = await errors.seen_elsewhere(fingerprints, user_id, since)
    seen: dict[str, SeenElsewhere] = {}
    for fingerprint, other in found.items():
        if other.other_users == 0 or other.newest_other_session is None:
            continue
        link = tokens.mint(other.newest_other_session, ttl_seconds, ticket=ticket)
        seen[fingerprint] = SeenElsewhere(
            other_users=other.other_users,
            days=SEEN_ELSEWHERE_DAYS,
            first_seen=to_datetime(other.first_seen),
            first_release=other.first_release,
            newest_session_url=link.url,
        )
    return seen
