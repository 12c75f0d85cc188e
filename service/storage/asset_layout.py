"""Where asset copies live in the blob store: one key per content hash, shared by sessions."""

from __future__ import annotations

import re

__all__ = ["ASSETS_FOLDER", "asset_blob_key", "is_asset_hash"]

ASSETS_FOLDER = "assets"
_HASH = re.compile(r"[0-9a-f]{64}")


def is_asset_hash(text: str) -> bool:
    """Whether `text` is a SHA-256 in lowercase hex, the only name an asset has."""
    return _HASH.fullmatch(text) is not None


def asset_blob_key(asset_hash: str) -> str:
    """The blob key of an asset's bytes (ValueError for anything but a SHA-256 in hex)."""
    if not is_asset_hash(asset_hash):
        raise ValueError("an asset is named by the SHA-256 of its bytes")
    # Two levels, so no folder of a local blob store holds every asset.
    return f"{ASSETS_FOLDER}/{asset_hash[:2]}/{asset_hash}"
