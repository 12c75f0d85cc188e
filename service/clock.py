"""The time as ReplayDesk stores it: integer milliseconds since the Unix epoch."""

from __future__ import annotations

import time

__all__ = ["now_ms"]


def now_ms() -> int:
    """Now, in milliseconds since the Unix epoch (rrweb's own unit, and every table's)."""
    return int(time.time() * 1000)
