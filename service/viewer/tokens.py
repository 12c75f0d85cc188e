"""Viewer tokens: short-lived JWTs that open exactly one session, with rotating keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from datetime import datetime

import jwt
import msgspec

from service.errors import Unauthorized
from service.sessions.reader import to_datetime
from service.sessions.windows import SessionWindow

__all__ = [
    "AUDIENCE",
    "MAX_TTL_SECONDS",
    "MIN_TTL_SECONDS",
    "SCOPE",
    "ViewerClaims",
    "ViewerLink",
    "ViewerTokens",
]

ALGORITHM = "HS256"
AUDIENCE = "replaydesk-viewer"
ISSUER = "replaydesk"
SCOPE = "replay:view"
# Bounds of an ad-hoc link's life (API and CLI): a link is for watching now, a week at most.
MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 7 * 24 * 3600
# Clocks of the replicas that mint and verify may differ a little.
LEEWAY_SECONDS = 30
_REFUSED = "the viewer link is invalid or has expired"


class ViewerLink(msgspec.Struct, frozen=True, kw_only=True):
    """A minted link: the page URL with the token in its fragment."""

    url: str
    token: str
    expires_at: datetime
    jti: str
    window: SessionWindow | None = None
    """The part of the session the link shows (None: all of it)."""


class ViewerClaims(msgspec.Struct, frozen=True, kw_only=True):
    """The verified contents of a viewer token."""

    session_id: str
    jti: str
    expires_at: int
    ticket: str | None = None
    window: SessionWindow | None = None
    """The only part of the session the token opens (None: all of it)."""
    live: bool = False
    """Whether the token also follows the session live (`GET .../live`)."""


def _derive(secret_key: str) -> tuple[str, bytes]:
    # A key of its own for viewer tokens, so no other use of the secret can forge one.
    key = hmac.new(secret_key.encode(), b"replaydesk viewer tokens v1", hashlib.sha256).digest()
    kid = hashlib.sha256(key).hexdigest()[:12]
    return kid, key


class ViewerTokens:
    """Mints and verifies viewer tokens.

    Tokens are signed with a key derived from the current secret key; keys derived from
    previous secret keys still verify (by `kid`), so rotating the secret keeps live links.
    """

    def __init__(
        self, secret_key: str, public_url: str, previous_secret_keys: Sequence[str] = ()
    ) -> None:
        self._kid, self._key = _derive(secret_key)
        self._verify_keys = dict([_derive(secret_key), *(_derive(k) for k in previous_secret_keys)])
        self.public_url = public_url.rstrip("/")

    def mint(
        self,
        session_id: str,
        ttl_seconds: int,
        ticket: str | None = None,
        open_at: str | None = None,
        window: SessionWindow | None = None,
        live: bool = False,
    ) -> ViewerLink:
        """A link to one session, valid for `ttl_seconds`; `ticket` binds it to a ticket.

        `open_at="first-error"` makes the viewer start at the session's first error; `window`
        limits what the token opens to that part of the session (claim `win`: its start and
        end, milliseconds since the epoch on the service's clock); `live` lets it follow the
        session as batches arrive (claim `live`; the page opens with `?live=1`).
        """
        now = int(time.time())
        jti = secrets.token_urlsafe(12)
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": session_id,
            "scope": SCOPE,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": jti,
        }
        if ticket is not None:
            claims["tkt"] = ticket
        if window is not None:
            claims["win"] = [window.start_ms, window.end_ms]
        if live:
            # A live view follows what arrives next: a window would end it.
            if window is not None:
                raise ValueError("a live link shows the whole session, not a window")
            claims["live"] = True
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid})
        query = "?live=1" if live else f"?at={open_at}" if open_at else ""
        return ViewerLink(
            url=f"{self.public_url}/replay/{session_id}{query}#t={token}",
            token=token,
            expires_at=to_datetime((now + ttl_seconds) * 1000),
            jti=jti,
            window=window,
        )

    def verify(self, token: str, session_id: str) -> ViewerClaims:
        """The claims of a token that opens `session_id`; Unauthorized for anything else.

        The refusal never says why, nor whether the session exists.
        """
        try:
            header = jwt.get_unverified_header(token)
            key = self._verify_keys.get(str(header.get("kid")))
            if key is None or header.get("alg") != ALGORITHM:
                raise Unauthorized(_REFUSED)
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "sub", "scope", "iat", "exp", "jti"]},
            )
        except jwt.PyJWTError:
            raise Unauthorized(_REFUSED) from None
        if claims.get("scope") != SCOPE or not hmac.compare_digest(
            str(claims.get("sub")), session_id
        ):
            raise Unauthorized(_REFUSED)
        ticket = claims.get("tkt")
        return ViewerClaims(
            session_id=session_id,
            jti=str(claims["jti"]),
            expires_at=int(claims["exp"]),
            ticket=str(ticket) if ticket is not None else None,
            window=_window_claim(claims),
            live=claims.get("live") is True,
        )


def _window_claim(claims: dict[str, object]) -> SessionWindow | None:
    """The `win` claim as a window; a token whose `win` is anything but two ordered integers
    opens nothing, rather than more than it was minted for."""
    if "win" not in claims:
        return None
    value = claims["win"]
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(type(bound) is int for bound in value)
        or not 0 <= value[0] <= value[1]
    ):
        raise Unauthorized(_REFUSED)
    return SessionWindow(value[0], value[1])
