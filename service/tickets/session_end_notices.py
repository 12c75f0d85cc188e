"""Telling plugins, once per session, that a recorded session has ended."""

from __future__ import annotations

import asyncio

from service.errors import NotFound
from service.plugin_host.host import PluginHost
from service.sessions.reader import SessionReader
from service.storage.session_end_store import SessionEndStore

__all__ = ["LOOKBACK_MS", "notify_ended_sessions"]

# Sessions that ended longer ago than this are not announced any more (a service that was down
# for a day does not flood plugins with old news when it comes back).
LOOKBACK_MS = 24 * 3600 * 1000
# One sweep tells plugins about this many sessions at most; the next sweep takes the rest.
SWEEP_LIMIT = 500


async def notify_ended_sessions(
    ends: SessionEndStore,
    reader: SessionReader,
    plugins: PluginHost,
    idle_timeout_ms: int,
    now: int,
) -> int:
    """Call `replaydesk_session_ended` for sessions that ended and were not announced yet.

    A session ended when its final batch arrived or no batch came for the idle timeout. Each
    is claimed in the database before plugins hear of it, so two sweeps never both tell.
    Returns how many sessions were announced.
    """
    if not plugins.wants_session_ends():
        return 0
    told = 0
    ids = await ends.unnotified_ended(now - idle_timeout_ms, now - LOOKBACK_MS, SWEEP_LIMIT)
    for session_id in ids:
        if not await ends.claim_notice(session_id, now):
            continue
        try:
            summary = await reader.summary(session_id)
        except NotFound:
            continue  # erased between the query and now
        await asyncio.to_thread(plugins.session_ended, summary)
        told += 1
    await ends.forget_before(now - 2 * LOOKBACK_MS)
    return told
