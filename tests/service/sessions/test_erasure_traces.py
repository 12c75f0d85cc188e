"""After an erasure, nothing of the erased user can be read from the data directory, byte by
byte: not in the SQLite file, its write-ahead log and shared memory, nor in the blob folder."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.settings import Settings
from service.web.app import create_app
from tests.conftest import AUTH, INGEST, make_settings, move_chunks
from tests.recordings import BASE_TS, batch, click, console_error, meta, network
from tests.sqlite_builds import connect_with_secure_delete_off

ERASED = b"qzerasedmarker7x"
KEPT = b"qzkeptmarker9x"
GZIP_MEMBER = b"\x1f\x8b\x08"


@pytest.fixture(params=["build default", "secure_delete off by default"])
def sqlite_build(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """SQLite as built here (Debian turns secure_delete on), or as many other builds ship it:
    every connection starts with secure_delete off, and only the service can turn it on."""
    if request.param != "build default":
        connect_with_secure_delete_off(monkeypatch)
    return str(request.param)


@pytest.fixture
def embedded_settings(
    tmp_path: Path, sqlite_template: Path, redis_url: str, sqlite_build: str
) -> Settings:
    """Embedded defaults: a SQLite file and the blob folder, in one data dir."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database = data_dir / "replaydesk.db"
    database.write_bytes(sqlite_template.read_bytes())
    return make_settings(data_dir, f"sqlite+aiosqlite:///{database}", redis_url)


@pytest.fixture
async def embedded(embedded_settings: Settings) -> AsyncIterator[tuple[Any, Path]]:
    """The app on embedded defaults, and its data dir."""
    async with AsyncTestClient(app=create_app(embedded_settings)) as client:
        yield client, embedded_settings.data_dir


def events(start: int, marker: bytes, count: int) -> list[dict[str, Any]]:
    """A page under a URL holding `marker`, clicks, failed requests and console errors with it."""
    word = marker.decode()
    page = f"https://shop.test/orders/{word}"
    found: list[dict[str, Any]] = [meta(start, page)]
    for i in range(count):
        ts = start + 10 + i * 10
        found.append(click(ts))
        found.append(network(ts + 1, f"https://shop.test/api/{word}/{i}", 500))
        found.append(console_error(ts + 2, f"TypeError: order {word} number {i} failed"))
    return found


async def ingest(client: Any, session_id: str, seq: int, user_id: str, marker: bytes) -> None:
    body = batch(session_id, seq, events(BASE_TS + seq * 60_000, marker, 40), user_id=user_id)
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    assert sent.status_code == 202, sent.text


def _gunzipped_members(data: bytes) -> Iterator[bytes]:
    """What every gzip member found in `data` decompresses to, as far as it is intact (a chunk
    in a database page, or a whole chunk file)."""
    start = data.find(GZIP_MEMBER)
    while start != -1:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            yield decompressor.decompress(data[start:], 1 << 24)
        except zlib.error:
            pass
        start = data.find(GZIP_MEMBER, start + 1)


def files_holding(data_dir: Path, marker: bytes) -> list[str]:
    """The files under `data_dir` that hold `marker`, plainly or in a gzip member."""
    found = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if marker in data or any(marker in member for member in _gunzipped_members(data)):
            found.append(str(path.relative_to(data_dir)))
    return found


async def test_an_erased_user_leaves_no_byte_in_the_data_dir(
    embedded: tuple[Any, Path],
) -> None:
    client, data_dir = embedded
    await ingest(client, "sess-kept-0001", 0, "kept-user", KEPT)
    for seq in range(12):
        await ingest(client, "sess-erased-01", seq, "erased-user", ERASED)
        await ingest(client, "sess-erased-02", seq, "erased-user", ERASED)
    await move_chunks(client)
    # One more chunk still in the journal when the erasure comes.
    await ingest(client, "sess-erased-03", 0, "erased-user", ERASED)
    holding = files_holding(data_dir, ERASED)
    assert "replaydesk.db-wal" in holding, holding
    assert any(name.startswith("blobs/") for name in holding), holding

    response = await client.delete("/api/v1/users/erased-user", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["sessions_erased"] == 3

    assert files_holding(data_dir, ERASED) == []
    # The scan does see what was kept.
    assert files_holding(data_dir, KEPT) != []
    kept = await client.get("/api/v1/sessions/sess-kept-0001/events", headers=AUTH)
    assert kept.status_code == 200 and KEPT in kept.content
