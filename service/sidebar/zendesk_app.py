"""The Zendesk app package an admin uploads as a private app: manifest, translations, icons.

The app holds no code: its ticket sidebar is the page ReplayDesk serves at `/zendesk/sidebar`
(`service.sidebar.routes`). What the package declares follows Zendesk's manifest reference
(apps framework 2.0): the sidebar location by URL, the settings an admin fills in on
installation, and the one domain its secure setting may be sent to.
"""

from __future__ import annotations

import io
import ipaddress
import json
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from service import __version__
from service.sidebar.app_icons import LOGO_SIZE, LOGO_SMALL_SIZE, logo_png

__all__ = [
    "DEFAULT_LOOKUP",
    "REQUESTER_FIELDS",
    "SIDEBAR_PATH",
    "AppUrlError",
    "app_files",
    "checked_app_url",
    "lookup_order",
    "manifest",
    "translations",
    "write_app",
]

SIDEBAR_PATH: Final = "/zendesk/sidebar"
"""Where ReplayDesk serves the sidebar page, under its public URL."""

REQUESTER_FIELDS: Final = ("external_id", "email")
"""The requester's fields that can hold the user ID the recorder was given, as the Zendesk
plugin's `REPLAYDESK_ZENDESK_USER_LOOKUP` names them."""
DEFAULT_LOOKUP: Final = REQUESTER_FIELDS

# Setting names: what the sidebar page reads (`metadata().settings`, `{{setting.api_key}}`).
URL_SETTING: Final = "replaydesk_url"
KEY_SETTING: Final = "api_key"
LOOKUP_SETTING: Final = "user_lookup"

# Zip entries carry this time, so the same URL and version always give the same archive.
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


class AppUrlError(ValueError):
    """The URL the package would point Zendesk at cannot serve the sidebar."""


def checked_app_url(url: str) -> str:
    """`url` without a trailing slash, when Zendesk may load the sidebar from it.

    Agents' browsers load the sidebar inside Zendesk, an https page, and the request proxy
    sends the API key to it: anything but https is refused, except a loopback address for
    trying the app on this machine.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AppUrlError(f"{url!r} is not an http(s) URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise AppUrlError(f"{url!r}: give the service's base URL, without query or credentials")
    if parts.scheme != "https" and not _is_loopback(parts.hostname):
        raise AppUrlError(
            f"{url!r} is not https: Zendesk shows the sidebar in an https page and sends the "
            "API key to this address, so it must be https (http only on a loopback address, "
            "for a local try)"
        )
    return url.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lookup_order(value: str | None) -> tuple[str, ...] | None:
    """The requester fields of a comma-separated lookup setting, in order; None when it names
    a field that is not one of `REQUESTER_FIELDS`, or none at all."""
    fields = tuple(part.strip() for part in (value or "").split(",") if part.strip())
    if not fields or any(field not in REQUESTER_FIELDS for field in fields):
        return None
    return tuple(dict.fromkeys(fields))


def manifest(url: str, *, author_email: str | None = None) -> dict[str, Any]:
    """`manifest.json` for a ReplayDesk at `url` (already checked)."""
    author: dict[str, str] = {"name": "ReplayDesk", "url": url}
    if author_email:
        author["email"] = author_email
    return {
        "name": "ReplayDesk",
        "author": author,
        "defaultLocale": "en",
        "private": True,
        "location": {
            "support": {"ticket_sidebar": {"url": url + SIDEBAR_PATH, "flexible": True}},
        },
        # Zendesk's proxy puts a secure setting only into requests to these domains.
        "domainWhitelist": [str(urlsplit(url).hostname)],
        "parameters": [
            {"name": URL_SETTING, "type": "url", "required": True, "default": url},
            {"name": KEY_SETTING, "type": "text", "secure": True, "required": True},
            {"name": LOOKUP_SETTING, "type": "text", "required": False},
        ],
        "version": __version__,
        "frameworkVersion": "2.0",
    }


def translations() -> dict[str, Any]:
    """`translations/en.json`: what the listing and the installation page show."""
    fields = ", ".join(REQUESTER_FIELDS)
    return {
        "app": {
            "name": "ReplayDesk",
            "short_description": "The requester's recorded sessions beside the ticket",
            "long_description": (
                "Lists the ticket requester's recent ReplayDesk sessions (time, duration, "
                "pages, errors, rage clicks, browser and OS), the one nearest the ticket's "
                "creation first, with a Watch button that opens a short-lived replay link "
                "bound to the ticket."
            ),
            "installation_instructions": (
                "Create an API key that can only list sessions and mint links: "
                "`replaydesk keys create api --name zendesk-sidebar --scope sessions:read "
                "--scope links:create`. Paste it into API key; leave ReplayDesk URL as it is "
                "unless the service moved (then generate the package again, since Zendesk "
                "sends the key only to the domain the package names)."
            ),
            "parameters": {
                URL_SETTING: {
                    "label": "ReplayDesk URL",
                    "helpText": "The address of your ReplayDesk service (its public URL).",
                },
                KEY_SETTING: {
                    "label": "API key",
                    "helpText": (
                        "A ReplayDesk API key with the scopes sessions:read and links:create. "
                        "Zendesk keeps it secret: agents' browsers never receive it."
                    ),
                },
                LOOKUP_SETTING: {
                    "label": "Requester lookup",
                    "helpText": (
                        "Which of the requester's fields hold the user ID your site gives the "
                        f"recorder, in order ({fields}, comma-separated). Blank: the service's "
                        "REPLAYDESK_ZENDESK_USER_LOOKUP."
                    ),
                },
            },
        }
    }


def app_files(url: str, *, author_email: str | None = None) -> dict[str, bytes]:
    """The package's files, path → bytes, for a ReplayDesk at `url` (already checked)."""

    def as_json(value: Mapping[str, Any]) -> bytes:
        return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()

    return {
        "manifest.json": as_json(manifest(url, author_email=author_email)),
        "translations/en.json": as_json(translations()),
        "assets/logo.png": logo_png(LOGO_SIZE),
        "assets/logo-small.png": logo_png(LOGO_SMALL_SIZE),
    }


def write_app(files: Mapping[str, bytes], folder: Path) -> Path:
    """Write `files` into `folder` and beside it `folder.zip`, with the files at the archive's
    root as Zendesk expects them; the archive's path."""
    for path, content in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(content)
    archive = folder.with_name(folder.name + ".zip")
    archive.write_bytes(_zip(files.items()))
    return archive


def _zip(entries: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, content in sorted(entries):
            info = zipfile.ZipInfo(path, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()
