"""`replaydesk keys`: list, create and revoke API and ingest keys."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.cli.local_services import with_services
from service.settings import Settings

__all__ = ["create", "list_keys", "revoke"]


def list_keys(settings: Settings, _: argparse.Namespace) -> int:
    async def listing(_store: Any, _blobs: Any, keys: Any) -> Any:
        return await keys.list_keys()

    api_keys, ingest_keys = with_services(settings, listing)
    print(f"configured: {len(settings.api_keys)} API key(s), ingest keys:")
    for key in settings.ingest_keys:
        print(f"  {key}  origins: {', '.join(settings.ingest_origins)}")
    print("API keys (created with `keys create api`):")
    for record in api_keys:
        state = "revoked" if record.revoked_at else "live"
        scopes = ", ".join(record.scopes) if record.scopes is not None else "admin"
        print(f"  {record.id}  {record.name or '-'}  {state}  scopes: {scopes}")
    print("ingest keys (created with `keys create ingest`):")
    for ingest_record in ingest_keys:
        state = "revoked" if ingest_record.revoked_at else "live"
        origins = ", ".join(ingest_record.allowed_origins)
        print(f"  {ingest_record.key}  {ingest_record.name or '-'}  {state}  origins: {origins}")
    return 0


def create(settings: Settings, args: argparse.Namespace) -> int:
    async def create(_store: Any, _blobs: Any, keys: Any) -> Any:
        if args.kind == "api":
            return await keys.create_api_key(args.name, args.scope or None)
        return await keys.create_ingest_key(args.name, args.origin or ["*"])

    from service.auth.keys import normalize_origin

    if args.scope and args.kind != "api":
        print(
            "replaydesk: --scope is for API keys (an ingest key only sends batches)",
            file=sys.stderr,
        )
        return 2
    if args.origin and args.kind != "ingest":
        print("replaydesk: --origin is for ingest keys", file=sys.stderr)
        return 2
    try:
        for origin in args.origin:
            normalize_origin(origin)
    except ValueError as exc:
        print(f"replaydesk: --origin {exc}", file=sys.stderr)
        return 2
    created = with_services(settings, create)
    if args.kind == "api":
        print(f"API key {created.key_id}: {created.key}")
        print(f"scopes: {', '.join(sorted(set(args.scope))) or 'admin (everything)'}")
        print("Store it now: only its hash is kept.")
    else:
        print(f"ingest key: {created}")
    return 0


def revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def revoke(_store: Any, _blobs: Any, keys: Any) -> Any:
        return await keys.revoke(args.key)

    if with_services(settings, revoke):
        print("revoked")
        return 0
    print("replaydesk: no live key matches", file=sys.stderr)
    return 1
