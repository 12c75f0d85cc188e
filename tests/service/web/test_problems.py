"""Domain errors as problem documents: the status, and the headers a client acts on."""

from __future__ import annotations

from litestar import Litestar, get
from litestar.testing import TestClient

from service.errors import TooManyBatches, Unauthorized
from service.web.problems import exception_handlers


@get("/flood")
async def flood() -> None:
    raise TooManyBatches("send the batch again later")


@get("/locked")
async def locked() -> None:
    raise Unauthorized("an API key is required")


def test_a_refusal_to_come_back_later_says_when() -> None:
    app = Litestar([flood, locked], exception_handlers=exception_handlers)
    with TestClient(app) as client:
        answer = client.get("/flood")
        assert answer.status_code == 429
        assert answer.headers["retry-after"] == "2"
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["detail"] == "send the batch again later"
        other = client.get("/locked")
        assert other.status_code == 401
        assert other.headers["www-authenticate"] == "Bearer"
        assert "retry-after" not in other.headers
