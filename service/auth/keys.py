"""Who may call: API keys (secret, hashed, constant-time) and ingest keys (public, per origin)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from service.auth.scopes import ADMIN, checked_scopes, grants
from service.clock import now_ms
from service.errors import Forbidden, Unauthorized
from service.storage.key_store import ApiKeyRecord, IngestKeyRecord, KeyStore

__all__ = ["AccessKeys", "CreatedApiKey", "hash_api_key", "normalize_origin"]

ANY_ORIGIN = "*"
# Ingest keys created with `replaydesk keys` are looked up once per this many seconds, not on
# every batch (the lookup cost more than a third of a batch's server time). A key revoked by
# another process is refused within this time; one revoked through this process at once.
INGEST_KEY_CACHE_SECONDS = 10.0
# Distinct keys remembered, valid or not; a flood of made-up keys cannot grow it past this.
INGEST_KEY_CACHE_SIZE = 1024
# What a configured key, or one created without scopes, holds.
_EVERYTHING = frozenset({ADMIN})


def hash_api_key(key: str) -> str:
    """SHA-256 of an API key. Keys are 256-bit random, so a fast hash loses nothing."""
    return hashlib.sha256(key.encode()).hexdigest()


class CreatedApiKey:
    """A freshly created API key: the only moment its value is known."""

    def __init__(self, key_id: str, key: str) -> None:
        self.key_id = key_id
        self.key = key


class AccessKeys:
    """Checks API and ingest keys against the configured ones and those in the database."""

    def __init__(
        self,
        store: KeyStore,
        api_keys: Sequence[str],
        ingest_keys: Sequence[str],
        ingest_origins: Sequence[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._api_key_hashes = [hash_api_key(k).encode() for k in api_keys]
        self._ingest_keys = [k.encode() for k in ingest_keys]
        self._ingest_origins = list(ingest_origins)
        self._clock = clock
        # key -> (the live record or None, when to look it up again)
        self._created_ingest_keys: dict[str, tuple[IngestKeyRecord | None, float]] = {}

    async def check_api_key(self, presented: str | None) -> frozenset[str]:
        """The scopes of `presented`; Unauthorized unless it is a live API key."""
        if not presented:
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <api key>'")
        digest = hash_api_key(presented)
        # Compare against every configured key so the time taken does not reveal which matched.
        matched = False
        for known in self._api_key_hashes:
            matched |= hmac.compare_digest(known, digest.encode())
        if matched:
            return _EVERYTHING
        scopes = await self.store.live_api_key_scopes(digest)
        if scopes is False:
            raise Unauthorized("the API key is not valid")
        return _EVERYTHING if scopes is None else frozenset(scopes)

    async def check_api_key_for(self, presented: str | None, scope: str) -> None:
        """Unauthorized unless `presented` is a live API key, Forbidden unless it holds `scope`
        (or `admin`)."""
        held = await self.check_api_key(presented)
        if not grants(held, scope):
            raise Forbidden(
                f"this API key may not do this: it needs the scope {scope!r}"
                f" (it has {', '.join(sorted(held)) or 'none'})"
            )

    async def check_ingest_key(self, presented: str | None, origin: str | None) -> str | None:
        """Raise unless `presented` is a live ingest key usable from `origin` (None: no browser).

        Returns the key when it is one created with `replaydesk keys`, None for a configured
        one: what a session notes as its sender (`ingest_origins` answers for either)."""
        if not presented:
            raise Unauthorized("an ingest key is required: 'X-ReplayDesk-Key' header or ?key=")
        configured = False
        for known in self._ingest_keys:
            configured |= hmac.compare_digest(known, presented.encode())
        created: str | None = None
        if configured:
            origins = self._ingest_origins
        else:
            record = await self._created_ingest_key(presented)
            if record is None:
                raise Unauthorized("the ingest key is not valid")
            origins, created = record.allowed_origins, record.key
        if origin is not None and not _origin_allowed(origin, origins):
            raise Forbidden(f"origin {origin!r} may not send batches with this ingest key")
        return created

    async def ingest_origins(self, created_key: str | None) -> list[str]:
        """The site origins of an ingest key as `check_ingest_key` returned it: the configured
        keys' for None, a created key's own while it is live (none once revoked; remembered as
        `check_ingest_key` remembers it)."""
        if created_key is None:
            return list(self._ingest_origins)
        record = await self._created_ingest_key(created_key)
        return [] if record is None else list(record.allowed_origins)

    async def _created_ingest_key(self, key: str) -> IngestKeyRecord | None:
        cached = self._created_ingest_keys.get(key)
        now = self._clock()
        if cached is not None and cached[1] > now:
            return cached[0]
        record = await self.store.live_ingest_key(key)
        if len(self._created_ingest_keys) >= INGEST_KEY_CACHE_SIZE:
            # The oldest entry goes first (dicts keep insertion order).
            del self._created_ingest_keys[next(iter(self._created_ingest_keys))]
        self._created_ingest_keys.pop(key, None)
        self._created_ingest_keys[key] = (record, now + INGEST_KEY_CACHE_SECONDS)
        return record

    async def create_api_key(self, name: str, scopes: list[str] | None = None) -> CreatedApiKey:
        """Create and store (hashed) a new API key that may do `scopes` (None: everything;
        ValueError for an unknown scope); its value is returned once."""
        checked = None if scopes is None else checked_scopes(scopes)
        key_id = "key_" + secrets.token_hex(6)
        key = "rdk_api_" + secrets.token_urlsafe(32)
        await self.store.add_api_key(key_id, name, hash_api_key(key), now_ms(), checked)
        return CreatedApiKey(key_id, key)

    async def create_ingest_key(self, name: str, origins: list[str]) -> str:
        """Create a new ingest key for the given site origins (ValueError for one that is no
        origin; the others are stored as browsers send them)."""
        origins = [normalize_origin(origin) for origin in origins]
        key = "rdk_ing_" + secrets.token_urlsafe(16)
        await self.store.add_ingest_key(key, name, origins, now_ms())
        return key

    async def revoke(self, key_id_or_key: str) -> bool:
        """Revoke an API key by id or an ingest key by value."""
        revoked = await self.store.revoke(key_id_or_key, now_ms())
        self._created_ingest_keys.pop(key_id_or_key, None)
        return revoked

    async def list_keys(self) -> tuple[list[ApiKeyRecord], list[IngestKeyRecord]]:
        """Keys created in the database (configured ones live in the environment)."""
        return await self.store.list_api_keys(), await self.store.list_ingest_keys()


def _origin_allowed(origin: str, allowed: Sequence[str]) -> bool:
    return ANY_ORIGIN in allowed or origin.rstrip("/") in {a.rstrip("/") for a in allowed}


def normalize_origin(value: str) -> str:
    """A site origin as browsers send it in `Origin` (`https://shop.example`, `http://host:8080`),
    or `*`; ValueError saying what is wrong with anything else (a path, no scheme, ...)."""
    text = value.strip()
    if text == ANY_ORIGIN:
        return text
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is no site origin: write it as https://shop.example")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(
            f"{value!r} is no site origin: an origin has no path, query or user "
            f"(write {parts.scheme}://{parts.netloc.rpartition('@')[2]})"
        )
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} is no site origin: its port is not a number") from None
    default = {"http": 80, "https": 443}[scheme]
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")
