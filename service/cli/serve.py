"""`replaydesk serve`: the HTTP service, with its schema checked and first-start keys shown."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from service.cli.local_services import schema_ready
from service.settings import PREFIX, Settings, load_settings

__all__ = ["UVICORN_OPTIONS", "serve"]

# How uvicorn runs the app. Its logs never get a path or a query string: those hold user and
# session IDs and can hold an ingest key.
UVICORN_OPTIONS: dict[str, Any] = {
    "log_level": "info",
    "http": "httptools",
    # Our own access log names routes, not paths.
    "access_log": False,
    # No route is a WebSocket, and uvicorn logs a handshake's path and query.
    "ws": "none",
    "proxy_headers": True,
    # Live views are responses that last as long as the session: on stop, what is still open
    # after this is cut (a viewer reconnects where it left off), so `serve` stops in seconds.
    "timeout_graceful_shutdown": 2,
}


def serve(settings: Settings, args: argparse.Namespace) -> int:
    from service.data_dir_lock import DataDirBusy, acquire_data_dir_lock

    settings = _with_serve_flags(settings, args)
    lock = None
    # Embedded mode: this process starts (or joins) the data dir's private Redis and stops it
    # on the way out, so a second serve there would lose its queue when the first one stops.
    # With REPLAYDESK_REDIS_URL nothing in the data dir is private to one process, and several
    # serves on one machine are a legitimate way to scale: no lock then.
    if not settings.redis_url:
        try:
            lock = acquire_data_dir_lock(settings.data_dir, url=settings.public_url)
        except DataDirBusy as exc:
            print(f"replaydesk: {exc}", file=sys.stderr)
            return 1
    try:
        import uvicorn

        from service.web.app import create_app

        if not schema_ready(settings):
            return 1
        _announce(settings)
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, **UVICORN_OPTIONS)
    finally:
        # Held until the service (and the private Redis it started) has stopped.
        if lock is not None:
            lock.release()
    return 0


def _with_serve_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    """The settings with `serve --host/--port` read as REPLAYDESK_HOST/_PORT would be, so the
    public URL derived from them (unless the environment sets it) follows them too."""
    flags = {f"{PREFIX}HOST": args.host, f"{PREFIX}PORT": args.port and str(args.port)}
    overrides = {name: value for name, value in flags.items() if value}
    return load_settings({**os.environ, **overrides}) if overrides else settings


def _announce(settings: Settings) -> None:
    from service.auth.generated_secrets import take_keys_to_announce

    generated = take_keys_to_announce(settings.data_dir)
    # Keys set in the environment are the admin's own; only generated ones are shown.
    if generated is None or generated.api_key not in settings.api_keys:
        return
    lines = [
        "",
        f"ReplayDesk first start: keys generated and kept in {settings.data_dir / 'secrets.json'}",
        f"  API key     (secret, for the API and CLI): {generated.api_key}",
    ]
    if generated.ingest_key in settings.ingest_keys:
        lines.append(f"  ingest key  (public, for the recorder):    {generated.ingest_key}")
    print("\n".join([*lines, ""]), flush=True)
