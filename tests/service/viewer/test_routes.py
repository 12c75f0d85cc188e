"""Viewer links through the API: minting, what a token opens, revocation, audit, the page."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import msgspec
import pytest

from service.viewer.tokens import ViewerTokens
from tests.conftest import AUTH, INGEST
from tests.recordings import BASE_TS, batch, checkout_events

SID = "sess-link-0001"
OTHER = "sess-link-0002"
REFUSAL = "the viewer link is invalid or has expired"


async def record(client: Any, sid: str, user: str = "u42") -> None:
    body = msgspec.json.encode(batch(sid, 0, checkout_events(BASE_TS), user_id=user))
    assert (await client.post("/api/v1/ingest", content=body, headers=INGEST)).status_code == 202


async def mint(client: Any, sid: str = SID, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/api/v1/sessions/{sid}/links", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "User-Agent": "agent-browser/1.0"}


async def test_a_minted_link_opens_its_session_and_nothing_else(client: Any) -> None:
    await record(client, SID)
    await record(client, OTHER, user="u43")
    link = await mint(client, open_at="first-error")
    assert link["url"] == f"http://127.0.0.1:8000/replay/{SID}?at=first-error#t={link['token']}"
    token = link["token"]
    for suffix in ("", "/events", "/report"):
        opened = await client.get(f"/api/v1/sessions/{SID}{suffix}", headers=bearer(token))
        assert opened.status_code == 200, (suffix, opened.text)
        other = await client.get(f"/api/v1/sessions/{OTHER}{suffix}", headers=bearer(token))
        assert other.status_code == 401 and other.json()["detail"] == REFUSAL
        missing = await client.get(
            f"/api/v1/sessions/sess-nope-0001{suffix}", headers=bearer(token)
        )
        assert missing.status_code == 401 and missing.json()["detail"] == REFUSAL
    # It is not an API key: no lists, no search, no erasure, no minting.
    for method, path in (
        ("GET", "/api/v1/users/u42/sessions/latest"),
        ("GET", "/api/v1/sessions"),
        ("DELETE", "/api/v1/users/u42"),
        ("POST", f"/api/v1/sessions/{SID}/links"),
        ("GET", f"/api/v1/sessions/{SID}/views"),
    ):
        response = await client.request(method, path, headers=bearer(token))
        assert response.status_code == 401, (method, path)


async def test_default_ttl_is_minutes_and_ttl_is_bounded(client: Any, settings: Any) -> None:
    await record(client, SID)
    link = await mint(client)
    expires = datetime.fromisoformat(link["expires_at"]).timestamp()
    assert abs(expires - (time.time() + settings.default_link_ttl_seconds)) < 5
    assert settings.default_link_ttl_seconds == 15 * 60
    ttl = await mint(client, ttl_seconds=120)
    assert ttl["expires_at"] < link["expires_at"]
    for bad in ({"ttl_seconds": 5}, {"ttl_seconds": 10**9}, {"open_at": "somewhere"}, {"x": 1}):
        response = await client.post(f"/api/v1/sessions/{SID}/links", json=bad, headers=AUTH)
        assert response.status_code == 400, bad
    unknown = await client.post("/api/v1/sessions/sess-nope-0001/links", json={}, headers=AUTH)
    assert unknown.status_code == 404


async def test_revoking_a_link_or_its_ticket_stops_it(client: Any, settings: Any) -> None:
    await record(client, SID)
    first, second = await mint(client), await mint(client)
    revoked = await client.post("/api/v1/links/revoke", json={"jti": first["jti"]}, headers=AUTH)
    assert revoked.status_code == 200
    assert (
        await client.get(f"/api/v1/sessions/{SID}", headers=bearer(first["token"]))
    ).status_code == 401
    assert (
        await client.get(f"/api/v1/sessions/{SID}", headers=bearer(second["token"]))
    ).status_code == 200

    tokens = ViewerTokens(settings.secret_key, settings.public_url)
    ticket_link = tokens.mint(SID, 600, ticket="zendesk:4711")
    headers = bearer(ticket_link.token)
    assert (await client.get(f"/api/v1/sessions/{SID}", headers=headers)).status_code == 200
    await client.post("/api/v1/links/revoke", json={"ticket": "zendesk:4711"}, headers=AUTH)
    assert (await client.get(f"/api/v1/sessions/{SID}", headers=headers)).status_code == 401
    empty = await client.post("/api/v1/links/revoke", json={}, headers=AUTH)
    assert empty.status_code == 400


async def test_every_use_is_audited(client: Any, settings: Any) -> None:
    await record(client, SID)
    tokens = ViewerTokens(settings.secret_key, settings.public_url)
    link = tokens.mint(SID, 600, ticket="jira:BUG-7")
    await client.get(f"/api/v1/sessions/{SID}/report", headers=bearer(link.token))
    await client.get(f"/api/v1/sessions/{SID}/events", headers=bearer(link.token))
    await client.get(f"/api/v1/sessions/{OTHER}/events", headers=bearer(link.token))  # refused
    audit = (await client.get(f"/api/v1/sessions/{SID}/views", headers=AUTH)).json()
    assert audit["session_id"] == SID
    assert [u["what"] for u in audit["uses"]] == ["events", "report"]
    use = audit["uses"][0]
    assert use["jti"] == link.jti and use["ticket"] == "jira:BUG-7"
    assert use["user_agent"] == "agent-browser/1.0" and use["ip"]
    assert use["used_at"].startswith("20")


async def test_an_api_key_still_opens_sessions_and_is_not_audited(client: Any) -> None:
    await record(client, SID)
    assert (await client.get(f"/api/v1/sessions/{SID}/report", headers=AUTH)).status_code == 200
    audit = (await client.get(f"/api/v1/sessions/{SID}/views", headers=AUTH)).json()
    assert audit["uses"] == []


@pytest.mark.parametrize("path", ["/replay/sess-link-0001", "/replay/whatever-does-not-exist"])
async def test_the_replay_page_is_locked_down_and_says_nothing_about_the_session(
    client: Any, path: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "'unsafe-eval'" not in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script src="/viewer.js" defer></script>' in page.text
    # Its icon is inline, so browsers do not ask for a /favicon.ico that is not there.
    assert '<link rel="icon" href="data:,">' in page.text
    assert "sess-link-0001" not in page.text


async def test_viewer_bundles_are_served_with_validators(client: Any) -> None:
    script = await client.get("/viewer.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    again = await client.get("/viewer.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    assert (await client.get("/viewer.css")).headers["content-type"].startswith("text/css")
