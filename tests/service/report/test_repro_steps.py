"""Repro steps read like a person wrote them: pages, clicks with counts, masked typing, failures."""

from __future__ import annotations

from typing import Any

from service.report.repro_steps import build_repro_steps, trim_steps
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
            signal(0, "page_view", url="https://shop.test/cart?coupon=x"),
            signal(500, "page_view", url="https://shop.test/cart?coupon=x"),  # checkout Meta
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
        "Opened /cart",
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


def test_too_many_steps_keep_those_leading_to_the_first_error() -> None:
    signals = [signal(i * 10, "click", node_id=i, label=f"b{i}") for i in range(100)]
    signals.insert(60, signal(595, "console_error", message="boom", stack=[]))
    steps = build_repro_steps(signals, START)
    kept, omitted = trim_steps(steps, 30)
    assert len(kept) == 30 and omitted == len(steps) - 30
    error_at = [s.kind for s in kept].index("error")
    assert 20 < error_at < 30  # the error, what led to it, and a few steps after
    assert trim_steps(steps[:10], 30) == (steps[:10], 0)
