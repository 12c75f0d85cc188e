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
# A cut step list keeps this many steps of the start, and this many after the first failure.
HEAD_STEPS = 3
AFTER_FAILURE = 2
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

    __slots__ = ("base", "count", "key", "kind", "note", "ts")

    def __init__(self, ts: int, kind: StepKind, base: str, key: object) -> None:
        self.ts = ts
        self.kind = kind
        self.base = base
        self.key = key
        self.count = 1
        self.note = ""

    def same_as(self, other: _Line) -> bool:
        return (self.kind, self.key, self.base) == (other.kind, other.key, other.base)


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


def build_repro_steps(signals: Sequence[Signal], started_at: int) -> list[ReproStep]:
    """Every step of a session, in time order; `started_at` is the session start (ms).

    The same action repeated on the same target is one step with a count, and so is a run of a
    few steps repeated in a row. Typed text is never shown (the recorder does not send it):
    inputs read "(masked)".
    """
    lines: list[_Line] = []
    page: str | None = None
    field_names: dict[int, str] = {}

    def add(ts: int, kind: StepKind, base: str, key: object) -> None:
        line = _Line(ts, kind, base, key)
        if lines and lines[-1].same_as(line):
            lines[-1].count += 1
        else:
            lines.append(line)

    for signal in signals:
        match signal:
            case PageViewSignal(url=url, via=via):
                if via == "reload":
                    add(signal.ts, "page", f"Reloaded {_where(url)}", ("reload", url))
                # rrweb repeats the page's Meta event at every full-snapshot checkout.
                elif url != page:
                    if via == "load":
                        add(signal.ts, "page", f"Opened {_where(url)}", url)
                    else:
                        add(signal.ts, "page", f"Went to {_where(url, via == 'hash')}", url)
                page = url
            case ClickSignal():
                name = _field_name(signal)
                if name:
                    field_names[signal.node_id] = name
                target = _target(signal)
                tag = (signal.tag or "").lower()
                what = target or (f"a {tag}" if tag else "the page")
                add(signal.ts, "click", f"Clicked {what}", signal.node_id)
            case DeadClickSignal():
                if lines and (lines[-1].kind, lines[-1].key) == ("click", signal.node_id):
                    lines[-1].note = " (nothing happened)"
            case InputSignal(node_id=node):
                text = f"Typed into {field_names.get(node, 'a field')} (masked)"
                last = lines[-1] if lines else None
                # Clicking into a field and typing is one step, not two.
                if last is not None and (last.kind, last.key) == ("click", node):
                    lines[-1] = _Line(signal.ts, "input", text, node)
                elif last is None or (last.kind, last.key) != ("input", node):
                    add(signal.ts, "input", text, node)
            case FailedRequestSignal():
                outcome = request_status(signal.status, signal.error or "failed")
                method = (signal.method or "GET").upper()
                line = f"{method} {_request_target(signal.url, page)} → {outcome}"
                add(signal.ts, "request", _cut(line, MAX_TEXT_CHARS), signal.url)
            case ConsoleErrorSignal():
                first_line = signal.message.strip().split("\n", 1)[0]
                text = _cut(f"Console error: {first_line}", MAX_TEXT_CHARS)
                add(signal.ts, "error", text, text)
    return [
        ReproStep(
            at=datetime.fromtimestamp(line.ts / 1000, tz=UTC),
            offset_ms=max(0, line.ts - started_at),
            kind=line.kind,
            text=line.base + (f" {TIMES}{line.count}" if line.count > 1 else "") + line.note,
            count=line.count,
        )
        for line in _fold_runs(lines)
    ]


def trim_steps(steps: list[ReproStep], limit: int) -> tuple[list[ReproStep], int]:
    """At most `limit` steps, numbered, and how many were left out.

    When there are too many, the first few stay (how the visit began) and so does the run that
    leads to the first failure, with a couple of steps after it (what the user did next often
    tells what they expected); or the last steps, when nothing failed.
    """
    numbered = [msgspec.structs.replace(step, number=n) for n, step in enumerate(steps, 1)]
    if len(numbered) <= limit:
        return numbered, 0
    failing = next((i for i, s in enumerate(numbered) if s.kind in ("error", "request")), None)
    end = len(numbered) if failing is None else min(len(numbered), failing + 1 + AFTER_FAILURE)
    if end <= limit:
        kept = numbered[:limit]
    else:
        head = min(HEAD_STEPS, limit // 3)
        kept = numbered[:head] + numbered[end - (limit - head) : end]
    return kept, len(numbered) - len(kept)
