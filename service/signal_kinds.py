"""The signal contract: what ingest derives from a session's events, one struct per kind.

Ingest writes these (`service.ingest.signals`), storage keeps each as a row with its `kind`, `ts`
and the other fields as JSON (`service.storage.session_store`), and the read side, the report
and the repro steps read them back typed. Every string is scrubbed before a signal is built.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

__all__ = [
    "ClickSignal",
    "ConsoleErrorSignal",
    "DeadClickSignal",
    "ErrorClickSignal",
    "FailedRequestSignal",
    "InputSignal",
    "PageVia",
    "PageViewSignal",
    "RageClickSignal",
    "Signal",
    "SignalKind",
    "kind_of",
    "signal_data",
    "signal_from_row",
]

SignalKind = Literal[
    "page_view",
    "click",
    "rage_click",
    "dead_click",
    "error_click",
    "input",
    "console_error",
    "failed_request",
]


class _Signal(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="kind"):
    ts: int
    """Milliseconds since the epoch: the timestamp of the event it was derived from."""


PageVia = Literal["load", "reload", "push", "replace", "pop", "hash"]


class PageViewSignal(_Signal, frozen=True, tag="page_view"):
    """A page load (rrweb Meta event) or an in-page route change."""

    url: str
    via: PageVia = "load"
    """How the page was reached: loaded, reloaded, or a route change in the page (the history
    API's push and replace, back or forward, a new hash)."""


class _ClickOn(_Signal, frozen=True):
    """Where a click landed, and what the recorder saw under it when it said so."""

    node_id: int
    x: int | float | None = None
    y: int | float | None = None
    label: str | None = None
    selector: str | None = None
    tag: str | None = None


class ClickSignal(_ClickOn, frozen=True, tag="click"):
    """A click."""


class DeadClickSignal(_ClickOn, frozen=True, tag="dead_click"):
    """A click after which the page did not visibly react (see `service.struggles`)."""


class ErrorClickSignal(_ClickOn, frozen=True, tag="error_click"):
    """A click followed at once by a console error or a failed request (see
    `service.struggles`)."""


class RageClickSignal(_Signal, frozen=True, tag="rage_click"):
    """A burst of fast clicks on one element; `ts` is the first click's (see
    `service.struggles`)."""

    node_id: int
    count: int
    label: str | None = None
    selector: str | None = None


class InputSignal(_Signal, frozen=True, tag="input"):
    """The start of a run of typing into one field; never the text."""

    node_id: int


class ConsoleErrorSignal(_Signal, frozen=True, tag="console_error"):
    """A console error or failed assertion, with its stack as recorded."""

    message: str
    stack: list[str] = []
    level: str = "error"
    fingerprint: str | None = None
    """What makes it the same error in other sessions (`service.error_fingerprints`); None in
    rows stored before fingerprints were."""


class FailedRequestSignal(_Signal, frozen=True, tag="failed_request"):
    """A request answered with 4xx/5xx, or not answered at all."""

    method: str
    url: str
    status: int
    duration: float | None = None
    error: str | None = None
    fingerprint: str | None = None
    """As `ConsoleErrorSignal.fingerprint`: method, host, path template and status."""


Signal: TypeAlias = (
    PageViewSignal
    | ClickSignal
    | DeadClickSignal
    | RageClickSignal
    | ErrorClickSignal
    | InputSignal
    | ConsoleErrorSignal
    | FailedRequestSignal
)


def kind_of(signal: Signal) -> SignalKind:
    """The signal's kind, as stored in its row."""
    kind: SignalKind = signal.__struct_config__.tag  # type: ignore[assignment]
    return kind


def signal_data(signal: Signal) -> dict[str, Any]:
    """The fields a row keeps as JSON: all but `kind` and `ts`, which have columns."""
    data: dict[str, Any] = msgspec.to_builtins(signal)
    del data["kind"], data["ts"]
    return data


def signal_from_row(kind: str, ts: int, data: dict[str, Any]) -> Signal | None:
    """A stored row as its signal; None for a row no current kind describes."""
    try:
        signal: Signal = msgspec.convert({**data, "kind": kind, "ts": ts}, Signal)  # type: ignore[arg-type]
    except msgspec.ValidationError:
        return None
    return signal
