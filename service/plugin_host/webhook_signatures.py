"""Constant-time HMAC checks and timestamp windows for verifying inbound webhooks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import time
from typing import Literal

__all__ = ["DEFAULT_WINDOW_SECONDS", "hmac_sha256", "timestamp_is_fresh", "verify_hmac_sha256"]

# Five minutes covers clock drift and a vendor's own delivery delay, and is short enough that a
# captured request cannot be replayed for long.
DEFAULT_WINDOW_SECONDS = 300.0

Encoding = Literal["hex", "base64"]


def hmac_sha256(secret: str, message: bytes, encoding: Encoding = "hex") -> str:
    """The HMAC-SHA256 of `message` under `secret`, as hex or base64 text."""
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


def verify_hmac_sha256(
    secret: str, message: bytes, signature: str | None, encoding: Encoding = "hex"
) -> bool:
    """Whether `signature` is the HMAC-SHA256 of `message` under `secret` (constant time).

    A `sha256=` prefix (GitHub, Jira style) is accepted for hex signatures.
    """
    if not signature or not secret:
        return False
    text = signature.strip()
    if encoding == "hex":
        text = text.removeprefix("sha256=")
        try:
            given = bytes.fromhex(text)
        except ValueError:
            return False
    else:
        try:
            given = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return False
    expected = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def timestamp_is_fresh(
    timestamp: str | float | None,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether a Unix timestamp (seconds, or milliseconds if huge) is within the window of now."""
    if timestamp is None:
        return False
    try:
        moment = float(timestamp)
    except (TypeError, ValueError):
        return False
    if not math.isfinite(moment):
        return False
    # Milliseconds since the epoch passed 1e12 in 2001; seconds will not reach it for millennia.
    if moment > 1e12:
        moment /= 1000
    current = time.time() if now is None else now
    return abs(current - moment) <= window_seconds
