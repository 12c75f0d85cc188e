"""The customer's user ID among a Zendesk requester's fields, in the order USER_LOOKUP gives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["LOOKUP_FIELDS", "pick_user_id"]

LOOKUP_FIELDS = ("external_id", "email")
"""Requester fields that can hold the user ID the recorder was given."""


def pick_user_id(
    fields: Mapping[str, object], lookup: Sequence[str], prefix: str = ""
) -> str | None:
    """The first non-blank `{prefix}{field}` for the fields of `lookup`, in order.

    A trigger renders a placeholder with no value as an empty string: that counts as absent.
    """
    for name in lookup:
        value = fields.get(prefix + name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
