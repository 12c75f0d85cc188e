"""Exceptions in log records keep their type, chain and stack, and lose their message."""

from __future__ import annotations

import logging

import pytest

from service import log_redaction
from service.log_redaction import exception_summary, redacted_traceback
from service.plugin_host.remote_errors import RetryableError

SECRET = "user-8c1f2e"


def _lookup(user_id: str) -> None:
    raise KeyError(user_id)


def _chained() -> BaseException:
    try:
        try:
            _lookup(SECRET)
        except KeyError as exc:
            raise RuntimeError(f"statement failed for {SECRET}") from exc
    except RuntimeError as exc:
        return exc
    raise AssertionError("unreachable")


def test_a_chain_keeps_types_frames_and_relations_but_no_message() -> None:
    text = redacted_traceback(_chained())
    assert SECRET not in text
    assert text.index("KeyError (message withheld") < text.index("RuntimeError (message")
    assert "The above exception was the direct cause of the following exception" in text
    assert "line" in text and "in _lookup" in text and "in _chained" in text


def test_an_exception_raised_while_handling_another_names_both() -> None:
    try:
        try:
            _lookup(SECRET)
        except KeyError:
            raise ValueError(SECRET)  # noqa: B904 - the implicit context is the point
    except ValueError as exc:
        text = redacted_traceback(exc)
    assert SECRET not in text
    assert "During handling of the above exception, another exception occurred" in text
    assert "KeyError" in text and "ValueError" in text


def test_a_group_lists_each_member_with_its_frames() -> None:
    try:
        try:
            _lookup(SECRET)
        except KeyError as member:
            raise ExceptionGroup(SECRET, [member, OSError(SECRET)]) from None
    except ExceptionGroup as exc:
        text = redacted_traceback(exc)
    assert SECRET not in text
    assert "ExceptionGroup (message withheld" in text
    assert "1 of 2" in text and "2 of 2" in text and "in _lookup" in text


def test_summary_is_the_type_and_a_remote_status() -> None:
    assert exception_summary(KeyError(SECRET)) == "KeyError"
    error = RetryableError(f"429 for /users/{SECRET}", status=429)
    assert exception_summary(error) == "service.plugin_host.remote_errors.RetryableError (HTTP 429)"


def test_install_redacts_every_logger_until_the_last_undo(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("some.library")
    caplog.set_level(logging.DEBUG)
    first = log_redaction.install()
    second = log_redaction.install()
    try:
        raise RuntimeError(SECRET)
    except RuntimeError:
        log.exception("failed")
        first()
        first()  # a second call of the same undo changes nothing
        log.exception("still redacted: another install is live")
        second()
        log.exception("as before")
    redacted, still, plain = caplog.records
    assert redacted.exc_info is None and SECRET not in (redacted.exc_text or "")
    assert "RuntimeError (message withheld" in (redacted.exc_text or "")
    assert still.exc_info is None
    assert plain.exc_info is not None  # the factory that was there before is back
    assert SECRET not in caplog.text.split("as before")[0]
