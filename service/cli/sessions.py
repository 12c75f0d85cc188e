"""`replaydesk last` and `replaydesk link`: a user's newest session, and links to watch one."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec

from service.cli.local_services import with_services
from service.settings import PREFIX, Settings

__all__ = ["last", "link", "live"]


def _latest_summary(settings: Settings, user_id: str) -> Any:
    """The user's newest session summary; None (said on stderr) when they have none."""
    from service.errors import NotFound
    from service.sessions.reader import SessionReader

    async def find(store: Any, blobs: Any, _: Any) -> Any:
        reader = SessionReader(store, blobs, settings.session_idle_timeout_seconds)
        return await reader.latest_for_user(user_id)

    try:
        return with_services(settings, find)
    except NotFound as exc:
        print(f"replaydesk: {exc.detail}", file=sys.stderr)
        return None


def _ttl_refused(ttl: int | None) -> bool:
    """Whether `--ttl` is outside what the API allows (said on stderr)."""
    from service.viewer.tokens import MAX_TTL_SECONDS, MIN_TTL_SECONDS

    if ttl is None or MIN_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS:
        return False
    print(
        f"replaydesk: --ttl must be {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS} seconds (a week)",
        file=sys.stderr,
    )
    return True


def last(settings: Settings, args: argparse.Namespace) -> int:
    summary = _latest_summary(settings, args.user_id)
    if summary is None:
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


def live(settings: Settings, args: argparse.Namespace) -> int:
    if _ttl_refused(args.ttl):
        return 2
    summary = _latest_summary(settings, args.user_id)
    if summary is None:
        return 1
    if not summary.active:
        print(
            f"replaydesk: no session of this user is being recorded now (the newest, "
            f"{summary.session_id}, last sent at {summary.last_received_at:%Y-%m-%d %H:%M:%S}"
            f" UTC); `replaydesk last` replays it",
            file=sys.stderr,
        )
        return 1
    link = _viewer_tokens(settings).mint(
        summary.session_id, args.ttl or settings.default_link_ttl_seconds, live=True
    )
    print(link.url)
    print(
        f"live view of {summary.session_id}, works until {link.expires_at:%Y-%m-%d %H:%M} UTC"
        f" (jti {link.jti})",
        file=sys.stderr,
    )
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
    from service.errors import BadRequest
    from service.sessions.reader import shown_window

    if _ttl_refused(args.ttl):
        return 2
    try:
        asked = _asked_window(args)
    except ValueError as exc:
        print(f"replaydesk: {exc}", file=sys.stderr)
        return 2

    async def find(store: Any, _blobs: Any, _keys: Any) -> Any:
        return await store.get(args.session_id)

    session = with_services(settings, find)
    if session is None:
        print(f"replaydesk: no session {args.session_id!r}", file=sys.stderr)
        return 1
    window = None
    if asked is not None:
        from service.viewer.link_windows import resolve_window

        try:
            window = resolve_window(asked, session)
        except BadRequest as exc:
            print(f"replaydesk: {exc.detail}", file=sys.stderr)
            return 2
    link = _viewer_tokens(settings).mint(
        args.session_id,
        args.ttl or settings.default_link_ttl_seconds,
        open_at="first-error" if args.first_error else None,
        window=window,
    )
    print(link.url)
    if window is not None:
        from service.report.text import format_offset

        shown = shown_window(window, session)
        print(
            f"shows {format_offset(shown.from_ms)} to {format_offset(shown.to_ms)} of the session",
            file=sys.stderr,
        )
    print(f"works until {link.expires_at:%Y-%m-%d %H:%M} UTC (jti {link.jti})", file=sys.stderr)
    return 0


def _asked_window(args: argparse.Namespace) -> Any:
    """The `LinkWindow` the window options ask for (None without any), checked as the API
    checks a link request's `window`; ValueError says which option is wrong."""
    from service.viewer.link_windows import LinkWindow

    if args.ticket_at is not None and args.before_ticket is None:
        raise ValueError("--ticket-at goes with --before-ticket MINUTES")
    fields: dict[str, Any] = {
        "from_ms": _offset_ms("--from", args.from_offset),
        "to_ms": _offset_ms("--to", args.to_offset),
        "around_first_error_minutes": args.around_first_error,
    }
    if args.before_ticket is not None:
        fields["before_ticket_minutes"] = args.before_ticket
        fields["ticket_at"] = args.ticket_at or datetime.now(UTC).isoformat()
    fields = {name: value for name, value in fields.items() if value is not None}
    if not fields:
        return None
    try:
        return msgspec.convert(fields, LinkWindow)
    except msgspec.ValidationError as exc:
        raise ValueError(_option_names(str(exc))) from None


_OPTIONS = {
    "from_ms": "--from",
    "to_ms": "--to",
    "before_ticket_minutes": "--before-ticket",
    "ticket_at": "--ticket-at",
    "around_first_error_minutes": "--around-first-error",
}


def _option_names(message: str) -> str:
    """A window error as the command line names things: `--from`, not `$.from_ms`."""
    for field, option in _OPTIONS.items():
        message = message.replace(f"`$.{field}`", option)
    return message


def _offset_ms(option: str, text: str | None) -> int | None:
    """`90`, `1:30` or `1:02:05` (seconds, minutes:seconds, hours:minutes:seconds) as ms."""
    if text is None:
        return None
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(part.isascii() and part.isdigit() for part in parts):
        raise ValueError(f"{option} takes seconds, M:SS or H:MM:SS into the session, not {text!r}")
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds * 1000
