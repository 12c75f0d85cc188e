"""Following a session live: a live link, the stream of its batches as they are stored, the
ingest answer that asks the recorder to send sooner, the end of the view, and two replicas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from service.live import stream as live_stream
from service.settings import Settings
from tests.conftest import AUTH, INGEST
from tests.recordings import BASE_TS, batch, checkout_events, click
from tests.served_app import serving


@pytest.fixture(params=[0, 1], ids=["in-request", "processing-worker"])
async def base(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A served app storing batches in the request, or in a processing worker process (which
    publishes them to the live feed from there)."""
    workers = msgspec.structs.replace(settings, processing_workers=request.param)
    async with serving(workers) as url:
        yield url


class LiveReader:
    """Reads a live view's server-sent events as a browser's EventSource would (on a task of
    its own, so that waiting for an event that does not come leaves the stream intact)."""

    def __init__(self, response: httpx.Response) -> None:
        self._events: asyncio.Queue[tuple[str, Any, str | None] | None] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._read(response))

    async def _read(self, response: httpx.Response) -> None:
        event, data, event_id = "message", [], None
        try:
            async for line in response.aiter_lines():
                if line == "":
                    if data:
                        decoded = msgspec.json.decode("\n".join(data))
                        await self._events.put((event, decoded, event_id))
                    event, data, event_id = "message", [], None
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
                elif field == "id":
                    event_id = value
        except httpx.HTTPError:
            pass  # the view was cut (the test ended it, or the server stopped): it is closed
        finally:
            await self._events.put(None)

    async def next_event(self, within: float = 10.0) -> tuple[str, Any, str | None]:
        """(event, decoded data, id) of the next event, comments skipped."""
        async with asyncio.timeout(within):
            found = await self._events.get()
        if found is None:
            raise AssertionError("the live view closed")
        return found


async def send(http: httpx.AsyncClient, seq: int, events: list[Any], **extra: Any) -> Any:
    body = batch("sess-live-0001", seq, events, user_id="u-live", **extra)
    answer = await http.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    assert answer.status_code == 202, answer.text
    return answer.json()


async def until_stored(http: httpx.AsyncClient, events: int, final: bool = False) -> None:
    """Wait until the session holds `events` events (processing workers store a batch a moment
    after its ack)."""
    for _ in range(200):
        found = await http.get("/api/v1/sessions/sess-live-0001", headers=AUTH)
        if found.status_code == 200:
            summary = found.json()
            if summary["counts"]["events"] >= events and (not final or not summary["active"]):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the batches were not stored within 10 s")


async def live_link(http: httpx.AsyncClient, session_id: str = "sess-live-0001") -> str:
    minted = await http.post(
        f"/api/v1/sessions/{session_id}/links", json={"live": True}, headers=AUTH
    )
    assert minted.status_code == 201, minted.text
    assert "?live=1#t=" in minted.json()["url"]
    return str(minted.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_live_view_gets_the_session_so_far_then_each_batch_as_it_is_stored(
    base: str,
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        first = await send(http, 0, checkout_events())
        assert "live" not in first  # nobody watches yet: the answer is as it always was
        await send(http, 1, [click(BASE_TS + 3000)])
        await until_stored(http, len(checkout_events()) + 1)
        token = await live_link(http)
        async with http.stream(
            "GET", "/api/v1/sessions/sess-live-0001/live", headers=bearer(token)
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            view = LiveReader(response)
            for seq in (0, 1):
                event, data, event_id = await view.next_event()
                assert (event, data["seq"], event_id) == ("batch", seq, str(seq))
            assert (await view.next_event())[0] == "caught-up"
            sent_at = time.monotonic()
            answer = await send(http, 2, [click(BASE_TS + 6000)])
            assert answer["live"] is True  # the recorder is asked to send sooner
            event, data, _ = await view.next_event()
            assert (event, data["seq"]) == ("batch", 2)
            assert data["events"][0]["timestamp"] == BASE_TS + 6000
            assert time.monotonic() - sent_at < 2.0
            await send(http, 3, [click(BASE_TS + 9000)], final=True)
            assert (await view.next_event())[1]["seq"] == 3
            event, data, _ = await view.next_event()
            assert (event, data) == ("ended", {"reason": "final"})
        views = await http.get("/api/v1/sessions/sess-live-0001/views", headers=AUTH)
        assert "live" in {use["what"] for use in views.json()["uses"]}


async def test_a_viewer_that_reconnects_gets_what_came_after_its_last_batch(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for seq in range(3):
            await send(http, seq, checkout_events() if seq == 0 else [click(BASE_TS + seq)])
        await until_stored(http, len(checkout_events()) + 2)
        token = await live_link(http)
        headers = {**bearer(token), "Last-Event-ID": "1"}
        async with http.stream(
            "GET", "/api/v1/sessions/sess-live-0001/live", headers=headers
        ) as response:
            view = LiveReader(response)
            event, data, _ = await view.next_event()
            assert (event, data["seq"]) == ("batch", 2)
            assert (await view.next_event())[0] == "caught-up"
        for wrong in (b"-1", b"abc", b"1e3", "٣".encode(), b"9" * 11):
            refused = await http.get(
                "/api/v1/sessions/sess-live-0001/live",
                headers=[*bearer(token).items(), ("Last-Event-ID", wrong)],
            )
            assert refused.status_code == 400, wrong


async def test_only_live_links_and_recording_sessions_are_followed(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await send(http, 0, checkout_events())
        await until_stored(http, len(checkout_events()))
        replay = await http.post("/api/v1/sessions/sess-live-0001/links", json={}, headers=AUTH)
        refused = await http.get(
            "/api/v1/sessions/sess-live-0001/live", headers=bearer(replay.json()["token"])
        )
        assert refused.status_code == 403 and "live link" in refused.json()["detail"]
        for asked in (
            {"live": True, "window": {"from_ms": 0}},
            {"live": True, "open_at": "first-error"},
        ):
            wrong = await http.post(
                "/api/v1/sessions/sess-live-0001/links", json=asked, headers=AUTH
            )
            assert wrong.status_code == 400, wrong.text
        await send(http, 1, [click(BASE_TS + 2000)], final=True)
        await until_stored(http, len(checkout_events()) + 1, final=True)
        ended = await http.post(
            "/api/v1/sessions/sess-live-0001/links", json={"live": True}, headers=AUTH
        )
        assert ended.status_code == 409 and "no longer being recorded" in ended.json()["detail"]
        missing = await http.post(
            "/api/v1/sessions/sess-nope/links", json={"live": True}, headers=AUTH
        )
        assert missing.status_code == 404


@pytest.mark.parametrize("how", ["erased", "revoked"])
async def test_a_live_view_ends_when_the_session_is_erased_or_the_link_revoked(
    base: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_stream, "FIRST_CHECK_SECONDS", 0.2)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await send(http, 0, checkout_events())
        await until_stored(http, len(checkout_events()))
        minted = await http.post(
            "/api/v1/sessions/sess-live-0001/links", json={"live": True}, headers=AUTH
        )
        async with http.stream(
            "GET", "/api/v1/sessions/sess-live-0001/live", headers=bearer(minted.json()["token"])
        ) as response:
            view = LiveReader(response)
            assert (await view.next_event())[0] == "batch"
            assert (await view.next_event())[0] == "caught-up"
            if how == "erased":
                assert (await http.delete("/api/v1/users/u-live", headers=AUTH)).status_code == 200
            else:
                jti = minted.json()["jti"]
                revoked = await http.post("/api/v1/links/revoke", json={"jti": jti}, headers=AUTH)
                assert revoked.status_code == 200
            event, data, _ = await view.next_event()
            assert (event, data) == ("ended", {"reason": "gone" if how == "erased" else "revoked"})


async def test_two_replicas_behave_as_one(settings: Settings) -> None:
    """A viewer on one replica sees the batches another replica stores (one database, one
    Redis): the ingest answer on the other replica knows of the viewer too."""
    async with serving(settings) as first, serving(settings) as second:
        async with (
            httpx.AsyncClient(base_url=first, timeout=30) as watching,
            httpx.AsyncClient(base_url=second, timeout=30) as recording,
        ):
            await send(recording, 0, checkout_events())
            token = await live_link(watching)
            async with watching.stream(
                "GET", "/api/v1/sessions/sess-live-0001/live", headers=bearer(token)
            ) as response:
                view = LiveReader(response)
                assert (await view.next_event())[0] == "batch"
                assert (await view.next_event())[0] == "caught-up"
                answer = await send(recording, 1, [click(BASE_TS + 4000)])
                assert answer["live"] is True
                event, data, _ = await view.next_event()
                assert (event, data["seq"]) == ("batch", 1)


async def test_a_recorder_that_asks_first_streams_nothing_until_the_customer_allows_it(
    base: str,
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await send(http, 0, checkout_events(), live_consent="asked")
        await until_stored(http, len(checkout_events()))
        token = await live_link(http)
        async with http.stream(
            "GET", "/api/v1/sessions/sess-live-0001/live", headers=bearer(token)
        ) as response:
            view = LiveReader(response)
            assert await view.next_event() == ("waiting", {"for": "consent"}, None)
            answer = await send(http, 1, [click(BASE_TS + 3000)], live_consent="asked")
            assert answer["live"] is True  # the recorder asks the customer now
            with pytest.raises(TimeoutError):
                await view.next_event(within=2.5)  # nothing of the session meanwhile
            await send(http, 2, [click(BASE_TS + 6000)], live_consent="granted")
            seqs = []
            while (event := await view.next_event())[0] == "batch":
                seqs.append(event[1]["seq"])
            assert event[0] == "caught-up" or seqs[-1:] == [2]
            assert seqs[:2] == [0, 1]


async def test_a_customer_who_declines_ends_the_live_view(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await send(http, 0, checkout_events(), live_consent="asked")
        await until_stored(http, len(checkout_events()))
        token = await live_link(http)
        async with http.stream(
            "GET", "/api/v1/sessions/sess-live-0001/live", headers=bearer(token)
        ) as response:
            view = LiveReader(response)
            assert (await view.next_event())[0] == "waiting"
            await send(http, 1, [click(BASE_TS + 3000)], live_consent="declined")
            assert await view.next_event() == ("ended", {"reason": "declined"}, None)
        refused = await http.post(
            "/api/v1/ingest",
            content=msgspec.json.encode(
                batch("sess-live-0001", 2, [click(BASE_TS)], live_consent="maybe")
            ),
            headers=INGEST,
        )
        assert refused.status_code == 400
