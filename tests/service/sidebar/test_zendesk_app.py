"""The Zendesk app package against Zendesk's documented app format.

What is pinned here comes from Zendesk's developer documentation, "Manifest reference" (apps
framework 2.0) and "Setting up new apps" (the files a package must hold), and from the checks
Zendesk runs on an uploaded package (its open-source zendesk_apps_support validator): the
required fields and their JSON types, the Support locations, the parameter types, a secure
parameter's domain whitelist, an https location URL, and `translations/<defaultLocale>.json`.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from service.sidebar.app_icons import png_size
from service.sidebar.zendesk_app import (
    AppUrlError,
    app_files,
    checked_app_url,
    lookup_order,
    manifest,
    write_app,
)

# "Manifest reference": required properties, and the type each documented property has.
REQUIRED = {"author", "defaultLocale", "location", "frameworkVersion"}
TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "author": dict,
    "version": str,
    "frameworkVersion": str,
    "location": dict,
    "defaultLocale": str,
    "parameters": list,
    "domainWhitelist": list,
    "private": bool,
    "requirementsOnly": bool,
    "singleInstall": bool,
    "signedUrls": bool,
    "marketingOnly": bool,
}
DOCUMENTED = {
    *TYPES,
    "gaID",
    "termsConditionsURL",
    "experiments",
    "oauth",
}
# Zendesk Support's app locations.
SUPPORT_LOCATIONS = {
    "top_bar",
    "nav_bar",
    "ticket_sidebar",
    "new_ticket_sidebar",
    "user_sidebar",
    "organization_sidebar",
    "background",
    "modal",
    "ticket_editor",
    "system_top_bar",
    "ticket_module",
}
LOCATION_OPTIONS = {"url", "flexible", "autoLoad", "autoHide", "size", "signed"}
PARAMETER_TYPES = {"text", "password", "checkbox", "url", "number", "multiline", "hidden", "oauth"}
PARAMETER_FIELDS = {"name", "type", "required", "secure", "default"}
FRAMEWORK_VERSIONS = {"2.0"}
# "Setting up new apps": the files every package holds.
PACKAGE_FILES = {
    "manifest.json",
    "translations/en.json",
    "assets/logo.png",
    "assets/logo-small.png",
}
ICON_SIZES = {"assets/logo.png": (320, 320), "assets/logo-small.png": (128, 128)}
# What the listing needs from `translations/en.json` (a private app needs only the name).
TRANSLATED = {"name", "short_description", "long_description", "installation_instructions"}

URL = "https://replay.example.com"


def check_manifest(doc: dict[str, Any]) -> None:
    """Fail on anything in `doc` that Zendesk's manifest reference does not allow."""
    assert REQUIRED <= doc.keys(), REQUIRED - doc.keys()
    assert doc.keys() <= DOCUMENTED, doc.keys() - DOCUMENTED
    for field, kind in TYPES.items():
        if field in doc:
            assert isinstance(doc[field], kind), (field, doc[field])
    author = doc["author"]
    assert {"name", "url"} <= author.keys() <= {"name", "email", "url"}
    assert all(isinstance(value, str) and value for value in author.values())
    assert doc["frameworkVersion"] in FRAMEWORK_VERSIONS

    assert doc["location"].keys() == {"support"}
    for name, options in doc["location"]["support"].items():
        assert name in SUPPORT_LOCATIONS
        assert isinstance(options, dict) and options.keys() <= LOCATION_OPTIONS
        assert isinstance(options.get("flexible", False), bool)
        url = urlsplit(options["url"])
        assert url.scheme == "https" or url.hostname == "localhost", options["url"]

    parameters = doc.get("parameters", [])
    names = [parameter["name"] for parameter in parameters]
    assert len(names) == len(set(names)) and "name" not in names
    for parameter in parameters:
        assert parameter.keys() <= PARAMETER_FIELDS, parameter
        assert parameter.get("type", "text") in PARAMETER_TYPES
        assert isinstance(parameter.get("required", False), bool)
        assert isinstance(parameter.get("secure", False), bool)
        assert not (parameter.get("type") == "hidden" and parameter.get("required"))
        # A default is stored in the clear: never on a secure setting.
        assert not (parameter.get("secure") and "default" in parameter)
    if any(parameter.get("secure") for parameter in parameters):
        # Zendesk's proxy puts secure settings only into requests to these domains.
        whitelist = doc.get("domainWhitelist")
        assert whitelist and all(isinstance(domain, str) and domain for domain in whitelist)
    if "domainWhitelist" in doc:
        assert all("/" not in domain and ":" not in domain for domain in doc["domainWhitelist"])


def test_the_manifest_follows_zendesks_manifest_reference() -> None:
    doc = manifest(URL)
    check_manifest(doc)
    assert doc["private"] is True
    assert doc["defaultLocale"] == "en"
    assert doc["location"]["support"] == {
        "ticket_sidebar": {"url": f"{URL}/zendesk/sidebar", "flexible": True}
    }
    parameters = {parameter["name"]: parameter for parameter in doc["parameters"]}
    assert parameters["replaydesk_url"] == {
        "name": "replaydesk_url",
        "type": "url",
        "required": True,
        "default": URL,
    }
    assert parameters["api_key"] == {
        "name": "api_key",
        "type": "text",
        "secure": True,
        "required": True,
    }
    assert parameters["user_lookup"]["required"] is False
    assert doc["domainWhitelist"] == ["replay.example.com"]


@pytest.mark.parametrize(
    "broken",
    [
        lambda doc: doc.pop("author"),
        lambda doc: doc.update(frameworkVersion=2.0),
        lambda doc: doc.update(private="true"),
        lambda doc: doc["location"]["support"].update(ticket_bar=doc["location"]["support"]),
        lambda doc: doc["parameters"][1].update(type="secret"),
        lambda doc: doc.pop("domainWhitelist"),
        lambda doc: doc["location"]["support"]["ticket_sidebar"].update(url="http://a.test/x"),
        lambda doc: doc["parameters"][1].update(default="k"),
    ],
)
def test_the_check_catches_what_zendesk_refuses(broken: Any) -> None:
    doc = manifest(URL)
    broken(doc)
    with pytest.raises(AssertionError):
        check_manifest(doc)


def test_the_package_holds_the_files_zendesk_needs_with_translations_for_every_setting(
    tmp_path: Path,
) -> None:
    files = app_files(URL, author_email="support@shop.example")
    assert files.keys() == PACKAGE_FILES
    doc = json.loads(files["manifest.json"])
    check_manifest(doc)
    assert doc["author"]["email"] == "support@shop.example"
    assert f"translations/{doc['defaultLocale']}.json" in files

    app = json.loads(files["translations/en.json"])["app"]
    assert TRANSLATED <= app.keys()
    assert all(isinstance(app[key], str) and app[key] for key in TRANSLATED)
    # Zendesk's listing cuts the name at 40 characters and the short description at 80.
    assert len(app["name"]) <= 40 and len(app["short_description"]) <= 80
    for parameter in doc["parameters"]:
        texts = app["parameters"][parameter["name"]]
        assert texts.keys() == {"label", "helpText"}
        assert texts["label"] and texts["helpText"]

    for path, size in ICON_SIZES.items():
        assert png_size(files[path]) == size
        assert_png_decodes(files[path], size)


def assert_png_decodes(data: bytes, size: tuple[int, int]) -> None:
    """Every chunk's CRC holds and the image data inflates to one filtered RGBA row per line."""
    position, idat = 8, b""
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        crc = int.from_bytes(data[position + 8 + length : position + 12 + length], "big")
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"IDAT":
            idat += body
        position += 12 + length
    assert kind == b"IEND"
    width, height = size
    assert len(zlib.decompress(idat)) == height * (1 + 4 * width)


def test_the_archive_has_the_files_at_its_root_and_the_folder_beside_it(tmp_path: Path) -> None:
    files = app_files(URL)
    archive = write_app(files, tmp_path / "zendesk-app")
    assert archive == tmp_path / "zendesk-app.zip"
    with zipfile.ZipFile(io.BytesIO(archive.read_bytes())) as opened:
        assert opened.testzip() is None
        assert set(opened.namelist()) == PACKAGE_FILES
        for path, content in files.items():
            assert opened.read(path) == content
            assert (tmp_path / "zendesk-app" / path).read_bytes() == content
    # The same URL and release give the same archive, byte for byte.
    assert write_app(app_files(URL), tmp_path / "again").read_bytes() == archive.read_bytes()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://replay.example.com/", "https://replay.example.com"),
        ("https://replay.example.com:8443/rd", "https://replay.example.com:8443/rd"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:8000/", "http://localhost:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_https_and_loopback_urls_are_taken(given: str, expected: str) -> None:
    assert checked_app_url(given) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://replay.example.com",
        "http://10.0.0.5:8000",
        "ftp://replay.example.com",
        "replay.example.com",
        "https://replay.example.com/?x=1",
        "https://user:pw@replay.example.com",
        "https://",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(AppUrlError):
        checked_app_url(url)


def test_a_port_stays_out_of_the_domain_whitelist() -> None:
    doc = manifest("https://replay.example.com:8443")
    assert doc["domainWhitelist"] == ["replay.example.com"]
    check_manifest(doc)


@pytest.mark.parametrize(
    ("value", "order"),
    [
        ("external_id,email", ("external_id", "email")),
        (" email , external_id ", ("email", "external_id")),
        ("email,email", ("email",)),
        ("email,phone", None),
        ("", None),
        (None, None),
    ],
)
def test_lookup_orders(value: str | None, order: tuple[str, ...] | None) -> None:
    assert lookup_order(value) == order
