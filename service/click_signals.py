"""Click, rage-click and dead-click findings from one batch's clicks and page activity."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any, Literal, NamedTuple

__all__ = [
    "DEAD_CLICK_WINDOW_MS",
    "FORM_FIELD_TAGS",
    "LABEL_WINDOW_MS",
    "MAX_LABEL_CANDIDATES",
    "RAGE_MIN_CLICKS",
    "RAGE_WINDOW_MS",
    "Click",
    "ClickFinding",
    "ClickLabel",
    "click_findings",
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

ClickFindingKind = Literal["click", "rage_click", "dead_click"]


class Click(NamedTuple):
    """A MouseInteraction Click: when, on which rrweb node id, and where in the viewport."""

    ts: int
    node_id: int
    x: int | float | None
    y: int | float | None


class ClickLabel(NamedTuple):
    """A `replaydesk/click` custom event: what the recorder saw under the click (scrubbed)."""

    ts: int
    label: str | None
    selector: str | None
    tag: str | None


class ClickFinding(NamedTuple):
    """One derived signal, before it becomes a `service.signals.Signal`."""

    kind: ClickFindingKind
    ts: int
    data: dict[str, Any]


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


def _click_data(click: Click, label: ClickLabel | None) -> dict[str, Any]:
    data: dict[str, Any] = {"node_id": click.node_id, "x": click.x, "y": click.y}
    if label is not None:
        for key, value in (
            ("label", label.label),
            ("selector", label.selector),
            ("tag", label.tag),
        ):
            if value is not None:
                data[key] = value
    return data


def _rage_findings(
    clicks: Sequence[Click], labels: Sequence[ClickLabel | None]
) -> list[ClickFinding]:
    """One finding per burst: consecutive clicks on one node, each within the window of the last.

    A burst counts as rage when at least RAGE_MIN_CLICKS of its clicks fall inside one window,
    so a slow, steady series of clicks (a carousel "next" button) is not reported.
    """
    findings: list[ClickFinding] = []
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
            data: dict[str, Any] = {"node_id": clicks[start].node_id, "count": end - start}
            label = next((lb.label for lb in labels[start:end] if lb and lb.label), None)
            if label is not None:
                data["label"] = label
            findings.append(ClickFinding("rage_click", clicks[start].ts, data))
        start = end
    return findings


def click_findings(
    clicks: Sequence[Click],
    labels: Sequence[ClickLabel],
    *,
    activity: Sequence[int],
    requests: Sequence[tuple[int, int]],
    batch_end: int,
) -> list[ClickFinding]:
    """Derive click, rage_click and dead_click findings; inputs must be in time order.

    `activity` holds the times of mutations, inputs and page views; `requests` the (start,
    end) span of every network request. A click is only judged dead when the batch reaches
    `DEAD_CLICK_WINDOW_MS` past it (`batch_end` is the batch's last timestamp), because the
    reaction may otherwise simply be in the next batch.
    """
    matched = _match_labels(clicks, labels)
    reactions = _Activity(activity, requests)
    findings: list[ClickFinding] = []
    for click, label in zip(clicks, matched, strict=True):
        data = _click_data(click, label)
        findings.append(ClickFinding("click", click.ts, data))
        window_end = click.ts + DEAD_CLICK_WINDOW_MS
        on_form_field = label is not None and (label.tag or "").lower() in FORM_FIELD_TAGS
        if (
            batch_end >= window_end
            and not on_form_field
            and not reactions.between(click.ts, window_end)
        ):
            findings.append(ClickFinding("dead_click", click.ts, dict(data)))
    findings.extend(_rage_findings(clicks, matched))
    return findings
