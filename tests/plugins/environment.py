"""A report as the recorder's page event and an error's page make it, for the renderers' tests."""

from __future__ import annotations

import msgspec

from service import ReplayReport, SessionEnvironment
from service.session_environment import Size

ENVIRONMENT = SessionEnvironment(
    browser="Chrome",
    browser_version="131",
    os="Windows",
    os_version="10",
    device="desktop",
    viewport=Size(1280, 720),
    language="en-NZ",
    time_zone="Pacific/Auckland",
    release="4.2.0",
    environment="production",
)


def with_environment(report: ReplayReport) -> ReplayReport:
    """`report` recorded in Chrome on Windows, its errors on the page it had open."""
    session = msgspec.structs.replace(report.session, environment=ENVIRONMENT)
    errors = [
        msgspec.structs.replace(error, page_url=report.session.pages[0])
        for error in report.console_errors
    ]
    return msgspec.structs.replace(report, session=session, console_errors=errors)
