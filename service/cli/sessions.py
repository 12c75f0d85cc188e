"""`replaydesk last` and `replaydesk link`: a user's newest session, and links to watch one."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import msgspec

from service.cli.local_services import with_services
from service.settings import PREFIX, Settings

__all__ = ["last", "link"]


def last(settings: Settings, args: argparse.Namespace) -> int:
    from service.errors import NotFound
    from service.sessions.reader import SessionReader

    async def find(store: Any, blobs: Any, _: Any) -> Any:
        reader = SessionReader(store, blobs, settings.session_idle_timeout_seconds)
        return await reader.latest_for_user(args.user_id)

    try:
        summary = with_services(settings, find)
    except NotFound as exc:
        print(f"replaydesk: {exc.detail}", file=sys.stderr)
        return 1
    link = _viewer_tokens(settings).mint(
        summary.session_id,
        settings.default_link_ttl_seconds,
        open_at="first-error" if summary.first_error_at else None,
    )
    if args.json:
        shown = {**msgspec.to_builtins(summary), "replay_url": link.url}
        print(
            msgspec.json.format(
                msgspec.json.encode({**shown, "replay_expires_at": link.expires_at})
            ).decode()
        )
        return 0
    counts = summary.counts
    print(f"session   {summary.session_id}")
    print(f"user      {summary.user_id}")
    print(f"started   {summary.started_at:%Y-%m-%d %H:%M:%S} UTC")
    print(f"duration  {summary.duration_ms / 1000:.1f} s{'  (active)' if summary.active else ''}")
    print(
        f"counts    {counts.events} events, {counts.clicks} clicks, {counts.errors} errors, "
        f"{counts.failed_requests} failed requests, {counts.rage_clicks} rage clicks"
    )
    if summary.first_error_at:
        print(f"1st error {summary.first_error_offset_ms / 1000:.1f} s in")
    for url in summary.pages:
        print(f"page      {url}")
    print(f"replay    {link.url}")
    print(f"          (works until {link.expires_at:%Y-%m-%d %H:%M} UTC)")
    return 0


def _viewer_tokens(settings: Settings) -> Any:
    from service.viewer.tokens import ViewerTokens

    return ViewerTokens(settings.secret_key, _link_base(settings), settings.previous_secret_keys)


def _link_base(settings: Settings) -> str:
    """Where printed links point: the public URL this environment sets, or else the one of
    the serve running on the data dir (started, say, with another port in another shell)."""
    from service.data_dir_lock import serving_url

    if any(os.environ.get(f"{PREFIX}{name}") for name in ("PUBLIC_URL", "HOST", "PORT")):
        return settings.public_url
    return serving_url(settings.data_dir) or settings.public_url


def link(settings: Settings, args: argparse.Namespace) -> int:
    from service.viewer.tokens import MAX_TTL_SECONDS, MIN_TTL_SECONDS

    if args.ttl is not None and not MIN_TTL_SECONDS <= args.ttl <= MAX_TTL_SECONDS:
        print(
            f"replaydesk: --ttl must be {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS} seconds (a week)",
            file=sys.stderr,
        )
        return 2

    async def exists(store: Any, _blobs: Any, _keys: Any) -> bool:
        return await store.get(args.session_id) is not None

    if not with_services(settings, exists):
        print(f"replaydesk: no session {args.session_id!r}", file=sys.stderr)
        return 1
    link = _viewer_tokens(settings).mint(
        args.session_id,
        args.ttl or settings.default_link_ttl_seconds,
        open_at="first-error" if args.first_error else None,
    )
    print(link.url)
    print(f"works until {link.expires_at:%Y-%m-%d %H:%M} UTC (jti {link.jti})", file=sys.stderr)
    return 0
