"""Repro steps read like a person wrote them: pages, clicks with counts, masked typing, failures."""

from __future__ import annotations

from typing import Any

import msgspec

from service.report.repro_steps import build_repro_steps, step_sections, trim_steps
from service.signal_kinds import Signal, signal_from_row

START = 1_790_000_000_000


def signal(offset: int, kind: str, **data: Any) -> Signal:
    made = signal_from_row(kind, START + offset, data)
    assert made is not None, (kind, data)
    return made


def texts(signals: list[Signal]) -> list[str]:
    return [step.text for step in build_repro_steps(signals, START)]


def test_a_broken_checkout_reads_as_steps() -> None:
    steps = build_repro_steps(
        [
            signal(0, "page_view", url="https://shop.test/cart?coupon=x&utm_source=mail"),
            # rrweb's Meta event again at a full-snapshot checkout
            signal(500, "page_view", url="https://shop.test/cart?coupon=x&utm_source=mail"),
            signal(1000, "click", node_id=5, label="Card", tag="input"),
            signal(1200, "input", node_id=5),
            signal(1300, "input", node_id=5),
            signal(2000, "click", node_id=3, label="Place order", tag="button"),
            signal(2200, "click", node_id=3, label="Place order", tag="button"),
            signal(2400, "rage_click", node_id=3, count=3, label="Place order"),
            signal(2400, "click", node_id=3, label="Place order", tag="button"),
            signal(
                2500,
                "failed_request",
                method="post",
                url="https://shop.test/api/pay?t=1",
                status=500,
            ),
            signal(2600, "console_error", message="TypeError: x is undefined\n  at pay", stack=[]),
        ],
        START,
    )
    assert [s.text for s in steps] == [
        "Opened /cart?coupon=x",
        "Typed into Card (masked)",
        "Clicked 'Place order' ×3",
        "POST /api/pay → 500",
        "Console error: TypeError: x is undefined",
    ]
    assert [s.offset_ms for s in steps] == [0, 1200, 2000, 2500, 2600]
    assert steps[2].count == 3 and steps[2].kind == "click"


def test_unlabelled_clicks_dead_clicks_and_requests_without_an_answer() -> None:
    assert texts(
        [
            signal(0, "click", node_id=1, selector="#menu > li:nth-child(2)"),
            signal(10, "dead_click", node_id=1),
            signal(20, "click", node_id=2, tag="div"),
            signal(30, "click", node_id=9),
            signal(40, "input", node_id=4),
            signal(50, "failed_request", method="GET", url="/api/cart", status=0, error="offline"),
        ]
    ) == [
        "Clicked #menu > li:nth-child(2) (nothing happened)",
        "Clicked a div",
        "Clicked the page",
        "Typed into a field (masked)",
        "GET /api/cart → no response (offline)",
    ]


def test_long_labels_and_messages_are_cut() -> None:
    (step,) = texts([signal(0, "console_error", message="E" * 500, stack=[])])
    assert len(step) == 120 and step.endswith("…")


def test_too_many_steps_keep_the_start_and_the_run_to_the_first_error() -> None:
    signals = [signal(i * 10, "click", node_id=i, label=f"b{i}") for i in range(100)]
    signals.insert(60, signal(595, "console_error", message="boom", stack=[]))
    steps = build_repro_steps(signals, START)
    kept, omitted = trim_steps(steps, 12)
    assert len(kept) == 10 and omitted == len(steps) - 10
    # Twelve lines: the first three steps, a gap, the seven that end with the error, and the
    # gap after them.
    assert [s.number for s in kept] == [1, 2, 3, *range(55, 62)]
    assert kept[-1].kind == "error"
    sections = step_sections(kept, omitted)
    assert [(s.omitted_before, len(s.steps)) for s in sections] == [(0, 3), (51, 7), (40, 0)]
    assert trim_steps(steps[:10], 30) == (
        [msgspec.structs.replace(s, number=n) for n, s in enumerate(steps[:10], 1)],
        0,
    )


def test_an_early_failure_keeps_the_first_steps_whole() -> None:
    signals = [signal(i * 10, "click", node_id=i, label=f"b{i}") for i in range(40)]
    signals.insert(4, signal(35, "failed_request", method="GET", url="/x", status=502))
    kept, omitted = trim_steps(build_repro_steps(signals, START), 12)
    # The steps end with the failure; the replay has the rest.
    assert [s.number for s in kept] == [1, 2, 3, 4, 5] and omitted == 36
    assert kept[-1].kind == "request"


def test_a_gap_is_never_a_single_step() -> None:
    def steps(count: int, failing_at: int) -> list[Signal]:
        made = [signal(i * 10, "click", node_id=i, label=f"b{i}") for i in range(count)]
        made[failing_at] = signal(failing_at * 10, "console_error", message="boom", stack=[])
        return made

    for count in range(13, 20):
        for failing_at in range(count):
            kept, omitted = trim_steps(build_repro_steps(steps(count, failing_at), START), 12)
            sections = step_sections(kept, omitted)
            lines = len(kept) + sum(1 for s in sections if s.omitted_before)
            assert lines <= 12, (count, failing_at)
            assert all(s.omitted_before != 1 for s in sections), (count, failing_at)
            assert any(step.kind == "error" for step in kept), (count, failing_at)


def test_repeats_fold_across_batches_and_dead_clicks() -> None:
    # Three clicks on a button that does nothing; the service found two of them dead, one in
    # each of two batches.
    coupon = {"node_id": 7, "label": "Apply coupon", "tag": "button"}
    assert texts(
        [
            signal(15_000, "click", **coupon),
            signal(15_400, "click", **coupon),
            signal(15_400, "dead_click", node_id=7),
            signal(17_000, "click", **coupon),
            signal(17_000, "dead_click", node_id=7),
        ]
    ) == ["Clicked 'Apply coupon' ×3 (nothing happened)"]


def test_a_repeated_run_of_steps_folds_into_one_run() -> None:
    place = {"node_id": 3, "label": "Place order", "tag": "button"}
    tries = []
    for n in range(5):
        at = 20_000 + n * 2_000
        tries += [
            signal(at, "click", **place),
            signal(
                at + 300, "failed_request", method="POST", url="https://shop.test/pay", status=500
            ),
            signal(at + 310, "console_error", message="Checkout failed Error: HTTP 500", stack=[]),
        ]
    steps = build_repro_steps(
        [signal(0, "page_view", url="https://shop.test/checkout"), *tries], START
    )
    assert [(s.text, s.offset_ms) for s in steps] == [
        ("Opened /checkout", 0),
        ("Clicked 'Place order' ×5", 20_000),
        ("POST /pay → 500 ×5", 20_300),
        ("Console error: Checkout failed Error: HTTP 500 ×5", 20_310),
    ]


def test_route_changes_reloads_and_other_hosts() -> None:
    assert texts(
        [
            signal(0, "page_view", url="https://shop.test/checkout"),
            signal(100, "page_view", url="https://shop.test/checkout?step=payment", via="push"),
            signal(200, "page_view", url="https://shop.test/app#/orders/7", via="hash"),
            signal(300, "page_view", url="https://shop.test/checkout", via="pop"),
            signal(
                400, "failed_request", method="GET", url="https://cdn.other.test/x.js", status=0
            ),
            signal(
                500, "failed_request", method="GET", url="https://shop.test/api/cart", status=503
            ),
            signal(600, "page_view", url="https://shop.test/checkout", via="reload"),
            signal(601, "page_view", url="https://shop.test/checkout"),
        ]
    ) == [
        "Opened /checkout",
        "Went to /checkout?step=payment",
        "Went to /app#/orders/7",
        "Went to /checkout",
        "GET cdn.other.test/x.js → no response (failed)",
        "GET /api/cart → 503",
        "Reloaded /checkout",
    ]
