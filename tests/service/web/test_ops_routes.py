"""/health and /metrics, including while Redis is unreachable (ingest must not depend on it)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.web.app import create_app
from tests.conftest import AUTH, INGEST, make_settings
from tests.recordings import batch, checkout_events


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def client_without_redis(
    tmp_path: Path, database_url: str
) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = make_settings(tmp_path, database_url, f"redis://127.0.0.1:{closed_port()}/0")
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def test_health_reports_every_dependency(client: Any) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "blob_store": "ok", "queue": "ok"},
    }


async def test_with_redis_down_ingest_and_lookup_still_work_and_health_says_why(
    client_without_redis: Any,
) -> None:
    client = client_without_redis
    body = msgspec.json.encode(batch("sess-noredis-01", 0, checkout_events()))
    accepted = await client.post("/api/v1/ingest", content=body, headers=INGEST)
    assert accepted.status_code == 202
    latest = await client.get("/api/v1/users/u42/sessions/latest", headers=AUTH)
    assert latest.json()["session_id"] == "sess-noredis-01"

    health = await client.get("/health")
    assert health.status_code == 503
    checks = health.json()["checks"]
    assert checks["database"] == "ok" and checks["blob_store"] == "ok"
    assert checks["queue"].startswith("down")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "replaydesk_queue_depth NaN" in metrics.text


async def test_openapi_schema_lists_the_public_interface(client: Any) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    for path in (
        "/api/v1/ingest",
        "/api/v1/users/{user_id}/sessions",
        "/api/v1/users/{user_id}/sessions/latest",
        "/api/v1/users/{user_id}",
        "/api/v1/erasures/users/{user_id}",
        "/api/v1/sessions",
        "/api/v1/sessions/{session_id}",
        "/api/v1/sessions/{session_id}/events",
        "/api/v1/sessions/{session_id}/report",
        "/api/v1/sessions/{session_id}/links",
        "/health",
        "/metrics",
    ):
        assert path in schema["paths"], path
