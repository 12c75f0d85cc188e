"""The attachment record on SQLite and PostgreSQL: one row per report, leases, the outbox."""

from __future__ import annotations

from service.storage.database import create_engine
from service.storage.ticket_store import TicketStore

NOW = 1_790_000_000_000
LEASE = 300_000


async def test_one_record_per_report_with_a_lease_and_an_outbox(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        store = TicketStore(engine)
        record, needs_job = await store.request("attach-a", "taskboard", "7", "s1", None, NOW)
        assert needs_job and record.state == "pending" and record.enqueued_at is None
        again, needs_job = await store.request("attach-a", "taskboard", "7", "s1", None, NOW + 1)
        assert needs_job and again.requested_at == NOW  # the same row, not a second one

        assert [r.job_id for r in await store.outbox(NOW, 10)] == ["attach-a"]
        await store.mark_enqueued("attach-a", NOW)
        assert await store.outbox(NOW, 10) == []  # enqueued now: not stale yet
        assert [r.job_id for r in await store.outbox(NOW + 1, 10)] == ["attach-a"]

        claimed = await store.claim("attach-a", NOW, LEASE)
        assert claimed is not None and claimed.lease_until == NOW + LEASE
        assert await store.claim("attach-a", NOW + 1, LEASE) is None  # another worker waits
        await store.start_attempt("attach-a", NOW)
        await store.record_error("attach-a", "503", failed=False, now=NOW)
        retried = await store.claim("attach-a", NOW + 2, LEASE)  # the lease was released
        assert retried is not None and retried.attempts == 1 and retried.error == "503"

        await store.mark_written("attach-a", {"remote_id": "c1"}, NOW + 3)
        assert await store.claim("attach-a", NOW + 4, LEASE) is None
        written, needs_job = await store.request("attach-a", "taskboard", "7", "s1", None, NOW)
        assert not needs_job and written.remote == {"remote_id": "c1"}
        assert await store.outbox(NOW + 10**9, 10) == []
    finally:
        await engine.dispose()


async def test_a_failed_report_asked_for_again_is_pending_again(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        store = TicketStore(engine)
        await store.request("attach-b", "taskboard", "8", "s1", NOW - 5, NOW)
        await store.mark_enqueued("attach-b", NOW)
        await store.record_error("attach-b", "404 no such ticket", failed=True, now=NOW)
        failed = await store.get("attach-b")
        assert failed is not None and failed.state == "failed"
        record, needs_job = await store.request("attach-b", "taskboard", "8", "s1", None, NOW)
        assert needs_job and record.state == "pending" and record.enqueued_at is None
        assert record.ticket_created_at == NOW - 5

        await store.record_error("attach-b", "404", failed=True, now=NOW)
        await store.reopen(["attach-b", "attach-unknown"], NOW)
        reopened = await store.get("attach-b")
        assert reopened is not None and reopened.state == "pending"
    finally:
        await engine.dispose()


async def test_an_issue_opened_with_its_report_is_written_even_if_its_webhook_came_first(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        store = TicketStore(engine)
        # The new issue's "created" webhook asked for the report before the job recorded it.
        await store.request("attach-c", "jira", "BUG-1", "s1", None, NOW, "u42")
        issue = {"remote_id": "BUG-1", "kind": "issue", "url": "https://x.test/BUG-1"}
        await store.record_written("attach-c", "jira", "BUG-1", "s1", "u42", issue, NOW + 1)
        assert await store.claim("attach-c", NOW + 2, LEASE) is None  # its job writes nothing
        [record] = await store.written_for_session("jira", "s1")
        assert record.remote == issue and record.user_id == "u42"
        # A report written before is never overwritten.
        await store.record_written("attach-c", "jira", "BUG-1", "s1", "u42", {"x": 1}, NOW + 3)
        again = await store.get("attach-c")
        assert again is not None and again.remote == issue
    finally:
        await engine.dispose()


async def test_settled_reports_are_forgotten_after_the_retention_period(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        store = TicketStore(engine)
        for job_id in ("attach-w", "attach-f", "attach-p"):
            await store.request(job_id, "jira", job_id, "s1", None, NOW)
        await store.mark_written("attach-w", {"remote_id": "c1"}, NOW)
        await store.record_error("attach-f", "404", failed=True, now=NOW)
        assert await store.purge_settled(NOW) == 0  # not older than the cutoff yet
        assert await store.purge_settled(NOW + 1) == 2
        assert await store.get("attach-w") is None and await store.get("attach-f") is None
        pending = await store.get("attach-p")  # the outbox still owes this one
        assert pending is not None and pending.state == "pending"
    finally:
        await engine.dispose()


async def test_an_attempt_may_have_written_until_its_error_says_otherwise(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        store = TicketStore(engine)
        await store.request("attach-u", "taskboard", "7", "s1", None, NOW)

        async def attempt(now: int, *, wrote_nothing: bool | None) -> bool:
            """One attempt; None: the worker dies after starting it. Returns whether the
            attempt after it must look for an earlier write."""
            claimed = await store.claim("attach-u", now, LEASE)
            assert claimed is not None
            await store.start_attempt("attach-u", now)
            if wrote_nothing is not None:
                clear = wrote_nothing and not claimed.write_uncertain
                await store.record_error("attach-u", "e", False, now, wrote_nothing=clear)
            record = await store.get("attach-u")
            assert record is not None
            return record.write_uncertain

        assert not (await store.get("attach-u")).write_uncertain  # type: ignore[union-attr]
        assert await attempt(NOW, wrote_nothing=True) is False  # a 429: nothing to look for
        assert await attempt(NOW + 1, wrote_nothing=False) is True  # a lost answer
        assert await attempt(NOW + 2, wrote_nothing=True) is True  # sticky: the earlier one
        await store.request("attach-v", "taskboard", "8", "s1", None, NOW)
        claimed = await store.claim("attach-v", NOW, 1)
        await store.start_attempt("attach-v", NOW)  # and the worker dies
        later = await store.claim("attach-v", NOW + 2, LEASE)
        assert claimed is not None and later is not None and later.write_uncertain
    finally:
        await engine.dispose()


async def test_attempts_at_an_issue_say_whether_one_may_have_opened_it(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        store = TicketStore(engine)
        assert await store.start_issue_attempt("issue-a", "jira", "s1", NOW) is False
        await store.issue_attempt_opened_nothing("issue-a", NOW)  # a 429
        assert await store.start_issue_attempt("issue-a", "jira", "s1", NOW + 1) is False
        # This one's answer got lost: the next one looks first, and so do all after it.
        assert await store.start_issue_attempt("issue-a", "jira", "s1", NOW + 2) is True
        assert await store.start_issue_attempt("issue-a", "jira", "s1", NOW + 3) is True
        await store.forget_issue_attempts("issue-a")  # opened and recorded
        assert await store.start_issue_attempt("issue-a", "jira", "s1", NOW + 4) is False
        await store.start_issue_attempt("issue-b", "jira", "s2", NOW)
        await store.purge_settled(NOW + 1)  # long over: both go
        assert await store.start_issue_attempt("issue-b", "jira", "s2", NOW + 5) is False
    finally:
        await engine.dispose()
