"""Shared fixtures: real PostgreSQL and Redis (loopback), SQLite files, and a running app."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, settings
from litestar.testing import AsyncTestClient
from redis import Redis
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from service.settings import Settings
from service.storage.blobs import BlobStore, open_blob_store
from service.storage.database import create_engine, upgrade_database
from service.storage.models import Base
from service.storage.session_store import SessionStore
from service.web.app import create_app

TEST_REDIS_URL = os.environ.get("REPLAYDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_DATABASE_URL = os.environ.get(
    "REPLAYDESK_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# A property holds or not whatever the machine's speed: no per-example deadline and no check
# that input generation is quick, which fail on a loaded machine rather than on a wrong answer.
# Example counts stay Hypothesis's own (the fuzz test sets its own).
settings.register_profile("replaydesk", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("replaydesk")

API_KEY = "test-api-key-0123456789"
INGEST_KEY = "test-ingest-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
INGEST = {"X-ReplayDesk-Key": INGEST_KEY}


async def admin_sql(statement: str) -> None:
    engine = create_async_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this test run's own, dropped at the end."""
    name = f"replaydesk_test_{secrets.token_hex(4)}"
    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    url = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    yield url
    asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    return path


async def _truncate(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names}"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "replaydesk.db"
        path.write_bytes(template.read_bytes())
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SessionStore]:
    """A SessionStore on the test database, its connections closed at the end."""
    engine = create_engine(database_url)
    store = SessionStore(engine)
    yield store
    store.dispose()
    await engine.dispose()


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    """A blob store in a folder of the test's own."""
    return open_blob_store(None, tmp_path)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis database, emptied before each test."""
    client = Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield TEST_REDIS_URL
    client.close()


def make_settings(
    data_dir: Path, database_url: str, redis_url: str | None, **extra: object
) -> Settings:
    """Settings for a test service."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "redis_url": redis_url,
        "secret_key": "test-secret-key",
        "api_keys": (API_KEY,),
        "ingest_keys": (INGEST_KEY,),
        "ingest_origins": ("http://shop.test",),
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    """Settings of a service on the test database and Redis."""
    return make_settings(tmp_path, database_url, redis_url)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """An HTTP client talking to a running app (lifespan included)."""
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


async def move_chunks(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    """Move the app's journaled chunks into its blob store now (it does so a moment later).

    The app runs on the test client's own event loop, in another thread: so does this.
    """
    flush = client.app.state.services.ingestor.mover.flush
    await asyncio.to_thread(client.blocking_portal.call, flush)


def user_path(user_id: str) -> str:
    """The user's path as the test client needs it: it decodes a path twice (httpx, then its
    transport), where a server decodes once. Dots are encoded too, or `.` and `..` would be
    taken as relative segments."""
    segment = quote(user_id, safe="").replace(".", "%2E")  # no `.` or `..` to normalise away
    return "/api/v1/users/" + quote(segment, safe="")
