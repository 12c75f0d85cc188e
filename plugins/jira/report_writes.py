"""What goes into an issue next to the report itself: the replay's remote link and the log file."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from plugins.jira.client import JiraClient
from plugins.jira.payloads import remote_link
from service import PermanentError, ReplayReport

__all__ = ["add_link_and_log"]

log = logging.getLogger(__name__)

# Jira may refuse the extras while the report itself is welcome: 403 when the account may not
# link or attach (or attachments are switched off), 413 when the file or the issue is at its
# limit. Any other error stops the write.
_REFUSED_EXTRAS = frozenset({403, 413})


@contextmanager
def _unless_refused(what: str, key: str) -> Iterator[None]:
    try:
        yield
    except PermanentError as exc:
        if exc.status not in _REFUSED_EXTRAS:
            raise
        log.warning("Jira refused the %s on %s; the report goes without it: %s", what, key, exc)


def add_link_and_log(jira: JiraClient, key: str, report: ReplayReport) -> None:
    """Link the replay and attach the session's log file, each at most once.

    Both may run again on a retry: the link is an upsert by its `globalId`, and a log file
    of the same name already on the issue is not uploaded again.
    """
    with _unless_refused("replay link", key):
        jira.upsert_remote_link(key, remote_link(report))
    log_file = report.log_file
    if log_file is None:
        return
    with _unless_refused("log file", key):
        if log_file.filename not in jira.attachment_names(key):
            jira.add_attachment(key, log_file)
