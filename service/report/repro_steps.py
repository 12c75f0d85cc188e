"""Steps to reproduce, in plain language, from a session's derived signals."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from service.signal_kinds import (
    ClickSignal,
    ConsoleErrorSignal,
    DeadClickSignal,
    FailedRequestSignal,
    InputSignal,
    PageViewSignal,
    Signal,
)

__all__ = [
    "MAX_TEXT_CHARS",
    "ReproStep",
    "StepKind",
    "StepSection",
    "build_repro_steps",
    "request_status",
    "step_sections",
    "trim_steps",
]

StepKind = Literal["page", "click", "input", "request", "error", "ticket"]

# A step is one line of a ticket; a label or message longer than this is cut with an ellipsis.
MAX_TEXT_CHARS = 120
MAX_LABEL_CHARS = 60
# Repeats read "Clicked 'Pay' <times>3" with the multiplication sign, not the letter x.
TIMES = "\N{MULTIPLICATION SIGN}"
# Campaign and click-tracking parameters say nothing about what the user saw.
_TRACKING = re.compile(r"utm_\w+|gclid|fbclid|msclkid|dclid|yclid|mc_cid|mc_eid|_ga|_gl", re.I)
# A cut step list keeps this many steps of the start.
HEAD_STEPS = 3
# A page that opens this soon after a click was opened by it.
CLICK_NAVIGATION_MS = 1500
# The longest run of steps folded when repeated: a click, its request, its error and a retry.
MAX_FOLDED_RUN = 4


class ReproStep(msgspec.Struct, frozen=True, kw_only=True):
    """One thing the user did or saw, as a line a person reads in a ticket."""

    at: datetime
    offset_ms: int
    """Milliseconds since the session started (where the replay shows it)."""
    kind: StepKind
    text: str
    """`Opened /cart`, `Clicked 'Place order'` (with the repeat count), `POST /api/pay → 500`."""
    count: int = 1
    """How many times this step happened in a row (or in a repeated run of a few steps)."""
    number: int = 0
    """Its place among all of the session's steps, from 1; kept when steps are left out, so a
    ticket numbers the steps it shows as the replay's step list does."""


class StepSection(msgspec.Struct, frozen=True, kw_only=True):
    """Steps without a gap between them, and how many were left out before them."""

    omitted_before: int
    steps: list[ReproStep]


def step_sections(steps: Sequence[ReproStep], omitted: int) -> list[StepSection]:
    """Kept steps split where steps were left out (their numbers jump), for renderers: each
    says "(N more steps are in the replay)" where its gap is, so every output puts it in the
    same place. `omitted` is the report's count of left-out steps; those after the last kept
    step make a last section without steps."""
    sections: list[StepSection] = []
    expected = 1
    for step in steps:
        number = step.number or expected
        if not sections or number != expected:
            sections.append(StepSection(omitted_before=number - expected, steps=[]))
        sections[-1].steps.append(step)
        expected = number + 1
    trailing = omitted - sum(section.omitted_before for section in sections)
    if trailing > 0:
        sections.append(StepSection(omitted_before=trailing, steps=[]))
    return sections


def request_status(status: int, error: str | None) -> str:
    """How a request ended, as every rendering says it: `500`, or `no response (offline)`."""
    if status:
        return str(status)
    return f"no response ({error})" if error else "no response"


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _where(url: str, fragment: bool = False) -> str:
    """A page as a step names it: its path and query without campaign tracking (and its
    fragment, for hash routes)."""
    parts = urlsplit(url)
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not _TRACKING.fullmatch(pair.split("=")[0])
    )
    where = (parts.path or "/") + (f"?{query}" if query else "")
    return where + (f"#{parts.fragment}" if fragment and parts.fragment else "")


def _request_target(url: str, page: str | None) -> str:
    """A request as a step names it: its path, with its host when that is not the page's."""
    parts = urlsplit(url)
    own = page is not None and urlsplit(page).netloc == parts.netloc
    return (parts.path or "/") if own or not parts.netloc else f"{parts.netloc}{parts.path}"


def _field_name(click: ClickSignal) -> str | None:
    """How to name a clicked element: its label, else its selector, else None."""
    if click.label and click.label.strip():
        return _cut(click.label, MAX_LABEL_CHARS)
    if click.selector and click.selector.strip():
        return _cut(click.selector, MAX_LABEL_CHARS)
    return None


def _target(click: ClickSignal) -> str | None:
    """A clicked element as a step names it: its label in quotes, else its selector."""
    name = _field_name(click)
    return f"'{name}'" if name and click.label and click.label.strip() else name


class _Line:
    """A step being built: what it is about, its text without count, and a note after it."""

    __slots__ = ("base", "count", "fields", "key", "kind", "nodes", "note", "ts")

    def __init__(self, ts: int, kind: StepKind, base: str, key: object) -> None:
        self.ts = ts
        self.kind = kind
        self.base = base
        self.key = key
        self.count = 1
        self.note = ""
        self.nodes: set[int] = set()
        """The elements a click or input step is about."""
        self.fields: list[str | None] = []
        """For a typing step: the fields typed into, in order (None: a field without a name)."""

    def same_as(self, other: _Line) -> bool:
        return (self.kind, self.key, self.base) == (other.kind, other.key, other.base)


def _typed_into(fields: list[str | None]) -> str:
    """`Typed into Email (masked)`, `Typed into Email, Card and 2 other fields (masked)`."""
    named = list(dict.fromkeys(field for field in fields if field))
    if len(fields) == 1:
        return f"Typed into {named[0] if named else 'a field'} (masked)"
    if not named:
        return f"Typed into {len(fields)} fields (masked)"
    shown = named[:2]
    others = len(fields) - len(shown)
    if not others:
        return f"Typed into {' and '.join(shown)} (masked)"
    return f"Typed into {', '.join(shown)} and {others} other field{'s' * (others > 1)} (masked)"


def _repeated(lines: list[_Line], start: int, period: int, again: int) -> bool:
    """Whether the `again`-th run of `period` lines after `start` repeats the first."""
    first = lines[start : start + period]
    later = lines[start + again * period : start + (again + 1) * period]
    return len(later) == period and all(a.same_as(b) for a, b in zip(first, later, strict=True))


def _fold_runs(lines: list[_Line]) -> list[_Line]:
    """Fold a run of a few steps repeated in a row into one, counts added up: five tries at
    "Place order", each a click, a failed request and an error, read as three lines ×5."""
    for period in range(2, MAX_FOLDED_RUN + 1):
        folded: list[_Line] = []
        i = 0
        while i < len(lines):
            repeats = 1
            while _repeated(lines, i, period, repeats):
                repeats += 1
            if repeats == 1:
                folded.append(lines[i])
                i += 1
                continue
            run = lines[i : i + period]
            for again in range(1, repeats):
                for line, later in zip(run, lines[i + again * period :], strict=False):
                    line.count += later.count
                    line.note = line.note or later.note
            folded.extend(run)
            i += repeats * period
        lines = folded
    return lines


class _StepBuilder:
    """Turns signals into lines, folding what reads as one step."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self.page: str | None = None
        self.field_names: dict[int, str] = {}

    def add(self, line: _Line) -> None:
        if self.lines and self.lines[-1].same_as(line):
            self.lines[-1].count += 1
            self.lines[-1].nodes |= line.nodes
        else:
            self.lines.append(line)

    def page_view(self, signal: PageViewSignal) -> None:
        url, via = signal.url, signal.via
        if via == "reload" and self.page is not None:
            self.add(_Line(signal.ts, "page", f"Reloaded {_where(url)}", ("reload", url)))
        # rrweb repeats the page's Meta event at every full-snapshot checkout.
        elif url != self.page:
            verb = "Opened" if via in ("load", "reload") else "Went to"
            where = _where(url, via == "hash")
            last = self.lines[-1] if self.lines else None
            if (
                last is not None
                and last.kind == "click"
                and last.count == 1
                and not last.note
                and signal.ts - last.ts <= CLICK_NAVIGATION_MS
            ):
                # The click that made it: "Clicked 'Orders' and went to /orders".
                last.base += f" and {verb.lower()} {where}"
                last.key = (last.key, url)
            else:
                self.add(_Line(signal.ts, "page", f"{verb} {where}", url))
        self.page = url

    def click(self, signal: ClickSignal) -> None:
        name = _field_name(signal)
        if name:
            self.field_names[signal.node_id] = name
        target = _target(signal)
        tag = (signal.tag or "").lower()
        what = target or (f"a {tag}" if tag else "the page")
        # Elements with the same words are one target: two "Add to cart" buttons read ×2.
        key = what if signal.label and signal.label.strip() else signal.node_id
        line = _Line(signal.ts, "click", f"Clicked {what}", key)
        line.nodes.add(signal.node_id)
        self.add(line)

    def dead_click(self, signal: DeadClickSignal) -> None:
        last = self.lines[-1] if self.lines else None
        if last is not None and last.kind == "click" and signal.node_id in last.nodes:
            last.note = " (nothing happened)"

    def typed(self, signal: InputSignal) -> None:
        node = signal.node_id
        name = self.field_names.get(node)
        last = self.lines[-1] if self.lines else None
        if last is not None and last.kind == "input":
            # Filling in a form is one step: each field once, in the order typed into.
            if node not in last.nodes:
                last.nodes.add(node)
                last.fields.append(name)
                last.base = _typed_into(last.fields)
            return
        line = _Line(signal.ts, "input", _typed_into([name]), "input")
        line.nodes.add(node)
        line.fields.append(name)
        # Clicking into a field and typing is one step, not two.
        if last is not None and last.kind == "click" and last.nodes == {node}:
            self.lines[-1] = line
        else:
            self.add(line)

    def failed_request(self, signal: FailedRequestSignal) -> None:
        outcome = request_status(signal.status, signal.error or "failed")
        method = (signal.method or "GET").upper()
        text = _cut(
            f"{method} {_request_target(signal.url, self.page)} → {outcome}", MAX_TEXT_CHARS
        )
        self.add(_Line(signal.ts, "request", text, signal.url))

    def console_error(self, signal: ConsoleErrorSignal) -> None:
        first_line = signal.message.strip().split("\n", 1)[0]
        text = _cut(f"Console error: {first_line}", MAX_TEXT_CHARS)
        self.add(_Line(signal.ts, "error", text, text))


def build_repro_steps(signals: Sequence[Signal], started_at: int) -> list[ReproStep]:
    """Every step of a session, in time order; `started_at` is the session start (ms).

    The same action repeated on the same target is one step with a count, and so is a run of a
    few steps repeated in a row; a click and the page it opened are one step, and so is typing
    into the fields of a form. Typed text is never shown (the recorder does not send it):
    inputs read "(masked)".
    """
    builder = _StepBuilder()
    for signal in signals:
        match signal:
            case PageViewSignal():
                builder.page_view(signal)
            case ClickSignal():
                builder.click(signal)
            case DeadClickSignal():
                builder.dead_click(signal)
            case InputSignal():
                builder.typed(signal)
            case FailedRequestSignal():
                builder.failed_request(signal)
            case ConsoleErrorSignal():
                builder.console_error(signal)
    return [
        ReproStep(
            at=datetime.fromtimestamp(line.ts / 1000, tz=UTC),
            offset_ms=max(0, line.ts - started_at),
            kind=line.kind,
            text=line.base + (f" {TIMES}{line.count}" if line.count > 1 else "") + line.note,
            count=line.count,
        )
        for line in _fold_runs(builder.lines)
    ]


def _end_of_first_failure(steps: list[ReproStep]) -> int:
    """Where the first failure and the failures right after it end; the end when none."""
    failing = [step.kind in ("error", "request") for step in steps]
    if True not in failing:
        return len(steps)
    end = failing.index(True) + 1
    while end < len(steps) and failing[end]:
        end += 1
    return end


def trim_steps(steps: list[ReproStep], limit: int) -> tuple[list[ReproStep], int]:
    """At most `limit` lines of steps, numbered, and how many steps were left out.

    When there are too many, the first few stay (how the visit began) and so does the run that
    leads to the first failure and ends with it (the failed request and the error it caused);
    or the last steps, when nothing failed. Each gap costs a line
    (the renderings say there how many steps are in the replay), so a single step is never
    left out: naming it takes no more room than showing it.
    """
    numbered = [msgspec.structs.replace(step, number=n) for n, step in enumerate(steps, 1)]
    if len(numbered) <= limit:
        return numbered, 0
    end = _end_of_first_failure(numbered)
    if len(numbered) - end == 1:
        end = len(numbered)
    trailing_gap = int(end < len(numbered))
    if end <= limit - 1:
        kept = numbered[:end]  # and a line for the steps after them
    else:
        head = min(HEAD_STEPS, limit // 3)
        start = end - (limit - head - 1 - trailing_gap)
        kept = numbered[:end] if start - head <= 1 else numbered[:head] + numbered[start:end]
    return kept, len(numbered) - len(kept)
