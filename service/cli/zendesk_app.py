"""`replaydesk zendesk-app`: the package an admin uploads to Zendesk as a private app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.settings import Settings
from service.sidebar.zendesk_app import AppUrlError, app_files, checked_app_url, write_app

__all__ = ["zendesk_app"]


def zendesk_app(settings: Settings, args: argparse.Namespace) -> int:
    given = args.url or settings.public_url
    try:
        url = checked_app_url(given)
    except AppUrlError as exc:
        where = "--url" if args.url else "REPLAYDESK_PUBLIC_URL"
        print(f"replaydesk: {where}: {exc}", file=sys.stderr)
        print(
            "  pass the address agents' browsers reach the service at, e.g. "
            "--url https://replay.example.com",
            file=sys.stderr,
        )
        return 2
    folder = Path(args.out or "replaydesk-zendesk-app")
    if folder.exists() and not folder.is_dir():
        print(f"replaydesk: {folder} exists and is not a folder; nothing written", file=sys.stderr)
        return 1
    archive = write_app(app_files(url, author_email=args.email), folder)
    print(f"wrote {folder}/ and {archive}: the sidebar loads from {url}/zendesk/sidebar")
    if not url.startswith("https://"):
        print("note: a loopback address only works in a browser on this machine, for a try")
    print("Next:")
    print(
        "  1. replaydesk keys create api --name zendesk-sidebar "
        "--scope sessions:read --scope links:create"
    )
    print(
        f"  2. Zendesk Admin Center > Apps and integrations > Zendesk Support apps > "
        f"Upload private app: {archive}"
    )
    print("  3. Paste the key into the app's API key setting and install it.")
    return 0
