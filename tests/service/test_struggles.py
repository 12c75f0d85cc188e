"""Rage, dead and error clicks over a whole session, whatever its batch boundaries.

Batches go through the real batch pass and the real store (SQLite and PostgreSQL), and the
struggles are read back as the report and search read them: the stored struggle signals and the
session's counters.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from service.ingest.signals.batch_pass import process_events
from service.signal_kinds import ClickSignal, Signal, kind_of, signal_data
from service.storage.database import create_engine
from service.storage.records import BatchRecord
from service.storage.session_store import SessionStore
from service.struggles import STRUGGLE_KINDS, find_struggles, merge_activity, recount_start
from tests.batch_records import store_batch
from tests.service.ingest.signals.test_batch_pass import (
    BUTTON_ID,
    EMAIL_INPUT_ID,
    NOTE_INPUT_ID,
    T0,
    Event,
    click,
    click_label,
    console,
    meta,
    mouse,
    mouse_move,
    mutation,
    navigation,
    network,
    page_load,
    typed,
)

SID = "sess-struggles-1"
COUPON_ID = 30

Batch = list[Event | list[Event]]


def flat(events: Batch) -> list[Event]:
    out: list[Event] = []
    for event in events:
        out.extend(event if isinstance(event, list) else [event])
    return out


def record(session_id: str, seq: int, events: Batch) -> BatchRecord:
    raw = msgspec.json.decode(json.dumps(flat(events)).encode(), type=list[msgspec.Raw])
    processed = process_events(raw)
    return BatchRecord(
        session_id=session_id,
        seq=seq,
        user_id="u1",
        blob_key=f"sessions/{session_id}/{seq:012d}-x.json.gz",
        first_ts=processed.first_ts,
        last_ts=processed.last_ts,
        event_count=processed.event_count,
        byte_count=10,
        received_at=T0,
        final=False,
        signals=processed.signals,
        activity=processed.activity,
    )


async def struggles_of(
    store: SessionStore, *batches: Batch, session_id: str = SID, order: list[int] | None = None
) -> list[Signal]:
    """Store the batches (in `order` of arrival, else as given); the session's struggles, after
    checking its counters count them."""
    for seq in order if order is not None else range(len(batches)):
        assert await store_batch(store, record(session_id, seq, batches[seq]))
    found = await store.signals(session_id, STRUGGLE_KINDS)
    session = await store.get(session_id)
    assert session is not None
    kinds = [kind_of(s) for s in found]
    assert (
        session.rage_click_count,
        session.dead_click_count,
        session.error_click_count,
    ) == tuple(kinds.count(kind) for kind in STRUGGLE_KINDS)
    return found


def summary(found: list[Signal]) -> list[tuple[str, int, Any]]:
    return [(kind_of(s), s.ts - T0, signal_data(s).get("count")) for s in found]


# --- rage clicks ------------------------------------------------------------------------------


async def test_a_burst_across_a_batch_boundary_is_one_rage_click(store: SessionStore) -> None:
    first: Batch = [page_load(), *[[*click(T0 + t), mutation(T0 + t + 5)] for t in (100, 300)]]
    second: Batch = [[*click(T0 + t), mutation(T0 + t + 5)] for t in (450, 700)]
    second.append(mutation(T0 + 3000))
    assert summary(await struggles_of(store, first, second)) == [("rage_click", 100, 4)]


async def test_slow_clicks_or_a_click_elsewhere_in_between_are_not_rage(
    store: SessionStore,
) -> None:
    slow: Batch = [page_load(), *[[*click(T0 + t), mutation(T0 + t)] for t in (100, 1200, 2300)]]
    assert await struggles_of(store, slow, session_id="sess-slow") == []
    elsewhere: Batch = [page_load()]
    for t, node, x in ((100, BUTTON_ID, 640), (200, NOTE_INPUT_ID, 100), (300, BUTTON_ID, 640)):
        elsewhere += [
            mouse(T0 + t, 2, node, x=x, y=410),
            mutation(T0 + t),
        ]
    elsewhere.append(mutation(T0 + 3000))
    assert await struggles_of(store, elsewhere, session_id="sess-elsewhere") == []


async def test_clicks_on_the_same_spot_of_different_nodes_are_one_burst(
    store: SessionStore,
) -> None:
    # The icon inside a button, the button's padding: another node, the same place.
    events: Batch = [page_load()]
    for t, node, x in ((100, BUTTON_ID, 640), (300, 13, 650), (500, BUTTON_ID, 645)):
        events += [mouse(T0 + t, 2, node, x=x, y=410), mutation(T0 + t)]
    assert summary(await struggles_of(store, events)) == [("rage_click", 100, 3)]


# --- dead clicks ------------------------------------------------------------------------------


async def test_a_click_at_a_batch_end_is_judged_by_the_next_batch(store: SessionStore) -> None:
    first: Batch = [page_load(), click(T0 + 5000), click_label(T0 + 5000, "Apply coupon")]
    quiet: Batch = [mouse_move(T0 + 5600), mouse_move(T0 + 7000)]
    found = await struggles_of(store, first, quiet, session_id="sess-dead")
    assert [(kind_of(s), s.ts - T0, signal_data(s)["label"]) for s in found] == [
        ("dead_click", 5000, "Apply coupon")
    ]
    reacting: Batch = [mutation(T0 + 5600), mouse_move(T0 + 7000)]
    assert await struggles_of(store, first, reacting, session_id="sess-alive") == []


async def test_a_click_is_not_judged_before_the_session_reaches_its_window_end(
    store: SessionStore,
) -> None:
    events: Batch = [page_load(), click(T0 + 100), mouse_move(T0 + 1099)]
    assert await struggles_of(store, events) == []
    assert await store_batch(store, record(SID, 1, [mouse_move(T0 + 1100)]))
    assert summary(await store.signals(SID, STRUGGLE_KINDS)) == [("dead_click", 100, None)]


async def test_any_visible_reaction_saves_a_click(store: SessionStore) -> None:
    reactions = [
        mutation(T0 + 400),
        typed(T0 + 400, NOTE_INPUT_ID, "x"),
        navigation(T0 + 1050, "https://shop.example.com/done"),
        meta(T0 + 900, "https://shop.example.com/next"),
        network(T0 + 300, method="POST", url="https://api.example.com/pay"),
        # A slow request that started right after the click and answered later.
        network(T0 + 3000, method="POST", url="https://api.example.com/pay", duration=2850),
    ]
    for n, reaction in enumerate(reactions):
        # The reaction in a batch of its own, after the click's.
        found = await struggles_of(
            store,
            [page_load(), click(T0 + 100)],
            [reaction, mouse_move(T0 + 4000)],
            session_id=f"sess-react-{n}",
        )
        assert found == [], reaction


async def test_what_follows_a_click_elsewhere_does_not_save_a_click(store: SessionStore) -> None:
    # "Apply coupon" does nothing; "Place order" half a second later starts a request.
    events: Batch = [
        page_load(),
        mouse(T0 + 1000, 2, COUPON_ID, x=100, y=100),
        mouse(T0 + 1500, 2, BUTTON_ID, x=640, y=410),
        network(T0 + 1600, method="POST", duration=90),
        mutation(T0 + 1610),
        mouse_move(T0 + 5000),
    ]
    found = await struggles_of(store, events)
    assert [(kind_of(s), s.ts - T0, signal_data(s)["node_id"]) for s in found] == [
        ("dead_click", 1000, COUPON_ID)
    ]


async def test_a_click_into_a_form_field_is_not_dead(store: SessionStore) -> None:
    events: Batch = [
        page_load(),
        click(T0 + 100, EMAIL_INPUT_ID),
        click_label(T0 + 100, "", selector="input#email", tag="input"),
        mouse_move(T0 + 2000),
    ]
    assert await struggles_of(store, events) == []


# --- error clicks -----------------------------------------------------------------------------


async def test_a_click_followed_by_an_error_300_ms_later(store: SessionStore) -> None:
    first: Batch = [page_load(), click(T0 + 1000), click_label(T0 + 1000, "Place order")]
    second: Batch = [
        console(T0 + 1300, "error", ['"Payment failed"']),
        mutation(T0 + 1310),
        mouse_move(T0 + 5000),
    ]
    found = await struggles_of(store, first, second)
    assert [(kind_of(s), s.ts - T0, signal_data(s)["label"]) for s in found] == [
        ("error_click", 1000, "Place order")
    ]


async def test_the_failure_is_blamed_on_the_latest_click_before_it(store: SessionStore) -> None:
    events: Batch = [
        page_load(),
        mouse(T0 + 1000, 2, BUTTON_ID, x=640, y=410),
        mutation(T0 + 1010),
        mouse(T0 + 1200, 2, COUPON_ID, x=100, y=100),
        # Started 100 ms after the second click, failed 400 ms later.
        network(T0 + 1700, method="POST", status=500, duration=400),
        mouse_move(T0 + 5000),
    ]
    found = await struggles_of(store, events)
    assert [(kind_of(s), s.ts - T0, signal_data(s)["node_id"]) for s in found] == [
        ("error_click", 1200, COUPON_ID)
    ]


async def test_an_error_long_after_a_click_is_not_blamed_on_it(store: SessionStore) -> None:
    events: Batch = [
        page_load(),
        click(T0 + 1000),
        mutation(T0 + 1010),
        console(T0 + 2500, "error", ['"timer failed"']),
        mouse_move(T0 + 5000),
    ]
    assert await struggles_of(store, events) == []


async def test_a_late_batch_from_earlier_changes_the_verdict(store: SessionStore) -> None:
    # Batches can arrive out of order (a retry): the one with the reaction comes last.
    first: Batch = [page_load(), click(T0 + 100)]
    reaction: Batch = [mutation(T0 + 600)]
    later: Batch = [mouse_move(T0 + 9000)]
    assert await struggles_of(store, first, reaction, later, order=[0, 2, 1]) == []


# --- the definition on its own ----------------------------------------------------------------


def test_merged_activity_answers_as_the_raw_moments_do() -> None:
    assert merge_activity([5, 200, 900, 2800], [(2500, 2600)]) == [
        (5, 200),
        (900, 900),
        (2500, 2800),
    ]
    assert merge_activity([], []) == []


def test_the_recount_starts_at_the_first_click_of_the_burst() -> None:
    def on(ts: int, node: int) -> ClickSignal:
        return ClickSignal(ts=ts, node_id=node, x=node * 100, y=0)

    burst = [on(9_500, 1), on(8_800, 1), on(7_000, 1)]
    assert recount_start(10_000, burst) == 8_800
    # Another target ends a burst: the click on it is the first one that may start a burst.
    assert recount_start(10_000, [on(9_500, 1), on(9_000, 2), on(8_500, 2)]) == 9_500
    assert recount_start(10_000, [on(8_000, 1)]) == 10_000
    assert recount_start(10_000, []) == 10_000


def test_nothing_before_the_first_click_is_needed() -> None:
    assert find_struggles([], [(0, 10)], [5], 100) == []


# --- splitting the same events into batches anywhere ------------------------------------------

# Quiet moments (mouse moves) and clicks come up more often: dead clicks need both.
_KINDS = (
    *("click-button", "click-button", "click-coupon", "click-field"),
    *("mutation", "move", "move", "move", "error", "fail"),
)


def _event(kind: str, ts: int) -> list[Event]:
    if kind == "click-button":
        return [mouse(ts, 2, BUTTON_ID, x=640, y=410)]
    if kind == "click-coupon":
        return [mouse(ts, 2, COUPON_ID, x=100, y=100)]
    if kind == "click-field":
        return [
            mouse(ts, 2, EMAIL_INPUT_ID, x=300, y=600),
            click_label(ts, "", selector="input#email", tag="input"),
        ]
    if kind == "mutation":
        return [mutation(ts)]
    if kind == "move":
        return [mouse_move(ts)]
    if kind == "error":
        return [console(ts, "error", ['"boom"'])]
    return [network(ts, method="POST", status=500, duration=float(ts % 700))]


_steps = st.lists(
    # Mostly quick succession (bursts, reactions within the windows), sometimes a pause.
    st.tuples(st.one_of(st.integers(0, 450), st.integers(0, 1400)), st.sampled_from(_KINDS)),
    min_size=1,
    max_size=16,
)


def _sessions(steps: list[tuple[int, str]], cuts: set[int]) -> tuple[Batch, list[Batch]]:
    events: list[Event] = [*page_load()]
    ts = T0 + 10
    for gap, kind in steps:
        ts += gap
        events += _event(kind, ts)
    whole: Batch = list(events)
    parts: list[Batch] = []
    start = 0
    for cut in sorted(c for c in cuts if 0 < c < len(events)):
        # A click and its label leave the page in one task: never apart.
        if events[cut].get("type") == 5 and events[cut]["data"]["tag"] == "replaydesk/click":
            continue
        parts.append(list(events[start:cut]))
        start = cut
    parts.append(list(events[start:]))
    return whole, parts


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=_steps,
    cuts=st.sets(st.integers(min_value=1, max_value=24), max_size=8),
    shuffle=st.randoms(use_true_random=False),
)
def test_splitting_the_events_into_batches_anywhere_gives_the_same_struggles(
    sqlite_template: Path, steps: list[tuple[int, str]], cuts: set[int], shuffle: Any
) -> None:
    whole, parts = _sessions(steps, cuts)
    order = list(range(len(parts)))
    shuffle.shuffle(order)

    async def both() -> tuple[list[Signal], list[Signal], list[Signal]]:
        with tempfile.TemporaryDirectory() as folder:
            database = Path(folder) / "replaydesk.db"
            shutil.copyfile(sqlite_template, database)
            engine = create_engine(f"sqlite+aiosqlite:///{database}")
            store = SessionStore(engine)
            try:
                one = await struggles_of(store, whole, session_id="sess-whole")
                split = await struggles_of(store, *parts, session_id="sess-split")
                late = await struggles_of(store, *parts, session_id="sess-late", order=order)
            finally:
                store.dispose()
                await engine.dispose()
        return one, split, late

    one, split, late = asyncio.run(both())
    note_event(f"kinds found: {sorted({kind_of(s) for s in one})}")
    assert split == one
    assert late == one
