"""Scrubbing of decoded JSON payloads, console arguments and network plugin payloads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from service.ingest.scrubbing import (
    is_sensitive_header,
    scrub_body,
    scrub_header_value,
    scrub_text,
    scrub_url,
)

__all__ = ["scrub_console_arg", "scrub_json", "scrub_network_payload"]

# Strings under these keys of a network payload are not free text and get their own scrubber.
_NETWORK_SCRUBBERS: Mapping[str, Callable[[str], str]] = {
    "url": scrub_url,
    "requestBody": scrub_body,
    "responseBody": scrub_body,
}
_NETWORK_HEADER_KEYS = frozenset({"requestHeaders", "responseHeaders"})

_ANY: msgspec.json.Decoder[Any] = msgspec.json.Decoder()
_STR = msgspec.json.Decoder(str)
_ENCODER = msgspec.json.Encoder()


def _scrub_header_object(headers: dict[str, Any], pending: list[Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in headers.items():
        if is_sensitive_header(name):
            continue
        kept[name] = scrub_header_value(name, value) if isinstance(value, str) else value
        if not isinstance(value, str):
            pending.append(value)
    return kept


def scrub_json(
    root: Any,
    by_key: Mapping[str, Callable[[str], str]] | None = None,
    header_keys: frozenset[str] = frozenset(),
) -> tuple[Any, bool]:
    """Scrub every string in decoded JSON, in place; return it and whether anything changed.

    Strings under a key of `by_key` get that scrubber instead of `scrub_text`; objects under
    a key of `header_keys` lose their credential headers. Iterative rather than recursive, so
    a deeply nested payload cannot exhaust the stack.
    """
    if isinstance(root, str):
        text = scrub_text(root)
        return text, text != root
    scrubbers = by_key or {}
    changed = False
    pending: list[Any] = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                replacement: Any
                if isinstance(value, str):
                    replacement = scrubbers.get(key, scrub_text)(value)
                elif isinstance(value, dict) and key in header_keys:
                    replacement = _scrub_header_object(value, pending)
                else:
                    if isinstance(value, dict | list):
                        pending.append(value)
                    continue
                if replacement != value:
                    # Replacing the value of an existing key is safe while iterating.
                    node[key] = replacement
                    changed = True
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, str):
                    text = scrub_text(value)
                    if text != value:
                        node[index] = text
                        changed = True
                elif isinstance(value, dict | list):
                    pending.append(value)
    return root, changed


def scrub_network_payload(payload: Any) -> tuple[Any, bool]:
    """Scrub a decoded `replaydesk/network@1` payload of any shape, in place.

    The URL gets `scrub_url`, bodies `scrub_body`, header objects `scrub_headers` rules, and
    every other string `scrub_text`.
    """
    return scrub_json(payload, _NETWORK_SCRUBBERS, _NETWORK_HEADER_KEYS)


def scrub_console_arg(arg: str) -> tuple[str, str]:
    """Return one console argument as it should be stored and as it should read in a message.

    rrweb stores each argument JSON-stringified. Scrubbing the decoded value and encoding it
    again keeps the argument valid JSON, which scrubbing the encoded text (with its escapes)
    would not always do. A JSON string reads unquoted; anything else reads as stored.
    """
    try:
        if arg.startswith('"'):
            text = _STR.decode(arg)
            clean = scrub_text(text)
            return (arg if clean == text else _ENCODER.encode(clean).decode()), clean
        if arg.startswith(("{", "[")):
            value, changed = scrub_json(_ANY.decode(arg))
            stored = _ENCODER.encode(value).decode() if changed else arg
            return stored, stored
    except msgspec.DecodeError:
        pass
    clean = scrub_text(arg)
    return clean, clean
