"""Stopping the asyncio tasks a service object runs in the background."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["stop_task"]


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel `task` and wait until it has ended (None: nothing to stop)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
