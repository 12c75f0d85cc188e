"""Steps to reproduce, in plain language, from a session's derived signals."""

from __future__ import annotations

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
    "build_repro_steps",
    "request_status",
    "trim_steps",
]

StepKind = Literal["page", "click", "input", "request", "error", "ticket"]

# A step is one line of a ticket; a label or message longer than this is cut with an ellipsis.
MAX_TEXT_CHARS = 120
MAX_LABEL_CHARS = 60
# Repeats read "Clicked 'Pay' <times>3" with the multiplication sign, not the letter x.
TIMES = "\N{MULTIPLICATION SIGN}"


class ReproStep(msgspec.Struct, frozen=True, kw_only=True):
    """One thing the user did or saw, as a line a person reads in a ticket."""

    at: datetime
    offset_ms: int
    """Milliseconds since the session started (where the replay shows it)."""
    kind: StepKind
    text: str
    """`Opened /cart`, `Clicked 'Place order'` (with the repeat count), `POST /api/pay → 500`."""
    count: int = 1
    """How many identical steps in a row this line stands for."""


def request_status(status: int, error: str | None) -> str:
    """How a request ended, as every rendering says it: `500`, or `no response (offline)`."""
    if status:
        return str(status)
    return f"no response ({error})" if error else "no response"


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


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


class _Steps:
    """Accumulates steps, folding repeats of the same step into one line with a count."""

    def __init__(self, started_at: int) -> None:
        self.started_at = started_at
        self.steps: list[ReproStep] = []
        # What each step is about (a node id, a URL, ...), to fold repeats of the same thing.
        self.keys: list[object] = []
        self.bases: list[str] = []

    def add(self, ts: int, kind: StepKind, base: str, key: object) -> None:
        if self.steps and self.keys[-1] == (kind, key) and self.bases[-1] == base:
            last = self.steps[-1]
            count = last.count + 1
            text = f"{base} {TIMES}{count}"
            self.steps[-1] = msgspec.structs.replace(last, count=count, text=text)
            return
        self.steps.append(
            ReproStep(
                at=datetime.fromtimestamp(ts / 1000, tz=UTC),
                offset_ms=max(0, ts - self.started_at),
                kind=kind,
                text=base,
            )
        )
        self.keys.append((kind, key))
        self.bases.append(base)

    def replace_last(self, ts: int, kind: StepKind, base: str, key: object) -> None:
        self.steps.pop()
        self.keys.pop()
        self.bases.pop()
        self.add(ts, kind, base, key)

    def annotate_last(self, kind: StepKind, key: object, suffix: str) -> None:
        if not self.steps or self.keys[-1] != (kind, key) or self.bases[-1].endswith(suffix):
            return
        self.bases[-1] += suffix
        last = self.steps[-1]
        text = self.bases[-1] + (f" {TIMES}{last.count}" if last.count > 1 else "")
        self.steps[-1] = msgspec.structs.replace(last, text=text)


def build_repro_steps(signals: Sequence[Signal], started_at: int) -> list[ReproStep]:
    """Every step of a session, in time order; `started_at` is the session start (ms).

    Typed text is never shown (the recorder does not send it): inputs read "(masked)".
    """
    out = _Steps(started_at)
    page: str | None = None
    field_names: dict[int, str] = {}
    for signal in signals:
        match signal:
            case PageViewSignal(url=url):
                # rrweb repeats the page's Meta event at every full-snapshot checkout.
                if url != page:
                    page = url
                    out.add(signal.ts, "page", f"Opened {_path(url)}", url)
            case ClickSignal():
                name = _field_name(signal)
                if name:
                    field_names[signal.node_id] = name
                target = _target(signal)
                tag = (signal.tag or "").lower()
                what = target or (f"a {tag}" if tag else "the page")
                out.add(signal.ts, "click", f"Clicked {what}", signal.node_id)
            case DeadClickSignal():
                out.annotate_last("click", signal.node_id, " (nothing happened)")
            case InputSignal(node_id=node):
                text = f"Typed into {field_names.get(node, 'a field')} (masked)"
                # Clicking into a field and typing is one step, not two.
                if out.steps and out.keys[-1] == ("click", node):
                    out.replace_last(signal.ts, "input", text, node)
                elif not (out.steps and out.keys[-1] == ("input", node)):
                    out.add(signal.ts, "input", text, node)
            case FailedRequestSignal():
                outcome = request_status(signal.status, signal.error or "failed")
                line = f"{(signal.method or 'GET').upper()} {_path(signal.url)} → {outcome}"
                out.add(signal.ts, "request", _cut(line, MAX_TEXT_CHARS), signal.url)
            case ConsoleErrorSignal():
                first_line = signal.message.strip().split("\n", 1)[0]
                text = _cut(f"Console error: {first_line}", MAX_TEXT_CHARS)
                out.add(signal.ts, "error", text, None)
    return out.steps


def trim_steps(steps: list[ReproStep], limit: int) -> tuple[list[ReproStep], int]:
    """At most `limit` steps, keeping those that lead up to the first error; and how many went.

    When there are too many, the window ends a few steps after the first error (what the user
    did next often tells what they expected), or at the last step when nothing failed.
    """
    if len(steps) <= limit:
        return steps, 0
    failing = next((i for i, s in enumerate(steps) if s.kind in ("error", "request")), None)
    end = len(steps) if failing is None else min(len(steps), failing + 1 + limit // 5)
    start = max(0, end - limit)
    return steps[start:end], len(steps) - (end - start)
