"""Viewer tokens open exactly one session, and every kind of bad token is refused."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from service.errors import Unauthorized
from service.sessions.windows import SessionWindow
from service.viewer.tokens import AUDIENCE, ViewerTokens, _derive

SID = "sess-view-0001"
tokens = ViewerTokens("secret-one", "https://replay.example.com/")


def forge(claims: dict[str, object], secret: str = "secret-one", **header: str) -> str:
    kid, key = _derive(secret)
    return jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid, **header})


def valid_claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "replaydesk",
        "aud": AUDIENCE,
        "sub": SID,
        "scope": "replay:view",
        "iat": now,
        "exp": now + 300,
        "jti": "j1",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def refused(token: str, session_id: str = SID) -> None:
    with pytest.raises(Unauthorized) as caught:
        tokens.verify(token, session_id)
    assert caught.value.detail == "the viewer link is invalid or has expired"


def test_minted_link_round_trips_with_the_token_in_the_fragment() -> None:
    link = tokens.mint(SID, 600, ticket="zendesk:123", open_at="first-error")
    assert link.url == f"https://replay.example.com/replay/{SID}?at=first-error#t={link.token}"
    claims = tokens.verify(link.token, SID)
    assert (claims.session_id, claims.jti, claims.ticket) == (SID, link.jti, "zendesk:123")
    assert abs(claims.expires_at - (time.time() + 600)) < 5
    assert abs(link.expires_at.timestamp() - claims.expires_at) < 1
    header = jwt.get_unverified_header(link.token)
    assert header["alg"] == "HS256" and header["kid"]


def test_forged_valid_claims_pass_so_the_refusals_below_are_meaningful() -> None:
    assert tokens.verify(forge(valid_claims()), SID).jti == "j1"


def test_expired_and_not_yet_valid_tokens_are_refused() -> None:
    now = int(time.time())
    refused(forge(valid_claims(iat=now - 700, exp=now - 100)))
    refused(forge(valid_claims(nbf=now + 600)))


def test_tampered_payload_is_refused() -> None:
    token = tokens.mint(SID, 600).token
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "sess-other-0001"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    refused(f"{head}.{forged}.{signature}", "sess-other-0001")


def test_wrong_signature_and_unknown_kid_are_refused() -> None:
    refused(forge(valid_claims(), secret="another-secret"))
    _, key = _derive("secret-one")
    refused(jwt.encode(valid_claims(), key, algorithm="HS256", headers={"kid": "nope"}))
    refused(jwt.encode(valid_claims(), key, algorithm="HS256"))  # no kid at all


def test_alg_none_and_other_algorithms_are_refused() -> None:
    kid, _ = _derive("secret-one")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": kid}).encode())
    body = base64.urlsafe_b64encode(json.dumps(valid_claims()).encode())
    refused(f"{header.rstrip(b'=').decode()}.{body.rstrip(b'=').decode()}.")
    _, key = _derive("secret-one")
    refused(jwt.encode(valid_claims(), key * 2, algorithm="HS512", headers={"kid": kid}))


def test_wrong_audience_issuer_scope_or_missing_claims_are_refused() -> None:
    refused(forge(valid_claims(aud="replaydesk-api")))
    refused(forge(valid_claims(iss="someone-else")))
    refused(forge(valid_claims(scope="replay:admin")))
    for missing in ("jti", "scope", "iat", "sub", "exp"):
        refused(forge(valid_claims(**{missing: None})))


def test_a_token_for_one_session_does_not_open_another() -> None:
    token = tokens.mint(SID, 600).token
    refused(token, "sess-other-0001")


def test_rotation_keeps_links_of_the_previous_key_until_they_expire() -> None:
    old = ViewerTokens("secret-one", "https://replay.example.com")
    link = old.mint(SID, 600)
    rotated = ViewerTokens("secret-two", "https://replay.example.com", ["secret-one"])
    assert rotated.verify(link.token, SID).jti == link.jti
    assert rotated.verify(rotated.mint(SID, 60).token, SID)
    # Once the old key is dropped from the list, its links stop working.
    with pytest.raises(Unauthorized):
        ViewerTokens("secret-two", "https://replay.example.com").verify(link.token, SID)
    expired_old = forge(valid_claims(exp=int(time.time()) - 100), secret="secret-one")
    with pytest.raises(Unauthorized):
        rotated.verify(expired_old, SID)


def test_a_window_travels_in_the_token_and_comes_back_as_minted() -> None:
    window = SessionWindow(1_790_000_600_000, 1_790_001_200_000)
    link = tokens.mint(SID, 600, ticket="zendesk:9", window=window)
    assert link.window == window
    claims = tokens.verify(link.token, SID)
    assert claims.window == window and claims.ticket == "zendesk:9"
    assert jwt.decode(link.token, options={"verify_signature": False})["win"] == [
        window.start_ms,
        window.end_ms,
    ]
    # Without one, the token opens the whole session, as it always did.
    plain = tokens.mint(SID, 600)
    assert tokens.verify(plain.token, SID).window is None
    assert "win" not in jwt.decode(plain.token, options={"verify_signature": False})


@pytest.mark.parametrize(
    "win",
    [
        [5, 4],
        [-1, 10],
        [1],
        [1, 2, 3],
        ["1", "2"],
        [1.5, 2],
        [True, 2],
        {"start": 1, "end": 2},
        None,
        "1-2",
    ],
)
def test_a_window_claim_that_is_not_two_ordered_integers_opens_nothing(win: object) -> None:
    # Even signed with the right key: a window that cannot be read must not become none at all.
    refused(forge({**valid_claims(), "win": win}))


def test_a_window_cannot_be_widened_by_editing_the_token() -> None:
    token = tokens.mint(SID, 600, window=SessionWindow(10, 20)).token
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    for widened in (
        {**claims, "win": [0, 10**15]},
        {k: v for k, v in claims.items() if k != "win"},
    ):
        forged = base64.urlsafe_b64encode(json.dumps(widened).encode()).rstrip(b"=").decode()
        refused(f"{head}.{forged}.{signature}")
