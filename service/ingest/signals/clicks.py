"""Clicks and what the recorder saw under them, from one batch's clicks and click labels."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

import msgspec

from service.ingest.scrubbing import scrub_text
from service.ingest.signals.findings import Click, ClickLabel, Findings, finite, rewrite, try_decode
from service.rrweb import ClickLabelPayload
from service.signal_kinds import ClickSignal, Signal

__all__ = [
    "LABEL_WINDOW_MS",
    "Click",
    "ClickLabel",
    "click_label_event",
    "click_signals",
    "mouse_click",
]

# The recorder emits the label in the same task as the click, so both normally carry the same
# millisecond; 100 ms absorbs a busy main thread delaying the label's timestamp.
LABEL_WINDOW_MS = 100

_CLICK_LABEL = msgspec.json.Decoder(ClickLabelPayload)


def mouse_click(
    ts: int, node_id: int, x: int | float | None, y: int | float | None, out: Findings
) -> None:
    """Note a MouseInteraction Click for the batch-wide derivation."""
    out.clicks.append(Click(ts, node_id, finite(x), finite(y), _next_order(out)))


def click_label_event(
    ts: int, raw: msgspec.Raw, payload: msgspec.Raw, out: Findings
) -> bytes | None:
    """Note a `replaydesk/click` label, scrubbed; the event re-encoded if scrubbing changed it."""
    label = try_decode(_CLICK_LABEL, payload)
    if label is None:
        return None
    original = {"label": label.label, "selector": label.selector, "tag": label.tag}
    clean = {key: None if v is None else scrub_text(v) for key, v in original.items()}
    label_order = _next_order(out)
    out.labels.append(ClickLabel(ts, clean["label"], clean["selector"], clean["tag"], label_order))
    updates = {key: v for key, v in clean.items() if v != original[key]}
    return rewrite(raw, ("data", "payload"), updates) if updates else None


def _next_order(out: Findings) -> int:
    return len(out.clicks) + len(out.labels)


def _match_labels(clicks: Sequence[Click], labels: Sequence[ClickLabel]) -> list[ClickLabel | None]:
    """Pair each label with the click it follows.

    The recorder sends a label in the same task as its click, right after it: the label belongs
    to the last click handled before it, when that click has no label yet and is within the
    window of it. Times alone cannot tell clicks of one millisecond apart (a test script, a
    double click), and the batch a label arrives in must not decide whose it is.
    """
    matched: list[ClickLabel | None] = [None] * len(clicks)
    orders = [click.order for click in clicks]
    for label in labels:
        before = bisect_left(orders, label.order) - 1
        if (
            before >= 0
            and matched[before] is None
            and abs(clicks[before].ts - label.ts) <= LABEL_WINDOW_MS
        ):
            matched[before] = label
    return matched


def click_signals(clicks: Sequence[Click], labels: Sequence[ClickLabel]) -> list[Signal]:
    """One click signal per click, with the label the recorder sent for it; both in time
    order. Rage, dead and error clicks are derived over the whole session
    (`service.struggles`), from these and the batch's activity."""
    return [
        ClickSignal(
            ts=click.ts,
            node_id=click.node_id,
            x=click.x,
            y=click.y,
            label=label and label.label,
            selector=label and label.selector,
            tag=label and label.tag,
        )
        for click, label in zip(clicks, _match_labels(clicks, labels), strict=True)
    ]
