"""An ingest body as it arrives: size limits, bounded gunzip, and the batch decoded and checked."""

from __future__ import annotations

import sys
from typing import Annotated, Literal, cast

import msgspec
from isal import isal_zlib

from service.errors import BatchInvalid, BatchTooDeep, BatchTooLarge
from service.identifiers import SessionId, UserId
from service.ingest.id_deltas import restore_ids
from service.ingest.signals.batch_pass import check_event_heads
from service.rrweb import EventType

__all__ = [
    "GZIP_MAGIC",
    "NESTED_TOO_DEEP",
    "IngestBatch",
    "IngestEnvelope",
    "IngestLimits",
    "allow_deep_nesting",
    "decode_batch",
    "decode_envelope",
    "read_body",
]

RECURSION_LIMIT = 12_000
NESTED_TOO_DEEP = "events are nested deeper than about 10,000 levels"

_READ_STEP = 256 * 1024
GZIP_MAGIC = b"\x1f\x8b"
# isal's stubs declare its error class as an instance; at runtime it is an Exception subclass.
_GZIP_ERROR = cast("type[Exception]", isal_zlib.error)


# From a recorder that asks the customer before a live view (`liveNotice: "ask"`): asked (no
# answer yet), granted or declined. Absent: the recorder does not ask (it tells, or says nothing).
LiveConsent = Literal["asked", "granted", "declined"]


class IngestBatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One recorder batch. rrweb events stay raw until indexing needs a field."""

    session_id: SessionId
    seq: Annotated[int, msgspec.Meta(ge=0, le=2**53)]
    events: list[msgspec.Raw]
    user_id: UserId | None = None
    final: bool = False
    live_consent: LiveConsent | None = None
    id_deltas: bool = False
    """The events' node IDs came as differences (see `id_deltas`); `decode_batch` restores
    them, so a decoded batch always holds rrweb's own numbers and says False here."""


class CheckedHead(msgspec.Struct):
    """An event's head as the signal pass requires it (see `batch_pass._decode_head`); the
    rest of the event is skipped."""

    type: Annotated[int, msgspec.Meta(ge=0, le=int(max(EventType)))]
    timestamp: Annotated[int, msgspec.Meta(ge=0)]


class IngestEnvelope(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A batch as the request path checks it: every field of `IngestBatch`, and each event's
    head, without the events' contents."""

    session_id: SessionId
    seq: Annotated[int, msgspec.Meta(ge=0, le=2**53)]
    events: list[CheckedHead]
    user_id: UserId | None = None
    final: bool = False
    live_consent: LiveConsent | None = None
    id_deltas: bool = False


_ENVELOPE = msgspec.json.Decoder(IngestEnvelope)


class IngestLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Size limits of one ingest body."""

    max_body_bytes: int
    max_decompressed_bytes: int


def read_body(body: bytes, content_encoding: str | None, limits: IngestLimits) -> bytes:
    """The JSON bytes of an ingest body, gunzipped without ever exceeding the limits."""
    if len(body) > limits.max_body_bytes:
        raise BatchTooLarge(f"body is {len(body)} bytes; the limit is {limits.max_body_bytes}")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity" and body.startswith(GZIP_MAGIC):
        # sendBeacon cannot set Content-Encoding, so a gzip body is recognised by its magic.
        encoding = "gzip"
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise BatchInvalid(f"Content-Encoding {encoding!r} is not supported; send gzip or nothing")
    return _gunzip_bounded(body, limits.max_decompressed_bytes)


def _gunzip_bounded(body: bytes, limit: int) -> bytes:
    # max_length caps every step, so a gzip bomb costs at most `limit` bytes of memory.
    decompressor = isal_zlib.decompressobj(wbits=16 + isal_zlib.MAX_WBITS)
    out = bytearray()
    pending = body
    try:
        while pending:
            out += decompressor.decompress(pending, _READ_STEP)
            if len(out) > limit:
                raise BatchTooLarge(f"body is over {limit} bytes once decompressed")
            pending = decompressor.unconsumed_tail
            if decompressor.eof:
                break
        if not decompressor.eof:
            raise BatchInvalid("gzip body is truncated")
    except _GZIP_ERROR as exc:
        raise BatchInvalid(f"body is not valid gzip ({exc})") from None
    return bytes(out)


def allow_deep_nesting() -> None:
    """Let this process decode JSON nested as deep as real DOM snapshots go.

    msgspec counts each level against Python's recursion limit (1000 by default, less what
    the call stack already uses), and a full snapshot nests two levels per DOM level: a page
    nested 480 elements deep did not decode. The limit here admits about 10,000 levels; past
    them a batch is refused with a 400 (measured safe for the C stack of the main thread).
    """
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))


def decode_batch(data: bytes) -> IngestBatch:
    """Parse and validate a batch, with an error that says which field is wrong.

    Every byte must be UTF-8, including inside events, which stay undecoded until a handler
    reads them: an event stored with invalid bytes would later be served as invalid JSON. Node
    IDs sent as differences are restored here, before anything reads the events.
    """
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BatchInvalid(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        batch = msgspec.json.decode(data, type=IngestBatch)
        if batch.id_deltas:
            batch = msgspec.json.decode(restore_ids(data), type=IngestBatch)
            batch.id_deltas = False
        return batch
    except RecursionError:
        raise BatchTooDeep(NESTED_TOO_DEEP) from None
    except msgspec.ValidationError as exc:
        raise BatchInvalid(f"invalid batch: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BatchInvalid(f"body is not valid JSON: {exc}") from None


def decode_envelope(data: bytes) -> IngestEnvelope:
    """Check a batch as far as acknowledging it needs: everything `decode_batch` checks, and
    every event's head as the signal pass checks it, refused with the same messages. One
    decode; only a refused batch is decoded again, for the message that names the fault."""
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BatchInvalid(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        return _ENVELOPE.decode(data)
    except RecursionError:
        raise BatchTooDeep(NESTED_TOO_DEEP) from None
    except msgspec.DecodeError:
        pass
    batch = decode_batch(data)
    check_event_heads(batch.events)
    raise BatchInvalid("invalid batch: its events could not be read")
