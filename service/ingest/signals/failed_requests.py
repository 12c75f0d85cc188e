"""Failed requests: `replaydesk/network@1` events answered 4xx/5xx, or not answered at all."""

from __future__ import annotations

import msgspec

from service.error_fingerprints import request_identity
from service.ingest.payload_scrubbing import scrub_network_payload
from service.ingest.signals.findings import ANY, Findings, finite, rewrite, try_decode
from service.rrweb import NetworkPayload
from service.signal_kinds import FailedRequestSignal
from service.struggles import request_start

__all__ = ["FIRST_FAILED_STATUS", "network_event"]

FIRST_FAILED_STATUS = 400
# sendBeacon never exposes a response, so a beacon's status 0 is not a failure by itself.
_NO_RESPONSE_KINDS = frozenset({"beacon"})


def network_event(
    ts: int, raw: msgspec.Raw, payload_raw: msgspec.Raw, out: Findings
) -> bytes | None:
    """Scrub one request event and note its span (a reaction to a click); a failed one
    becomes a signal. Returns the event re-encoded when scrubbing changed it."""
    payload = try_decode(ANY, payload_raw)
    if payload is None:
        return None
    payload, changed = scrub_network_payload(payload)
    try:
        request = msgspec.convert(payload, NetworkPayload)
    except msgspec.ValidationError:
        # Still a request the page made, so it still counts as a reaction to a click.
        out.requests.append((ts, ts))
    else:
        # The recorder emits the event when the request settles, so it ends at `ts`.
        out.requests.append((request_start(ts, request.duration), ts))
        answered = request.status != 0 or request.kind in _NO_RESPONSE_KINDS
        if request.status >= FIRST_FAILED_STATUS or not answered or request.error:
            out.signals.append(
                FailedRequestSignal(
                    ts=ts,
                    method=request.method,
                    url=request.url,
                    status=request.status,
                    duration=finite(request.duration),
                    error=request.error or None,
                    fingerprint=request_identity(
                        request.method, request.url, request.status
                    ).fingerprint,
                )
            )
    return rewrite(raw, ("data",), {"payload": payload}) if changed else None
