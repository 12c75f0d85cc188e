"""The service's exception tree; the web layer maps each class to one problem+json status."""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "BatchInvalid",
    "BatchTooDeep",
    "BatchTooLarge",
    "Conflict",
    "Forbidden",
    "NotFound",
    "ReplayDeskError",
    "StorageUnavailable",
    "Unauthorized",
    "UserErased",
    "WebhookInvalid",
    "WebhookRejected",
]


class ReplayDeskError(Exception):
    """Base class: every error a client can see. `detail` is shown to the caller as-is."""

    status_code = 500
    title = "Internal error"
    # Seconds a client should wait before sending again (a `Retry-After` header); None: none.
    retry_after_seconds: int | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ReplayDeskError):
    """A parameter or body the caller must fix."""

    status_code = 400
    title = "Bad request"


class BatchInvalid(BadRequest):
    """The ingest body is not a well-formed batch."""

    title = "Invalid batch"


class BatchTooDeep(BatchInvalid):
    """A batch nested deeper than the service decodes."""


class BatchTooLarge(ReplayDeskError):
    """The ingest body is over the compressed or decompressed size limit."""

    status_code = 413
    title = "Batch too large"


class Unauthorized(ReplayDeskError):
    """Missing or wrong credentials."""

    status_code = 401
    title = "Unauthorized"


class WebhookRejected(Unauthorized):
    """An inbound webhook whose signature (or timestamp) does not verify."""

    title = "Webhook rejected"


class WebhookInvalid(BadRequest):
    """An inbound webhook that verified but cannot be parsed."""

    title = "Invalid webhook"


class Forbidden(ReplayDeskError):
    """Valid credentials that may not do this (e.g. an origin not allowed for an ingest key)."""

    status_code = 403
    title = "Forbidden"


class NotFound(ReplayDeskError):
    """The thing asked for does not exist (or may not be revealed)."""

    status_code = 404
    title = "Not found"


class Conflict(ReplayDeskError):
    """The request contradicts what is already stored."""

    status_code = 409
    title = "Conflict"


class UserErased(ReplayDeskError):
    """Recording for a user or session whose data was erased is refused."""

    status_code = 410
    title = "Erased"


class TooManyBatches(ReplayDeskError):
    """An ingest key sends more than its share while processing catches up: send again later."""

    status_code = 429
    title = "Too many batches"
    retry_after_seconds = 2


class StorageUnavailable(ReplayDeskError):
    """The database, blob store or queue did not answer; nothing was acknowledged."""

    status_code = 503
    title = "Storage unavailable"
