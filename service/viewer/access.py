"""Who may view a session with a viewer token: verification, revocation and the audit trail."""

from __future__ import annotations

from service.clock import now_ms
from service.errors import Unauthorized
from service.storage.token_store import TokenStore, TokenUseRecord
from service.viewer.tokens import ViewerClaims, ViewerTokens

__all__ = ["ViewerAccess"]

# Audit columns are bounded; a user agent can be arbitrarily long.
_MAX_USER_AGENT = 400


class ViewerAccess:
    """Lets a viewer token through for its own session only, recording every use."""

    def __init__(self, tokens: ViewerTokens, store: TokenStore) -> None:
        self.tokens = tokens
        self.store = store

    async def authorize(
        self, token: str, session_id: str, *, what: str, ip: str | None, user_agent: str | None
    ) -> ViewerClaims:
        """Verify `token` for `session_id`, refuse revoked ones, and record the use."""
        claims = self.tokens.verify(token, session_id)
        if await self.store.is_revoked(claims.jti, claims.ticket):
            # Same words as any other refusal: a revoked link says nothing more.
            raise Unauthorized("the viewer link is invalid or has expired")
        await self.store.record_use(
            TokenUseRecord(
                jti=claims.jti,
                session_id=session_id,
                ticket=claims.ticket,
                used_at=now_ms(),
                ip=ip,
                user_agent=(user_agent or "")[:_MAX_USER_AGENT] or None,
                what=what,
            )
        )
        return claims

    async def check(self, token: str, session_id: str) -> ViewerClaims:
        """Verify `token` for `session_id` and refuse revoked ones, recording nothing: for the
        many small reads a page makes after a recorded use (the asset copies it shows)."""
        claims = self.tokens.verify(token, session_id)
        if await self.store.is_revoked(claims.jti, claims.ticket):
            raise Unauthorized("the viewer link is invalid or has expired")
        return claims

    async def revoke(self, *, jti: str | None = None, ticket: str | None = None) -> None:
        """Revoke one link (jti) or every link written into a ticket (`provider:ticket_id`)."""
        await self.store.revoke(jti=jti, ticket=ticket, at=now_ms())
