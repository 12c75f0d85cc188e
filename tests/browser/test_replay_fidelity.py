"""A seek in the replay page shows what the live page showed at that moment: a page recorded by
the real recorder, with route changes, window and inner scrolling and an animated dialog, then
replayed and sought to each moment, paused, in a shuffled order."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import API_KEY, Service, Site, wait_for

pytestmark = pytest.mark.browser

# The page's steps run for about 7 s; its recorder flushes often so the test waits little.
FLUSH_MS = 300
# A seek lands on the timeline's pixel grid: this close to the moment is the moment (each state
# holds for most of a 900 ms step).
LANDING_TOLERANCE_MS = 120

_REPLAY_STATE = """() => {
  const frame = document.querySelector("[data-testid=replay-frame] iframe");
  const win = frame.contentWindow, doc = frame.contentDocument;
  const inner = doc.getElementById("inner");
  const box = doc.querySelector(".dialog");
  return {
    scrollY: Math.round(win.scrollY),
    inner: inner ? Math.round(inner.scrollTop) : null,
    dialog: box
      ? {
          opacity: win.getComputedStyle(box).opacity,
          finished: box.getAnimations().every(
            (a) => a.currentTime >= a.effect.getComputedTiming().endTime),
        }
      : null,
  };
}"""
# A click on the timeline where `offset` lies, as a user's click there.
_SEEK = """([offset, duration]) => {
  const track = document.querySelector("[data-testid=timeline]");
  const box = track.getBoundingClientRect();
  track.dispatchEvent(new MouseEvent("click", {
    bubbles: true, clientX: box.left + (offset / duration) * box.width }));
}"""


def _record(page: Page, site: Site, service: Service) -> tuple[str, list[dict[str, Any]]]:
    site.configure(site.user_id, flushIntervalMs=FLUSH_MS)
    page.goto(site.url("fidelity.html"))
    wait_for(lambda: page.evaluate("window.fidelity.done"), timeout=30, what="the page's steps")
    moments: list[dict[str, Any]] = page.evaluate("window.fidelity.moments")
    session_id = str(page.evaluate("ReplayDesk.getSessionId()"))
    last = moments[-1]["ts"]
    # Something recorded after the last moment, so the replay's timeline reaches past it.
    page.mouse.move(300, 300)
    page.mouse.move(320, 340)

    def recorded() -> bool:
        events = service.events(session_id)
        return bool(events) and events[-1]["timestamp"] > last

    wait_for(recorded, what="the recording past the last moment", page=page)
    page.close()
    return session_id, moments


def _link(service: Service, session_id: str) -> str:
    response = httpx.post(
        f"{service.base}/api/v1/sessions/{session_id}/links",
        json={},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return f"{service.base}/replay/{session_id}#t={response.json()['token']}"


def test_a_paused_seek_shows_the_scrolls_and_the_finished_dialog_the_live_page_had(
    page: Page, site: Site, service: Service
) -> None:
    recording = page.context.new_page()
    session_id, moments = _record(recording, site, service)
    events = service.events(session_id)
    start, duration = events[0]["timestamp"], events[-1]["timestamp"] - events[0]["timestamp"]
    # What the page went through, so the comparison below means something.
    assert [m["scrollY"] for m in moments] == [0, 600, 600, 200, 200, 900, 300, 300]
    assert [m["inner"] for m in moments] == [0, 0, 300, None, None, None, 150, 700]
    assert moments[4]["dialog"] == {"opacity": "1", "finished": True}

    page.goto(_link(service, session_id))
    page.wait_for_selector("body[data-loaded=true]")
    order = list(range(len(moments)))
    random.Random(22).shuffle(order)
    # Backwards and forwards, and twice to some moments, after other seeks.
    order += [order[0], 1, len(moments) - 1, 4]
    mismatches = []
    for index in order:
        moment = moments[index]
        offset = moment["ts"] - start
        page.evaluate(_SEEK, [offset, duration])
        landed = int(page.get_by_test_id("clock").get_attribute("data-offset") or "-1")
        assert abs(landed - offset) <= LANDING_TOLERANCE_MS, (index, landed, offset)
        # Two frames: whatever the page does after a seek has been done by then.
        page.wait_for_timeout(150)
        replayed = page.evaluate(_REPLAY_STATE)
        live = {key: moment[key] for key in ("scrollY", "inner", "dialog")}
        if replayed != live:
            mismatches.append((index, live, replayed))
    assert page.get_by_role("button", name="Play").is_visible()  # still paused
    assert not mismatches, "\n".join(
        f"moment {index}: live {live}, replay {replayed}" for index, live, replayed in mismatches
    )
