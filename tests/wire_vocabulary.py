"""wire/vocabulary.json for tests: the recorder's plugin and event names, and payload schemas."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

VOCABULARY_FILE = Path(__file__).resolve().parents[1] / "wire" / "vocabulary.json"
VOCABULARY: dict[str, Any] = json.loads(VOCABULARY_FILE.read_text())

# rrweb's EventType values of the events that carry a named payload.
CUSTOM, PLUGIN = 5, 6
# The vocabulary's key ($defs entry) for each name, by the event type that carries it.
_KEYS: dict[tuple[object, str], str] = {
    **{(PLUGIN, name): key for key, name in VOCABULARY["plugins"].items()},
    **{(CUSTOM, name): key for key, name in VOCABULARY["tags"].items()},
}


@cache
def payload_validator(key: str) -> Draft202012Validator:
    """A validator for the payload named `key` (`network`, `click`...), references resolved."""
    schema = {"$schema": VOCABULARY["$schema"], "$defs": VOCABULARY["$defs"]}
    return Draft202012Validator({**schema, "$ref": f"#/$defs/{key}"})


def recorder_payloads(events: Iterable[dict[str, Any]]) -> Iterator[tuple[str, Any]]:
    """(key, payload) of every event in `events` named in the vocabulary."""
    for event in events:
        data = event.get("data")
        if not isinstance(data, dict):
            continue
        name = data.get("plugin") if event.get("type") == PLUGIN else data.get("tag")
        key = _KEYS.get((event.get("type"), name)) if isinstance(name, str) else None
        if key is not None:
            yield key, data.get("payload")


def assert_recorder_payloads_valid(events: Iterable[dict[str, Any]]) -> Counter[str]:
    """Fail unless every payload in `events` named in the vocabulary fits its schema; returns
    how many of each were checked."""
    checked: Counter[str] = Counter()
    for key, payload in recorder_payloads(events):
        errors = [error.message for error in payload_validator(key).iter_errors(payload)]
        assert not errors, f"a {key} payload does not fit wire/vocabulary.json: {errors}\n{payload}"
        checked[key] += 1
    return checked
