"""Where a session was watched from: browser, OS, device, window, language, time zone, release.

The recorder sends it once per page load (`replaydesk/page`); ingest parses the user agent
(`service.ingest.signals.environment`), storage keeps the latest of a session's, and the read
side, the report, the notes and the viewer show it.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["DeviceClass", "SessionEnvironment", "Size"]

DeviceClass = Literal["desktop", "mobile", "tablet", "bot"]


class Size(msgspec.Struct, frozen=True):
    """Width and height in CSS pixels."""

    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}\N{MULTIPLICATION SIGN}{self.height}"


class SessionEnvironment(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The browser and page a session was recorded in, as its latest page load reported."""

    browser: str | None = None
    """The browser's name: `Chrome`, `Firefox`, `Mobile Safari`, `Edge`."""
    browser_version: str | None = None
    """Its major and minor version where known: `131`, `17.5`."""
    os: str | None = None
    """The operating system's name: `Windows`, `Mac OS X`, `iOS`, `Android`, `Linux`."""
    os_version: str | None = None
    device: DeviceClass | None = None
    viewport: Size | None = None
    screen: Size | None = None
    pixel_ratio: float | None = None
    language: str | None = None
    time_zone: str | None = None
    release: str | None = None
    """The site's release, as the page passed it to `ReplayDesk.init`."""
    environment: str | None = None
    """`production`, `staging`, ..., as the page passed it to `ReplayDesk.init`."""
    user_agent: str | None = None

    def browser_text(self) -> str | None:
        """`Chrome 131`, or None when the browser is unknown."""
        return _named(self.browser, self.browser_version)

    def os_text(self) -> str | None:
        """`Windows 10`, or None when the OS is unknown."""
        return _named(self.os, self.os_version)

    def describe(self) -> str:
        """One line a person reads: `Chrome 131 on Windows 10 (desktop), viewport 1280×720,
        en-NZ, Pacific/Auckland, release 4.2.0 (production)`."""
        where = " on ".join(p for p in (self.browser_text(), self.os_text()) if p)
        if self.device:
            where = f"{where} ({self.device})" if where else self.device
        parts = [
            where,
            f"viewport {self.viewport}" if self.viewport else "",
            self.language or "",
            self.time_zone or "",
        ]
        if self.release:
            parts.append(f"release {self.release}")
        if self.environment:
            parts.append(f"({self.environment})" if self.release else self.environment)
        return ", ".join(p for p in parts if p).replace(", (", " (")


def _named(name: str | None, version: str | None) -> str | None:
    if not name:
        return None
    return f"{name} {version}" if version else name
