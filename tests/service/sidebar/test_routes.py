"""The sidebar page Zendesk frames: locked down, Zendesk's SDK from its CDN, no inline script,
and the requester lookup order of the Zendesk plugin's setting."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.sidebar.routes import ZAF_SDK_URL
from service.web.app import create_app
from tests.conftest import make_settings


def directives(csp: str) -> dict[str, str]:
    found = {}
    for part in csp.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            found[name] = value
    return found


async def test_the_page_loads_only_its_bundle_and_zendesks_sdk_and_only_zendesk_may_frame_it(
    client: Any,
) -> None:
    page = await client.get("/zendesk/sidebar", params={"origin": "https://acme.zendesk.com"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = directives(page.headers["content-security-policy"])
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self' https://static.zdassets.com"
    assert csp["frame-ancestors"] == "https://*.zendesk.com"
    # The API is reached only through Zendesk's proxy: the page may connect nowhere itself.
    assert csp["connect-src"] == "'none'"
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page.text, re.S)
    assert scripts == ["", ""], "no inline script"
    sources = re.findall(r'<script src="([^"]+)"', page.text)
    assert sources == [ZAF_SDK_URL, "/zendesk/sidebar.js"]
    assert ZAF_SDK_URL.startswith("https://static.zdassets.com/zendesk_app_framework_sdk/2.0/")
    assert '<link rel="stylesheet" href="/zendesk/sidebar.css">' in page.text
    assert '<meta name="replaydesk-user-lookup" content="external_id,email">' in page.text


async def test_the_bundles_are_served_with_validators(client: Any) -> None:
    script = await client.get("/zendesk/sidebar.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    again = await client.get(
        "/zendesk/sidebar.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    styles = await client.get("/zendesk/sidebar.css")
    assert styles.headers["content-type"].startswith("text/css")


@pytest.fixture
async def configured(
    tmp_path: Path, database_url: str, redis_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = make_settings(
        tmp_path,
        database_url,
        redis_url,
        sidebar_frame_ancestors="https://*.zendesk.com https://help.shop.example",
        plugin_environment={"ZENDESK_USER_LOOKUP": request.param},
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(
    ("configured", "shown"),
    [
        ("email,external_id", "email,external_id"),
        ("email", "email"),
        # What the plugin would refuse, and markup, leave the page on the default order.
        ("phone,email", "external_id,email"),
        ('email"><script>alert(1)</script>', "external_id,email"),
    ],
    indirect=["configured"],
)
async def test_the_plugins_lookup_setting_and_the_frame_ancestors_are_the_services(
    configured: Any, shown: str
) -> None:
    page = await configured.get("/zendesk/sidebar")
    assert f'<meta name="replaydesk-user-lookup" content="{shown}">' in page.text
    assert "<script>alert" not in page.text
    csp = directives(page.headers["content-security-policy"])
    assert csp["frame-ancestors"] == "https://*.zendesk.com https://help.shop.example"
