"""Whether the viewer links that go into tickets can be opened by the people who read them.

A public URL on a loopback address (`make run`'s default, `http://127.0.0.1:8000`) opens only
on the machine the service runs on: fine for a try-out, but an agent who clicks it elsewhere
gets nothing, and the tickets keep the dead link. So it is said where an admin looks.
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from service.plugin_host.host import PluginHost
from service.settings import PREFIX

__all__ = ["is_loopback_url", "loopback_link_warning", "warn_of_loopback_links"]

log = logging.getLogger(__name__)


def is_loopback_url(url: str) -> bool:
    """True when `url`'s host is this machine only: localhost, 127.x, ::1 or 0.0.0.0 (::)."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def loopback_link_warning(public_url: str) -> str | None:
    """What to tell an admin whose ticket links would be loopback ones; None when they are not.

    Names the URL's scheme, host and port only (never credentials a URL could carry).
    """
    if not is_loopback_url(public_url):
        return None
    parts = urlsplit(public_url)
    shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    return (
        f"{PREFIX}PUBLIC_URL is {shown}, a loopback address: the replay links written into "
        "tickets open only on this machine. Set it to the URL agents open."
    )


def warn_of_loopback_links(public_url: str, plugins: PluginHost) -> None:
    """At start: one log line when a ticket provider is active and its links would be loopback."""
    warning = loopback_link_warning(public_url)
    if warning and plugins.providers():
        log.warning("%s", warning)
