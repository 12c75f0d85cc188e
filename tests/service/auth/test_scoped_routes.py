"""Scoped API keys on every route: each route needs one scope, a key reaches exactly the routes
of its scopes (or all with `admin`), and a sidebar's key lists sessions and mints ticket links."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import msgspec
import pytest
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from service.auth.guards import needed_scope, require_api_key, require_api_key_or_viewer_token
from service.auth.scopes import SCOPES
from tests.conftest import AUTH, INGEST
from tests.recordings import batch, checkout_events

# What each API route needs of a key: access to customers' data is decided here, on purpose,
# for every route; a new route joins this table or the test fails.
EXPECTED = {
    ("GET", "/api/v1/users/{user_id:str}/sessions"): "sessions:read",
    ("GET", "/api/v1/users/{user_id:str}/sessions/latest"): "sessions:read",
    ("GET", "/api/v1/sessions"): "sessions:read",
    ("GET", "/api/v1/sessions/{session_id:str}"): "sessions:read",
    ("GET", "/api/v1/sessions/{session_id:str}/events"): "sessions:read",
    ("GET", "/api/v1/sessions/{session_id:str}/report"): "sessions:read",
    ("GET", "/api/v1/sessions/{session_id:str}/live"): "sessions:read",
    ("GET", "/api/v1/errors"): "sessions:read",
    ("GET", "/api/v1/errors/{fingerprint:str}/sessions"): "sessions:read",
    ("POST", "/api/v1/sessions/{session_id:str}/links"): "links:create",
    ("POST", "/api/v1/tickets/attach"): "tickets:write",
    ("POST", "/api/v1/sessions/{session_id:str}/issues"): "tickets:write",
    ("GET", "/api/v1/jobs/{job_id:str}"): "tickets:write",
    ("DELETE", "/api/v1/users/{user_id:str}"): "users:erase",
    ("DELETE", "/api/v1/erasures/users/{user_id:str}"): "admin",
    ("POST", "/api/v1/links/revoke"): "admin",
    ("GET", "/api/v1/sessions/{session_id:str}/views"): "admin",
    ("GET", "/api/v1/plugins"): "admin",
}
_KEY_GUARDS = (require_api_key, require_api_key_or_viewer_token)


def key_routes(client: AsyncTestClient[Any]) -> dict[tuple[str, str], str]:
    """(method, path) of every route an API key opens, and the scope it needs."""
    found = {}
    for route in client.app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not any(guard in _KEY_GUARDS for guard in handler.resolve_guards()):
                continue
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                found[(method, route.path)] = needed_scope(handler)
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", lambda m: f"x-{m.group(1)}", path)


async def on_app(client: AsyncTestClient[Any], action: Any, *args: Any) -> Any:
    """`action(*args)` on the app's own event loop (the test client runs it in a thread)."""
    return await asyncio.to_thread(client.blocking_portal.call, action, *args)


async def scoped_key(client: AsyncTestClient[Any], *scopes: str) -> dict[str, str]:
    keys = client.app.state.services.keys
    created = await on_app(client, keys.create_api_key, "test", list(scopes) or None)
    return {"Authorization": f"Bearer {created.key}"}


async def call(
    client: AsyncTestClient[Any], method: str, path: str, headers: dict[str, str]
) -> Any:
    body = b"{}" if method == "POST" else None
    return await client.request(
        method,
        concrete(path),
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )


async def test_every_key_route_needs_the_scope_the_table_gives(
    client: AsyncTestClient[Any],
) -> None:
    assert key_routes(client) == EXPECTED
    assert set(EXPECTED.values()) == set(SCOPES)


async def test_a_key_reaches_the_routes_of_its_scopes_and_no_other(
    client: AsyncTestClient[Any],
) -> None:
    keys = {scope: await scoped_key(client, scope) for scope in SCOPES}
    unscoped = await scoped_key(client)  # created without --scope: everything, as before
    for (method, path), needed in EXPECTED.items():
        for scope, headers in keys.items():
            answer = await call(client, method, path, headers)
            if scope in (needed, "admin"):
                assert answer.status_code not in (401, 403), (method, path, scope, answer.text)
            else:
                assert answer.status_code == 403, (method, path, scope, answer.text)
                assert f"it needs the scope '{needed}'" in answer.json()["detail"]
        for headers in (AUTH, unscoped):
            answer = await call(client, method, path, headers)
            assert answer.status_code not in (401, 403), (method, path, answer.text)
        # A scope is no key: without one, or with a made-up one, it is still 401.
        assert (await call(client, method, path, {})).status_code == 401
        bad = {"Authorization": "Bearer rdk_api_madeup"}
        assert (await call(client, method, path, bad)).status_code == 401


async def test_a_revoked_scoped_key_is_refused(client: AsyncTestClient[Any]) -> None:
    headers = await scoped_key(client, "sessions:read")
    assert (await client.get("/api/v1/sessions", headers=headers)).status_code == 200
    keys = client.app.state.services.keys
    records, _ = await on_app(client, keys.list_keys)
    assert records[0].scopes == ["sessions:read"]
    await on_app(client, keys.revoke, records[0].id)
    assert (await client.get("/api/v1/sessions", headers=headers)).status_code == 401


async def test_unknown_scopes_are_refused_at_creation(client: AsyncTestClient[Any]) -> None:
    with pytest.raises(ValueError, match="unknown scope 'sessions:write'"):
        await scoped_key(client, "sessions:read", "sessions:write")


async def test_a_sidebar_key_lists_sessions_and_mints_ticket_links_and_nothing_else(
    client: AsyncTestClient[Any],
) -> None:
    sent = await client.post(
        "/api/v1/ingest",
        content=msgspec.json.encode(batch("sess-side-0001", 0, checkout_events(), user_id="u5")),
        headers=INGEST,
    )
    assert sent.status_code == 202, sent.text
    sidebar = await scoped_key(client, "sessions:read", "links:create")
    listed = await client.get("/api/v1/users/u5/sessions", headers=sidebar)
    assert [s["session_id"] for s in listed.json()["sessions"]] == ["sess-side-0001"]
    minted = await client.post(
        "/api/v1/sessions/sess-side-0001/links",
        json={"ticket": "zendesk:4321", "ttl_seconds": 600},
        headers=sidebar,
    )
    assert minted.status_code == 201, minted.text
    token = minted.json()["token"]
    opened = await client.get(
        "/api/v1/sessions/sess-side-0001/report", headers={"Authorization": f"Bearer {token}"}
    )
    assert opened.status_code == 200
    views = await client.get("/api/v1/sessions/sess-side-0001/views", headers=AUTH)
    assert [use["ticket"] for use in views.json()["uses"]] == ["zendesk:4321"]
    # Its links go with the ticket's other links.
    revoked = await client.post(
        "/api/v1/links/revoke", json={"ticket": "zendesk:4321"}, headers=AUTH
    )
    assert revoked.status_code == 200
    again = await client.get(
        "/api/v1/sessions/sess-side-0001/report", headers={"Authorization": f"Bearer {token}"}
    )
    assert again.status_code == 401
    # Nothing else: no erasure, no tickets, no audit.
    for method, path in (
        ("DELETE", "/api/v1/users/u5"),
        ("POST", "/api/v1/tickets/attach"),
        ("GET", "/api/v1/sessions/sess-side-0001/views"),
    ):
        assert (await call(client, method, path, sidebar)).status_code == 403


@pytest.mark.parametrize(
    "ticket", ["Zendesk:1", "zendesk:", ":1", "zendesk:1\n", "zendesk:a\x00b", "z" * 65 + ":1"]
)
async def test_a_link_for_a_ticket_that_cannot_be_one_is_refused(
    client: AsyncTestClient[Any], ticket: str
) -> None:
    sent = await client.post(
        "/api/v1/ingest",
        content=msgspec.json.encode(batch("sess-side-0002", 0, checkout_events())),
        headers=INGEST,
    )
    assert sent.status_code == 202
    minted = await client.post(
        "/api/v1/sessions/sess-side-0002/links", json={"ticket": ticket}, headers=AUTH
    )
    assert minted.status_code == 400, minted.text
