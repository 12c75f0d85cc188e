"""What an API key may do: the scopes a key is created with, and the one each route needs.

A key created without `--scope`, and every key configured in the environment, holds `admin`:
all routes, as keys did before scopes existed. A route names its scope in its handler's
`opt["scope"]`; a route that names none needs `admin`, so a new route is closed to narrow keys
until it says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = [
    "ADMIN",
    "LINKS_CREATE",
    "SCOPES",
    "SESSIONS_READ",
    "TICKETS_WRITE",
    "USERS_ERASE",
    "checked_scopes",
    "grants",
]

SESSIONS_READ: Final = "sessions:read"
LINKS_CREATE: Final = "links:create"
TICKETS_WRITE: Final = "tickets:write"
USERS_ERASE: Final = "users:erase"
ADMIN: Final = "admin"

# Each scope and what it opens, as `replaydesk keys create api --help` and the README list them.
SCOPES: Final = {
    SESSIONS_READ: "find and read sessions: lookup, search, summaries, reports, events, errors",
    LINKS_CREATE: "mint viewer links (a sidebar's links, bound to its ticket)",
    TICKETS_WRITE: "attach reports to tickets, file issues, follow their jobs",
    USERS_ERASE: "erase a user's sessions",
    ADMIN: "everything, including plugins, link revocation and the view audit",
}


def checked_scopes(names: Iterable[str]) -> list[str]:
    """The scopes a key is created with, sorted and without repeats; ValueError naming an
    unknown one."""
    wanted = sorted({name.strip() for name in names})
    unknown = [name for name in wanted if name not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}: choose from {', '.join(SCOPES)}")
    return wanted


def grants(held: frozenset[str], needed: str) -> bool:
    """Whether a key holding `held` may call a route that needs `needed`."""
    return ADMIN in held or needed in held
