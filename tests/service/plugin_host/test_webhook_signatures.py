"""Webhook signature checks: HMAC-SHA256 as hex or base64, in constant time, in a time window."""

from __future__ import annotations

import time

from service import hmac_sha256, timestamp_is_fresh, verify_hmac_sha256


def test_hex_and_base64_signatures_verify_and_tampering_does_not() -> None:
    body = b'{"ticket": 7}'
    hex_signature = hmac_sha256("s3cret", body)
    assert verify_hmac_sha256("s3cret", body, hex_signature)
    assert verify_hmac_sha256("s3cret", body, f"sha256={hex_signature}")
    assert verify_hmac_sha256("s3cret", body, hmac_sha256("s3cret", body, "base64"), "base64")
    assert not verify_hmac_sha256("s3cret", body + b" ", hex_signature)
    assert not verify_hmac_sha256("other", body, hex_signature)
    assert not verify_hmac_sha256("s3cret", body, "zz-not-hex")
    assert not verify_hmac_sha256("s3cret", body, "!!", "base64")
    assert not verify_hmac_sha256("s3cret", body, None)
    assert not verify_hmac_sha256("", body, hmac_sha256("", body))


def test_timestamps_must_be_recent_in_seconds_or_milliseconds() -> None:
    now = time.time()
    assert timestamp_is_fresh(str(int(now)), now=now)
    assert timestamp_is_fresh(int(now * 1000), now=now)
    assert not timestamp_is_fresh(now - 3600, now=now)
    assert not timestamp_is_fresh(now + 3600, now=now)
    assert not timestamp_is_fresh("yesterday", now=now)
    assert not timestamp_is_fresh(None, now=now) and not timestamp_is_fresh("nan", now=now)
