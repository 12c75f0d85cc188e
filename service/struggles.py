"""Rage, dead and error clicks: the one definition, over a whole session.

Each struggle hangs off a click and depends only on evidence near it:

- a **rage click** is a burst of clicks on one target (the same rrweb node, or within
  `RAGE_RADIUS_PX` of the burst's previous click), each within `RAGE_WINDOW_MS` of the one before,
  at least `RAGE_MIN_CLICKS` of them inside one window. One signal per burst, at its first click,
  counting all of its clicks. A click on another target ends the burst.
- a **dead click** is a click after which the page did not visibly react for `DEAD_CLICK_WINDOW_MS`,
  or until the next click on another element if that came sooner (what happens after it answers
  that click): no mutation, input, page view, and no network request in flight during that
  time. A click on a form field is never dead (focus and caret are not recorded), and a click is
  only judged once the session's events reach the end of its window.
- an **error click** is a click followed within `ERROR_CLICK_WINDOW_MS` by a console error or by
  the start of a request that failed, when no other click came in between: each failure is
  blamed on the latest click before it.

Where it is computed: at ingest, over the session rather than over a batch. When batches land,
the store finds the earliest moment they can change (`changed_from`: their first event, the
start of their activity, the session's previous end, less `REACH_MS`), walks back to the start
of the burst that moment is in (`recount_start`), and derives the struggles again from there on
with the stored evidence (clicks, errors, failed requests and each batch's activity spans).
Struggles before that point cannot change; those after it are replaced. So the stored struggle
signals are exactly what this module gives for the whole session, whatever the batch
boundaries, and the session's counters (what search filters on) and the report read the same
rows. Reading them costs nothing extra at report time; recomputing everything at read time
instead would have left search with counters from another definition, or with a full recount of
every session on every batch. The work per batch is the tail from the last burst on.

Activity is kept compactly: moments and request spans merged whenever the gap between them is
at most `MIN_REACTION_WINDOW_MS` (`merge_activity`), which answers "did anything happen between
t and t + w" exactly as the raw moments would for every w the definition asks about.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import TypeAlias

from service.signal_kinds import (
    ClickSignal,
    ConsoleErrorSignal,
    DeadClickSignal,
    ErrorClickSignal,
    FailedRequestSignal,
    RageClickSignal,
    Signal,
)

__all__ = [
    "DEAD_CLICK_WINDOW_MS",
    "ERROR_CLICK_WINDOW_MS",
    "FORM_FIELD_TAGS",
    "MIN_REACTION_WINDOW_MS",
    "RAGE_MIN_CLICKS",
    "RAGE_RADIUS_PX",
    "RAGE_WINDOW_MS",
    "REACH_MS",
    "STRUGGLE_KINDS",
    "Span",
    "StruggleSignal",
    "changed_from",
    "failure_starts",
    "find_struggles",
    "merge_activity",
    "recount_start",
    "request_start",
]

# Three clicks on one element within a second is faster than anyone clicks on purpose.
RAGE_WINDOW_MS = 1000
RAGE_MIN_CLICKS = 3
# The same spot, not quite the same node: an icon inside a button, the button's padding.
RAGE_RADIUS_PX = 30
# A page that answers a click answers within a second; later changes are usually unrelated.
DEAD_CLICK_WINDOW_MS = 1000
# A handler that fails does so at once (a throw) or by starting a request that fails; a second
# is ample for both to begin, and short enough not to blame a click for a timer's error.
ERROR_CLICK_WINDOW_MS = 1000
# A click followed sooner than this by a click elsewhere is not judged dead: too little time to
# tell. Activity is kept merged at this resolution (`merge_activity`), exact for every window
# at least this long.
MIN_REACTION_WINDOW_MS = 250
# How far before a change in the evidence a struggle's anchor (its click) may lie.
REACH_MS = max(RAGE_WINDOW_MS, DEAD_CLICK_WINDOW_MS, ERROR_CLICK_WINDOW_MS)
# Clicking a form field answers with focus and a caret, neither of which rrweb records, so a
# click on one would always look dead.
FORM_FIELD_TAGS = frozenset({"input", "textarea", "select", "option", "label"})

StruggleSignal: TypeAlias = RageClickSignal | DeadClickSignal | ErrorClickSignal
STRUGGLE_KINDS = ("rage_click", "dead_click", "error_click")
Span: TypeAlias = tuple[int, int]
"""(start, end) in milliseconds, both inclusive: when the page was visibly busy."""


def merge_activity(moments: Iterable[int], spans: Iterable[Span]) -> list[Span]:
    """Activity moments and (start, end) spans as few spans, in time order.

    Two are merged when at most `MIN_REACTION_WINDOW_MS` lies between them: a window at least
    that long touching the merged span then always holds one of the originals, so a click is
    judged the same on the merged spans as on the raw activity.
    """
    ordered = sorted([*((t, t) for t in moments), *spans])
    merged: list[Span] = []
    for start, end in ordered:
        if merged and start - merged[-1][1] <= MIN_REACTION_WINDOW_MS:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def request_start(settled_at: int, duration: float | None) -> int:
    """When a request began: the recorder reports it when it settles, with its duration."""
    took = int(duration) if duration is not None and math.isfinite(duration) and duration > 0 else 0
    return settled_at - took


def failure_starts(signals: Iterable[Signal]) -> list[int]:
    """When each failure began, in time order: console errors, and failed requests' starts."""
    starts: list[int] = []
    for signal in signals:
        if isinstance(signal, ConsoleErrorSignal):
            starts.append(signal.ts)
        elif isinstance(signal, FailedRequestSignal):
            starts.append(request_start(signal.ts, signal.duration))
    return sorted(starts)


def changed_from(earliest_new: int, previous_end: int | None) -> int:
    """The earliest click whose struggles new evidence can change.

    `earliest_new` is the earliest time the new batches say anything about (their first event,
    their first activity span's or failed request's start); `previous_end` the session's last
    event before them (None for a new session), whose clicks near it were not judged yet.
    """
    earliest = earliest_new if previous_end is None else min(earliest_new, previous_end)
    return earliest - REACH_MS


def recount_start(changed: int, clicks_before: Iterable[ClickSignal]) -> int:
    """Where to derive struggles again from: `changed`, moved back to the first click of the
    burst it may fall in. `clicks_before` are the stored clicks before `changed`, newest
    first; a burst never spans a gap longer than `RAGE_WINDOW_MS` nor a change of target."""
    start = changed
    later: ClickSignal | None = None
    for click in clicks_before:
        if start - click.ts > RAGE_WINDOW_MS or (
            later is not None and not _same_target(click, later)
        ):
            break
        start, later = click.ts, click
    return start


class _Activity:
    """Answers "did the page react between t and t + window?" in logarithmic time."""

    def __init__(self, spans: Sequence[Span]) -> None:
        ordered = sorted(spans)
        self._starts = [start for start, _ in ordered]
        # Running maximum of span ends: any span starting before the window's end that also
        # ends inside or after the window's start overlaps it.
        self._max_end_so_far = list(accumulate((end for _, end in ordered), max))

    def between(self, start: int, end: int) -> bool:
        count = bisect_right(self._starts, end)
        return count > 0 and self._max_end_so_far[count - 1] >= start


def _same_target(a: ClickSignal, b: ClickSignal) -> bool:
    if a.node_id == b.node_id:
        return True
    if a.x is None or a.y is None or b.x is None or b.y is None:
        return False
    return math.hypot(a.x - b.x, a.y - b.y) <= RAGE_RADIUS_PX


def _rage_clicks(clicks: Sequence[ClickSignal]) -> list[RageClickSignal]:
    found: list[RageClickSignal] = []
    start = 0
    while start < len(clicks):
        end = start + 1
        while (
            end < len(clicks)
            and _same_target(clicks[end - 1], clicks[end])
            and clicks[end].ts - clicks[end - 1].ts <= RAGE_WINDOW_MS
        ):
            end += 1
        times = [click.ts for click in clicks[start:end]]
        span = RAGE_MIN_CLICKS - 1
        if any(times[i + span] - times[i] <= RAGE_WINDOW_MS for i in range(len(times) - span)):
            burst = clicks[start:end]
            first = burst[0]
            labelled = next((c for c in burst if c.label), None)
            found.append(
                RageClickSignal(
                    ts=first.ts,
                    node_id=first.node_id,
                    count=end - start,
                    label=labelled.label if labelled else None,
                    selector=next((c.selector for c in burst if c.selector), None),
                )
            )
        start = end
    return found


def _on(kind: type[DeadClickSignal | ErrorClickSignal], click: ClickSignal) -> StruggleSignal:
    return kind(
        ts=click.ts,
        node_id=click.node_id,
        x=click.x,
        y=click.y,
        label=click.label,
        selector=click.selector,
        tag=click.tag,
    )


def _reaction_window_end(clicks: Sequence[ClickSignal], index: int) -> int | None:
    """Until when the page's reaction to `clicks[index]` is looked for: the window, or up to a
    click on another element within it, since what follows that click answers that click.
    None when that click came too soon to tell."""
    click = clicks[index]
    window_end = click.ts + DEAD_CLICK_WINDOW_MS
    for later in clicks[index + 1 :]:
        if later.ts > window_end:
            break
        if not _same_target(click, later):
            end = later.ts - 1
            return end if end - click.ts >= MIN_REACTION_WINDOW_MS else None
    return window_end


def find_struggles(
    clicks: Sequence[ClickSignal],
    activity: Sequence[Span],
    failures: Sequence[int],
    evidence_until: int,
) -> list[StruggleSignal]:
    """The rage, dead and error clicks of these clicks, in time order (a click's own struggles
    in the order rage, dead, error).

    `clicks` in time order; `activity` the page's busy spans; `failures` when each console
    error and failed request began (`failure_starts`); `evidence_until` the session's last event.
    Give the evidence from the first click of a burst on (see `recount_start`): what lies
    before the first click given is not looked at.
    """
    reactions = _Activity(activity)
    click_times = [click.ts for click in clicks]
    blamed: set[int] = set()
    for failure in failures:
        # The latest click at or before the failure, if it came within the window.
        index = bisect_right(click_times, failure) - 1
        if index >= 0 and failure - click_times[index] <= ERROR_CLICK_WINDOW_MS:
            blamed.add(index)
    # Bursts first, so a click's own struggles read rage, dead, error once sorted (stably).
    found: list[StruggleSignal] = [*_rage_clicks(clicks)]
    for index, click in enumerate(clicks):
        window_end = _reaction_window_end(clicks, index)
        on_form_field = (click.tag or "").lower() in FORM_FIELD_TAGS
        if (
            window_end is not None
            and evidence_until >= window_end
            and not on_form_field
            and not reactions.between(click.ts, window_end)
        ):
            found.append(_on(DeadClickSignal, click))
        if index in blamed:
            found.append(_on(ErrorClickSignal, click))
    found.sort(key=lambda signal: signal.ts)
    return found
