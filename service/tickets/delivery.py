"""What the attach job does: build the report and have the plugin write it, exactly once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import msgspec

from service.clock import now_ms
from service.errors import NotFound
from service.jobs.retry_policies import is_retryable
from service.plugin_host.host import PluginHost
from service.plugin_host.remote_errors import PermanentError, RetryableError, may_have_written
from service.plugin_host.types import AttachResult, MissingRecording, TicketRef
from service.report.replay_report import (
    ReplayReport,
    ReplayWindow,
    build_replay_report,
    reported_fingerprints,
)
from service.report.session_log import log_file
from service.sessions.reader import SessionReader, SessionSummary, to_datetime
from service.sessions.windows import SessionWindow
from service.storage.ticket_store import AttachmentRecord, TicketStore
from service.tickets.attachments import NO_SESSION, attachment_marker, no_session_reason
from service.tickets.seen_elsewhere import seen_elsewhere
from service.viewer.link_windows import before_ticket
from service.viewer.tokens import ViewerTokens

__all__ = ["LEASE_MS", "Delivery", "ReportDelivery", "describe_error"]

# Longer than the attach job's timeout, so a lease outlives the job that holds it.
LEASE_MS = 5 * 60 * 1000
# An error message is shown in the API and kept in the database; its first lines say enough.
MAX_ERROR_CHARS = 1000


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of an attach job: what the tracker has."""

    job_id: str
    provider: str
    ticket_id: str
    session_id: str
    remote: AttachResult
    already_attached: bool
    """True when nothing was written now: an earlier attempt had written it."""


def describe_error(error: BaseException) -> str:
    """One line for people: the error's class and message."""
    text = " ".join(str(error).split()) or type(error).__name__
    name = type(error).__name__
    return (text if text.startswith(name) else f"{name}: {text}")[:MAX_ERROR_CHARS]


def _missing_recording(record: AttachmentRecord, marker: str) -> MissingRecording:
    created = record.ticket_created_at
    return MissingRecording(
        user_id=record.user_id,
        # The user ID is gone when the user was erased since.
        reason=no_session_reason(record.user_id or "(erased)"),
        ticket_created_at=None if created is None else to_datetime(created),
        marker=marker,
    )


def _millis(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


# Answers to a lookup that say nothing about whether an earlier write landed.
_LOOKUP_UNAVAILABLE = frozenset({404, 405, 501})


class ReportDelivery:
    """Writes one (provider, ticket, session) report through the provider's plugin."""

    def __init__(
        self,
        ticket_store: TicketStore,
        reader: SessionReader,
        plugins: PluginHost,
        tokens: ViewerTokens,
        ticket_link_ttl_seconds: int,
        ticket_link_window_minutes: int = 0,
    ) -> None:
        self.ticket_store = ticket_store
        self.reader = reader
        self.plugins = plugins
        self.tokens = tokens
        self.ticket_link_ttl_seconds = ticket_link_ttl_seconds
        self.ticket_link_window_minutes = ticket_link_window_minutes

    async def deliver(self, job_id: str, *, final_attempt: bool) -> Delivery:
        """Write the report unless the ticket already has it; record the outcome.

        Errors propagate after being recorded: the attachment turns `failed` when the error is
        permanent or this was the final attempt, and stays pending (a retry follows) otherwise.
        """
        claimed = await self.ticket_store.claim(job_id, now_ms(), LEASE_MS)
        if claimed is None:
            record = await self.ticket_store.get(job_id)
            if record is None:
                raise PermanentError(f"no attach request {job_id} is recorded")
            if record.state == "written":
                return self._delivery(record, record.remote or {}, already=True)
            raise RetryableError(
                "another worker is writing this report", retry_after=LEASE_MS / 1000
            )
        try:
            result, already = await self._write(claimed)
        except Exception as exc:
            failed = final_attempt or not is_retryable(exc)
            await self.ticket_store.record_error(
                job_id,
                describe_error(exc),
                failed,
                now_ms(),
                # Certain only if every attempt was: one that may have written stays so.
                wrote_nothing=not claimed.write_uncertain and not may_have_written(exc),
            )
            raise
        remote = msgspec.to_builtins(result)
        await self.ticket_store.mark_written(job_id, remote, now_ms())
        return self._delivery(claimed, remote, already=already)

    async def _write(self, record: AttachmentRecord) -> tuple[AttachResult, bool]:
        ticket = TicketRef(provider=record.provider, ticket_id=record.ticket_id)
        marker = attachment_marker(record.job_id)
        if record.write_uncertain:
            # An earlier attempt started a write and recorded no result, and nothing says it
            # failed before writing: it may have landed.
            found = await self._look_for_earlier_write(ticket, marker)
            if found is not None:
                return found, True
        if record.session_id == NO_SESSION:
            notice = _missing_recording(record, marker)
            await self.ticket_store.start_attempt(record.job_id, now_ms())
            result = await asyncio.to_thread(self.plugins.attach_no_recording, ticket, notice)
        else:
            report = await self.build_report(
                record.session_id,
                marker,
                f"{record.provider}:{record.ticket_id}",
                record.ticket_created_at,
            )
            await self.ticket_store.start_attempt(record.job_id, now_ms())
            result = await asyncio.to_thread(self.plugins.attach_report, ticket, report)
        if result is None:
            raise PermanentError(f"the {record.provider} plugin wrote nothing into the ticket")
        return result, False

    async def _look_for_earlier_write(self, ticket: TicketRef, marker: str) -> AttachResult | None:
        """What an earlier attempt wrote, if the provider can tell. A lookup the remote side
        does not offer or cannot serve (404, 405, 501) finds nothing rather than failing a job
        that may have written nothing at all: the write comes next and answers for itself."""
        try:
            return await asyncio.to_thread(self.plugins.find_attachment, ticket, marker)
        except PermanentError as exc:
            if exc.status in _LOOKUP_UNAVAILABLE:
                return None
            raise

    async def build_report(
        self,
        session_id: str,
        marker: str,
        ticket: str | None = None,
        ticket_created_at: int | None = None,
    ) -> ReplayReport:
        """The session's replay report, its viewer links bound to `ticket` (`provider:id`)."""
        try:
            evidence = await self.reader.evidence(session_id)
        except NotFound:
            raise PermanentError(
                f"session {session_id} no longer exists (erased or past retention)"
            ) from None
        ttl = self.ticket_link_ttl_seconds
        whole = self.tokens.mint(session_id, ttl, ticket=ticket)
        window = self._ticket_window(evidence.session, ticket_created_at)
        link = whole if window is None else self.tokens.mint(session_id, ttl, ticket, window=window)
        first_error = (
            self.tokens.mint(session_id, ttl, ticket=ticket, open_at="first-error")
            if evidence.session.first_error_at is not None
            else None
        )
        others = await seen_elsewhere(
            self.reader.store.errors,
            self.tokens,
            reported_fingerprints(evidence),
            evidence.session.user_id,
            ticket,
            ttl,
        )
        return build_replay_report(
            evidence,
            link,
            first_error,
            ticket_created_at=None if ticket_created_at is None else to_datetime(ticket_created_at),
            marker=marker,
            log_file=await log_file(evidence.session, self.reader.event_chunks(session_id)),
            seen_elsewhere=others,
            window=None if window is None else self._report_window(evidence.session, window),
            whole_session_link=None if window is None else whole,
        )

    def _ticket_window(
        self, session: SessionSummary, ticket_created_at: int | None
    ) -> SessionWindow | None:
        """The minutes before the ticket, when a window is configured, the ticket's time is
        known and the window leaves part of the session out."""
        if not self.ticket_link_window_minutes or ticket_created_at is None:
            return None
        started, ended = _millis(session.started_at), _millis(session.ended_at)
        window = before_ticket(started, ended, ticket_created_at, self.ticket_link_window_minutes)
        if window is None or (window.start_ms <= started and window.end_ms >= ended):
            return None
        return window

    def _report_window(self, session: SessionSummary, window: SessionWindow) -> ReplayWindow:
        started = _millis(session.started_at)
        return ReplayWindow(
            from_ms=window.start_ms - started,
            to_ms=window.end_ms - started,
            before_ticket_minutes=self.ticket_link_window_minutes,
        )

    @staticmethod
    def _delivery(record: AttachmentRecord, remote: dict[str, Any], already: bool) -> Delivery:
        return Delivery(
            job_id=record.job_id,
            provider=record.provider,
            ticket_id=record.ticket_id,
            session_id=record.session_id,
            remote=msgspec.convert(remote, AttachResult),
            already_attached=already,
        )
