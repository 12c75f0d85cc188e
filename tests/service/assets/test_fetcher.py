"""Fetching an asset copy: only from allowed origins and addresses, same-origin redirects,
capped sizes, allowed types, nothing of the service or the agent sent along."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.assets.fetcher import AssetFetcher, Fetched, FetchFailure, asset_content_type
from service.assets.origin_policy import OriginPolicy, address_kind
from tests.asset_site import RED_PNG, AssetSite, Route, asset_site


@pytest.fixture
def site() -> Iterator[AssetSite]:
    with asset_site() as running:
        running.routes["/a.png"] = Route(RED_PNG, "image/png", headers={"Set-Cookie": "id=1"})
        running.routes["/site.css"] = Route(b"a{color:red}", "text/css; charset=utf-8")
        yield running


@pytest.fixture
def other() -> Iterator[AssetSite]:
    with asset_site() as running:
        running.routes["/b.png"] = Route(RED_PNG, "image/png")
        yield running


def named(*origins: str, max_bytes: int = 5 * 1024 * 1024) -> AssetFetcher:
    return AssetFetcher(OriginPolicy.from_origins(origins), max_bytes=max_bytes)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", "public"),
        ("2606:4700:4700::1111", "public"),
        ("127.0.0.1", "private"),
        ("::1", "private"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "private"),
        ("::ffff:127.0.0.1", "private"),
        ("169.254.169.254", "forbidden"),
        ("fe80::1", "forbidden"),
        ("224.0.0.1", "forbidden"),
        ("0.0.0.0", "forbidden"),  # noqa: S104 -- an address checked, not bound
        ("240.0.0.1", "forbidden"),
        ("::ffff:169.254.169.254", "forbidden"),
    ],
)
def test_address_kinds(address: str, kind: str) -> None:
    assert address_kind(address) == kind


async def test_a_named_loopback_origin_is_fetched_with_nothing_of_ours_sent(
    site: AssetSite,
) -> None:
    fetcher = named(site.origin)
    first = await fetcher.fetch(site.origin + "/a.png")
    assert first == Fetched("image/png", RED_PNG)
    second = await fetcher.fetch(site.origin + "/site.css")
    assert second == Fetched("text/css", b"a{color:red}")
    for _, headers in site.requests:
        assert "cookie" not in headers  # the first answer's cookie is not sent back
        assert "referer" not in headers
        assert "authorization" not in headers
        assert headers["host"] == site.origin.removeprefix("http://")


async def test_any_origin_never_reaches_a_private_address(site: AssetSite) -> None:
    port = site.origin.rsplit(":", 1)[1]
    fetcher = named("*")
    assert await fetcher.fetch(site.origin + "/a.png") == FetchFailure("refused")
    # A name that resolves to loopback is refused the same way: the address is what counts.
    assert await fetcher.fetch(f"http://localhost:{port}/a.png") == FetchFailure("refused")
    assert site.requests == []


async def test_origins_no_key_names_are_refused(site: AssetSite, other: AssetSite) -> None:
    fetcher = named(other.origin)
    assert await fetcher.fetch(site.origin + "/a.png") == FetchFailure("refused")
    for url in ["ftp://127.0.0.1/a.png", "file:///etc/passwd", "http://[::1/a.png", "gopher://x"]:
        assert await fetcher.fetch(url) == FetchFailure("refused")
    assert site.requests == []


async def test_link_local_is_refused_even_when_named() -> None:
    fetcher = named("http://169.254.169.254")
    assert await fetcher.fetch("http://169.254.169.254/latest/meta-data/") == FetchFailure(
        "refused"
    )


async def test_redirects_stay_within_the_origin(site: AssetSite, other: AssetSite) -> None:
    site.routes["/same"] = Route(b"", "text/plain", 302, headers={"Location": "/a.png"})
    site.routes["/away"] = Route(
        b"", "text/plain", 302, headers={"Location": other.origin + "/b.png"}
    )
    site.routes["/loop"] = Route(b"", "text/plain", 302, headers={"Location": "/loop"})
    # Both origins allowed: a redirect across them is refused all the same.
    fetcher = named(site.origin, other.origin)
    assert await fetcher.fetch(site.origin + "/same") == Fetched("image/png", RED_PNG)
    assert await fetcher.fetch(site.origin + "/away") == FetchFailure("redirected")
    assert await fetcher.fetch(site.origin + "/loop") == FetchFailure("redirected")
    assert other.requests == []


async def test_oversize_assets_are_not_copied(site: AssetSite) -> None:
    big = b"\x89PNG" + b"\0" * 5000
    site.routes["/declared.png"] = Route(big, "image/png")
    site.routes["/unsized.png"] = Route(big, "image/png", sized=False)
    fetcher = named(site.origin, max_bytes=4096)
    assert await fetcher.fetch(site.origin + "/declared.png") == FetchFailure("too_large")
    assert await fetcher.fetch(site.origin + "/unsized.png") == FetchFailure("too_large")
    assert await fetcher.fetch(site.origin + "/a.png") == Fetched("image/png", RED_PNG)


async def test_only_stylesheets_fonts_and_images_are_copied(site: AssetSite) -> None:
    site.routes["/page.html"] = Route(b"<html>", "text/html")
    site.routes["/app.js"] = Route(b"alert(1)", "application/javascript")
    site.routes["/font.woff2"] = Route(b"wOF2", "application/octet-stream")
    site.routes["/blob.bin"] = Route(b"x", "application/octet-stream")
    site.routes["/missing.png"] = Route(b"", "image/png", 404)
    fetcher = named(site.origin)
    assert await fetcher.fetch(site.origin + "/page.html") == FetchFailure("wrong_type")
    assert await fetcher.fetch(site.origin + "/app.js") == FetchFailure("wrong_type")
    assert await fetcher.fetch(site.origin + "/blob.bin") == FetchFailure("wrong_type")
    assert await fetcher.fetch(site.origin + "/font.woff2") == Fetched("font/woff2", b"wOF2")
    assert await fetcher.fetch(site.origin + "/missing.png") == FetchFailure("failed")


def test_content_types() -> None:
    assert asset_content_type("TEXT/CSS; charset=utf-8", "https://x/a") == "text/css"
    assert asset_content_type("image/svg+xml", "https://x/a") == "image/svg+xml"
    assert asset_content_type("application/font-woff", "https://x/a") == "font/woff"
    assert asset_content_type("text/html", "https://x/a.css") is None
    assert asset_content_type(None, "https://x/a.ttf") == "font/ttf"
    assert asset_content_type("image/png\r\nX-Evil: 1", "https://x/a") is None
