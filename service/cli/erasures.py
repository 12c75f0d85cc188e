"""`replaydesk erasures`: the tombstones erasures leave, and lifting a user's.

A tombstone is a keyed hash of an erased user or session ID (`ErasureKeys`): it refuses that
ID's batches for good, and cannot be turned back into the ID. So the list shows hashes, and
lifting takes the user ID (hashed here with the secret key) or a hash from the list.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from typing import Any

from service.cli.local_services import with_services
from service.settings import Settings

__all__ = ["lift", "list_erasures"]

# Enough of a hash to tell tombstones apart by eye, and to lift one by.
SHOWN_HASH_CHARS = 16
# A shorter prefix would too easily name the wrong one.
_MIN_PREFIX_CHARS = 8
_HEX = re.compile(r"^[0-9a-f]+$")


def list_erasures(settings: Settings, args: argparse.Namespace) -> int:
    kind = getattr(args, "kind", None)
    limit = getattr(args, "limit", None)
    limit = 50 if limit is None else limit
    if limit < 1:
        return _fail("--limit takes a number of tombstones, 1 or more")

    async def listing(store: Any, _blobs: Any, _keys: Any) -> Any:
        return await store.count_tombstones(kind), await store.tombstones(kind, limit=limit)

    total, tombstones = with_services(settings, listing)
    what = f"{kind} " if kind else ""
    print(f"{total} {what}erasure tombstone(s); their IDs' batches are refused (HTTP 410)")
    if tombstones:
        print(f"{'SUBJECT HASH':<{SHOWN_HASH_CHARS}}  {'KIND':<8}  ERASED AT")
    for tombstone in tombstones:
        at = datetime.fromtimestamp(tombstone.erased_at / 1000, tz=UTC)
        shown = tombstone.subject_hash[:SHOWN_HASH_CHARS]
        print(f"{shown}  {tombstone.kind or 'unknown':<8}  {at:%Y-%m-%d %H:%M:%S} UTC")
    if total > len(tombstones):
        print(f"... {total - len(tombstones)} older; see them with --limit {total}")
    return 0


def lift(settings: Settings, args: argparse.Namespace) -> int:
    from service.sessions.erasure import ErasureKeys

    by_hash = args.hash
    if by_hash is not None and args.user_id is not None:
        return _fail("give a user ID or --hash, not both")
    if by_hash is None and args.user_id is None:
        return _fail("give the user ID to lift (or --hash HASH from `replaydesk erasures`)")
    if by_hash is not None:
        by_hash = by_hash.strip().lower()
        if not _HEX.match(by_hash) or len(by_hash) < _MIN_PREFIX_CHARS:
            return _fail(f"--hash takes at least {_MIN_PREFIX_CHARS} hex digits of a hash")

    async def lift_one(store: Any, _blobs: Any, _keys: Any) -> tuple[str, Any]:
        if by_hash is None:
            subject = ErasureKeys(settings.secret_key).user(args.user_id)
            return ("lifted" if await store.lift_tombstone(subject) else "none"), None
        found = await store.tombstones(hash_prefix=by_hash, limit=2)
        if len(found) != 1:
            return ("none" if not found else "ambiguous"), None
        await store.lift_tombstone(found[0].subject_hash)
        return "lifted", found[0]

    outcome, tombstone = with_services(settings, lift_one)
    if outcome == "ambiguous":
        return _fail(f"more than one tombstone's hash starts with {by_hash}: give more of it")
    if outcome == "none":
        if by_hash is not None:
            return _fail(f"no tombstone's hash starts with {by_hash}")
        return _fail(
            f"no erasure of user {args.user_id!r} is recorded (with this secret key): "
            "their batches are stored"
        )
    if tombstone is not None:
        kind = tombstone.kind or "user or session"
        print(f"lifted the tombstone {tombstone.subject_hash}: that {kind} ID's batches are")
        print("stored again. What the erasure deleted stays deleted.")
    else:
        print(f"lifted the erasure of user {args.user_id!r}: their batches are stored again.")
        print("What the erasure deleted stays deleted, and the sessions it erased stay refused.")
    return 0


def _fail(message: str) -> int:
    print(f"replaydesk: {message}", file=sys.stderr)
    return 1
