"""The `replaydesk/page` event: the session's environment, and reloads as page views.

The user agent is parsed here, on the server, with ua-parser's maintained rules: the recorder
sends the raw string, so a better rule set improves every session without a new recorder.
"""

from __future__ import annotations

import functools
import re

import msgspec
import ua_parser

from service.ingest.scrubbing import scrub_text, scrub_url
from service.ingest.signals.findings import Findings, rewrite, try_decode
from service.rrweb import PagePayload, PageSize
from service.session_environment import DeviceClass, SessionEnvironment, Size

__all__ = ["page_event", "parse_user_agent", "warm_up"]

_PAGE = msgspec.json.Decoder(PagePayload)
# Longer than any real value; the stored event keeps what was sent.
_USER_AGENT_CHARS = 512
_NAME_CHARS = 64
_RELEASE_CHARS = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# ua-parser's name for a browser, a system or a device it does not know.
_UNKNOWN = "Other"


class ParsedAgent(msgspec.Struct, frozen=True):
    """What a user agent string says: browser, OS (names and versions) and device class."""

    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device: DeviceClass | None


# What an event without a user agent says: nothing.
_NO_AGENT = ParsedAgent(None, None, None, None, None)


def _version(major: str | None, minor: str | None) -> str | None:
    """`131`, `17.5`: the major version and a minor one that says something."""
    if not major:
        return None
    return f"{major}.{minor}" if minor and minor != "0" else major


def _device(agent: str, parsed: ua_parser.Result) -> DeviceClass:
    device = parsed.device.family if parsed.device else ""
    brand = parsed.device.brand if parsed.device and parsed.device.brand else ""
    os = parsed.os.family if parsed.os else ""
    if device == "Spider" or "bot" in agent.lower():
        return "bot"
    if "iPad" in device or "Tablet" in brand or (os == "Android" and "Mobile" not in agent):
        return "tablet"
    if "Mobi" in agent or os in ("iOS", "Android"):
        return "mobile"
    return "desktop"


@functools.lru_cache(maxsize=1024)
def parse_user_agent(agent: str) -> ParsedAgent:
    """A user agent string as browser, OS and device class (cached: sites see few distinct)."""
    parsed = ua_parser.parse(agent)
    browser = parsed.user_agent
    os = parsed.os
    return ParsedAgent(
        browser=browser.family if browser and browser.family != _UNKNOWN else None,
        browser_version=_version(browser.major, browser.minor) if browser else None,
        os=os.family if os and os.family != _UNKNOWN else None,
        os_version=_version(os.major, os.minor) if os else None,
        device=_device(agent, parsed),
    )


def warm_up() -> None:
    """Load the parser's rules (about 0.2 s, once per process) before the first page event."""
    parse_user_agent("Mozilla/5.0")


def _clean(value: str | None, limit: int) -> str | None:
    """A value fit to show and store: no control characters, secrets or runaway length."""
    if not value:
        return None
    text = scrub_text(_CONTROL.sub("", value)).strip()[:limit]
    return text or None


def _size(size: PageSize | None) -> Size | None:
    return None if size is None else Size(size.width, size.height)


def page_event(ts: int, raw: msgspec.Raw, payload: msgspec.Raw, out: Findings) -> bytes | None:
    """Note the environment (the batch's last page event wins) and a reload; returns the event
    re-encoded when its URL lost a secret."""
    page = try_decode(_PAGE, payload)
    if page is None:
        return None
    url = scrub_url(page.url)
    agent = _clean(page.user_agent, _USER_AGENT_CHARS)
    parsed = parse_user_agent(agent) if agent else _NO_AGENT
    out.environment = SessionEnvironment(
        browser=parsed.browser,
        browser_version=parsed.browser_version,
        os=parsed.os,
        os_version=parsed.os_version,
        device=parsed.device,
        viewport=_size(page.viewport),
        screen=_size(page.screen),
        pixel_ratio=page.pixel_ratio,
        language=_clean(page.language, _NAME_CHARS),
        time_zone=_clean(page.time_zone, _NAME_CHARS),
        release=_clean(page.release, _RELEASE_CHARS),
        environment=_clean(page.environment, _NAME_CHARS),
        user_agent=agent,
    )
    if page.navigation == "reload":
        out.page_view(ts, url, "reload")
    return rewrite(raw, ("data", "payload"), {"url": url}) if url != page.url else None
