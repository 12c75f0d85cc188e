"""Log records that hold no request data: an exception keeps its type and stack, not its text.

Paths, query strings, user and session IDs, tokens and keys never go into a log line. The
service's own messages are written that way (routes are logged by their template, tickets by
their id); an exception's text is not under its control: a database error lists the
statement's parameters, a KeyError names the key, a plugin's error quotes the tracker's
answer. So wherever a record carries an exception, it is rendered as the exception's type,
its chain of causes and its stack frames (file, line, function and source line), and its
message is left out. That is enough to find the failing line; the message can be had again by
reproducing the failure where the data may be seen.

`install` puts this in place for every logger of the process (the service's, Litestar's,
uvicorn's, RQ's, SQLAlchemy's) through the log record factory, so no handler or formatter
can see an exception's message. RQ also writes a failed job's traceback into the message
text and its arguments into the record: a filter on its worker logger replaces the first
and drops the second. uvicorn's access lines, which quote the path, and aiosqlite's
statement traces, which quote the parameters, are dropped.
"""

from __future__ import annotations

import itertools
import logging
import sys
import textwrap
import threading
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["exception_summary", "install", "redacted_traceback"]

WITHHELD = "(message withheld: it can hold request data)"
_TRACEBACK_HEADER = "Traceback (most recent call last):\n"
# RQ puts these on the record of a failed job (`extra=`): the job's call arguments.
_RQ_ARGUMENT_EXTRAS = ("arguments", "kwargs")


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def exception_summary(exc: BaseException) -> str:
    """The exception's type, and the HTTP status of a remote answer when it has one."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and not isinstance(status, bool):
        return f"{_type_name(exc)} (HTTP {status})"
    return _type_name(exc)


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it was raised from or while handling, oldest first, as Python
    prints them."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__suppress_context__:
            current = None
        else:
            current = current.__context__
    chain.reverse()
    return chain


def _relation(older: BaseException, newer: BaseException) -> str:
    if newer.__cause__ is older:
        return "\n\nThe above exception was the direct cause of the following exception:\n\n"
    return "\n\nDuring handling of the above exception, another exception occurred:\n\n"


def _one(exc: BaseException) -> str:
    frames = "".join(traceback.format_tb(exc.__traceback__))
    text = (_TRACEBACK_HEADER + frames) if frames else ""
    text += f"{_type_name(exc)} {WITHHELD}"
    if isinstance(exc, BaseExceptionGroup):
        # Each member with its own traceback, indented as Python prints groups.
        count = len(exc.exceptions)
        for number, member in enumerate(exc.exceptions, start=1):
            text += f"\n  +---- {number} of {count} ----\n"
            text += textwrap.indent(redacted_traceback(member), "  | ")
    return text


def redacted_traceback(exc: BaseException) -> str:
    """The traceback Python would print for `exc`, without any exception's message or notes."""
    chain = _chain(exc)
    parts = [_one(chain[0])]
    for older, newer in itertools.pairwise(chain):
        parts.append(_relation(older, newer))
        parts.append(_one(newer))
    return "".join(parts)


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if record.exc_info:
        exc = record.exc_info[1]
        if exc is not None:
            # A formatter appends exc_text as it is and only renders exc_info when it is unset.
            record.exc_text = redacted_traceback(exc)
        record.exc_info = None
    return record


class _RQFailedJobFilter(logging.Filter):
    """RQ's line for a failed job: no call arguments, and the traceback without messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in _RQ_ARGUMENT_EXTRAS:
            record.__dict__.pop(name, None)
        args = record.args
        if isinstance(args, tuple) and any(_is_traceback_text(arg) for arg in args):
            # RQ logs from the except block that caught the job's exception.
            exc = sys.exc_info()[1]
            text = redacted_traceback(exc) if exc is not None else f"traceback {WITHHELD}"
            record.args = tuple(text if _is_traceback_text(arg) else arg for arg in args)
        return True


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


class _DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def _is_traceback_text(value: object) -> bool:
    return isinstance(value, str) and value.startswith(_TRACEBACK_HEADER)


# Filters on the loggers of libraries that put request data into the text of their records.
_LOGGER_FILTERS: tuple[tuple[str, logging.Filter], ...] = (
    ("rq.worker", _RQFailedJobFilter()),
    # uvicorn's access lines quote the path and query. `access_log=False` only leaves this
    # logger without a handler, and uvicorn writes to it again as soon as one is attached (by
    # a deployment's logging set-up, or by pytest): its records are dropped outright.
    ("uvicorn.access", _DropAll()),
    # aiosqlite traces every statement with its parameters at DEBUG.
    ("aiosqlite", _DropDebug()),
)

_lock = threading.Lock()
_installed = 0
_previous_factory: Callable[..., logging.LogRecord] | None = None


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _previous_factory is not None
    return _redact_record(_previous_factory(*args, **kwargs))


def install() -> Callable[[], None]:
    """Redact exceptions in every log record of this process; returns the undo.

    Nested installs (several apps in one process, the CLI around an app) are counted, and the
    last undo restores the record factory that was there before.
    """
    global _installed, _previous_factory
    with _lock:
        if _installed == 0:
            _previous_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_redacting_factory)
            for name, log_filter in _LOGGER_FILTERS:
                logging.getLogger(name).addFilter(log_filter)
        _installed += 1
    done = False

    def uninstall() -> None:
        global _installed, _previous_factory
        nonlocal done
        with _lock:
            if done:
                return
            done = True
            _installed -= 1
            if _installed == 0 and _previous_factory is not None:
                logging.setLogRecordFactory(_previous_factory)
                _previous_factory = None
                for name, log_filter in _LOGGER_FILTERS:
                    logging.getLogger(name).removeFilter(log_filter)

    return uninstall
