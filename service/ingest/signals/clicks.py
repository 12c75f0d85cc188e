"""Clicks, rage clicks and dead clicks, from one batch's clicks, their labels and page activity."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate

import msgspec

from service.ingest.scrubbing import scrub_text
from service.ingest.signals.findings import Click, ClickLabel, Findings, finite, rewrite, try_decode
from service.rrweb import ClickLabelPayload
from service.signal_kinds import ClickSignal, DeadClickSignal, RageClickSignal, Signal

__all__ = [
    "DEAD_CLICK_WINDOW_MS",
    "FORM_FIELD_TAGS",
    "LABEL_WINDOW_MS",
    "MAX_LABEL_CANDIDATES",
    "RAGE_MIN_CLICKS",
    "RAGE_WINDOW_MS",
    "Click",
    "ClickLabel",
    "click_label_event",
    "click_signals",
    "mouse_click",
]

# The recorder emits the label in the same task as the click, so both normally carry the same
# millisecond; 100 ms absorbs a busy main thread delaying the label's timestamp.
LABEL_WINDOW_MS = 100
# One label per click means a real window holds a handful of labels; a flood of thousands with
# one timestamp (a recorder bug, a script) must not make matching quadratic.
MAX_LABEL_CANDIDATES = 32
# Three clicks on one element within a second is faster than anyone clicks on purpose.
RAGE_WINDOW_MS = 1000
RAGE_MIN_CLICKS = 3
# A page that answers a click answers within a second; later changes are usually unrelated.
DEAD_CLICK_WINDOW_MS = 1000
# Clicking a form field answers with focus and a caret, neither of which rrweb records, so a
# click on one would always look dead.
FORM_FIELD_TAGS = frozenset({"input", "textarea", "select", "option", "label"})

_CLICK_LABEL = msgspec.json.Decoder(ClickLabelPayload)


def mouse_click(
    ts: int, node_id: int, x: int | float | None, y: int | float | None, out: Findings
) -> None:
    """Note a MouseInteraction Click for the batch-wide derivation."""
    out.clicks.append(Click(ts, node_id, finite(x), finite(y)))


def click_label_event(
    ts: int, raw: msgspec.Raw, payload: msgspec.Raw, out: Findings
) -> bytes | None:
    """Note a `replaydesk/click` label, scrubbed; the event re-encoded if scrubbing changed it."""
    label = try_decode(_CLICK_LABEL, payload)
    if label is None:
        return None
    original = {"label": label.label, "selector": label.selector, "tag": label.tag}
    clean = {key: None if v is None else scrub_text(v) for key, v in original.items()}
    out.labels.append(ClickLabel(ts, clean["label"], clean["selector"], clean["tag"]))
    updates = {key: v for key, v in clean.items() if v != original[key]}
    return rewrite(raw, ("data", "payload"), updates) if updates else None


class _Activity:
    """Answers "did the page react between t and t + window?" in logarithmic time."""

    def __init__(self, moments: Sequence[int], spans: Sequence[tuple[int, int]]) -> None:
        self._moments = sorted(moments)
        ordered = sorted(spans)
        self._span_starts = [start for start, _ in ordered]
        # Running maximum of span ends: any span starting before the window's end that also
        # ends inside or after the window's start overlaps it.
        self._max_end_so_far = list(accumulate((end for _, end in ordered), max))

    def between(self, start: int, end: int) -> bool:
        index = bisect_left(self._moments, start)
        if index < len(self._moments) and self._moments[index] <= end:
            return True
        count = bisect_right(self._span_starts, end)
        return count > 0 and self._max_end_so_far[count - 1] >= start


def _match_labels(clicks: Sequence[Click], labels: Sequence[ClickLabel]) -> list[ClickLabel | None]:
    """Pair each click with the nearest unused label within the window, both in time order."""
    label_times = [label.ts for label in labels]
    used = [False] * len(labels)
    matched: list[ClickLabel | None] = []
    for click in clicks:
        best: int | None = None
        index = bisect_left(label_times, click.ts - LABEL_WINDOW_MS)
        stop = min(len(labels), index + MAX_LABEL_CANDIDATES)
        while index < stop and label_times[index] <= click.ts + LABEL_WINDOW_MS:
            distance = abs(label_times[index] - click.ts)
            if not used[index] and (best is None or distance < abs(label_times[best] - click.ts)):
                best = index
            index += 1
        if best is not None:
            used[best] = True
        matched.append(None if best is None else labels[best])
    return matched


def _click_signal(
    kind: type[ClickSignal | DeadClickSignal], click: Click, label: ClickLabel | None
) -> ClickSignal | DeadClickSignal:
    return kind(
        ts=click.ts,
        node_id=click.node_id,
        x=click.x,
        y=click.y,
        label=label and label.label,
        selector=label and label.selector,
        tag=label and label.tag,
    )


def _rage_clicks(
    clicks: Sequence[Click], labels: Sequence[ClickLabel | None]
) -> list[RageClickSignal]:
    """One finding per burst: consecutive clicks on one node, each within the window of the last.

    A burst counts as rage when at least RAGE_MIN_CLICKS of its clicks fall inside one window,
    so a slow, steady series of clicks (a carousel "next" button) is not reported.
    """
    found: list[RageClickSignal] = []
    start = 0
    while start < len(clicks):
        end = start + 1
        while (
            end < len(clicks)
            and clicks[end].node_id == clicks[start].node_id
            and clicks[end].ts - clicks[end - 1].ts <= RAGE_WINDOW_MS
        ):
            end += 1
        times = [click.ts for click in clicks[start:end]]
        span = RAGE_MIN_CLICKS - 1
        if any(times[i + span] - times[i] <= RAGE_WINDOW_MS for i in range(len(times) - span)):
            label = next((lb.label for lb in labels[start:end] if lb and lb.label), None)
            found.append(
                RageClickSignal(
                    ts=clicks[start].ts,
                    node_id=clicks[start].node_id,
                    count=end - start,
                    label=label,
                )
            )
        start = end
    return found


def click_signals(
    clicks: Sequence[Click],
    labels: Sequence[ClickLabel],
    *,
    activity: Sequence[int],
    requests: Sequence[tuple[int, int]],
    batch_end: int,
) -> list[Signal]:
    """Derive click, rage_click and dead_click signals; inputs must be in time order.

    `activity` holds the times of mutations, inputs and page views; `requests` the (start,
    end) span of every network request. A click is only judged dead when the batch reaches
    `DEAD_CLICK_WINDOW_MS` past it (`batch_end` is the batch's last timestamp), because the
    reaction may otherwise simply be in the next batch.
    """
    matched = _match_labels(clicks, labels)
    reactions = _Activity(activity, requests)
    found: list[Signal] = []
    for click, label in zip(clicks, matched, strict=True):
        found.append(_click_signal(ClickSignal, click, label))
        window_end = click.ts + DEAD_CLICK_WINDOW_MS
        on_form_field = label is not None and (label.tag or "").lower() in FORM_FIELD_TAGS
        if (
            batch_end >= window_end
            and not on_form_field
            and not reactions.between(click.ts, window_end)
        ):
            found.append(_click_signal(DeadClickSignal, click, label))
    found.extend(_rage_clicks(clicks, matched))
    return found
