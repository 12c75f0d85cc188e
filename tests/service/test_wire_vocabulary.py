"""service/rrweb.py against wire/vocabulary.json, the one definition of the recorder's wire
vocabulary: the service keeps its own copies of the names and payload decoders (it does not read
files outside its package), and these tests keep them equal to the vocabulary."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator

from service.rrweb import (
    CLICK_TAG,
    CONSOLE_PLUGIN,
    CONSOLE_STACK_LEVELS,
    IDENTIFY_TAG,
    NAVIGATION_PLUGIN,
    NETWORK_PLUGIN,
    PAGE_TAG,
    ClickLabelPayload,
    ConsolePayload,
    IdentifyPayload,
    NavigationPayload,
    NetworkPayload,
    PagePayload,
)
from tests.recordings import checkout_events
from tests.wire_vocabulary import VOCABULARY, assert_recorder_payloads_valid, payload_validator

# The service's decoder of each payload in the vocabulary, by its key there.
STRUCTS: dict[str, type[msgspec.Struct]] = {
    "console": ConsolePayload,
    "network": NetworkPayload,
    "navigation": NavigationPayload,
    "identify": IdentifyPayload,
    "click": ClickLabelPayload,
    "page": PagePayload,
}
DEFS: dict[str, dict[str, Any]] = VOCABULARY["$defs"]
# JSON Schema's name for the type of a JSON value, as decoded.
_JSON_TYPES: dict[type, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}
_ALL_TYPES = frozenset({"string", "integer", "number", "boolean", "null", "array", "object"})


def test_the_vocabulary_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(VOCABULARY)
    for key in DEFS:
        Draft202012Validator.check_schema(payload_validator(key).schema)


def test_the_services_names_are_the_vocabularys() -> None:
    assert VOCABULARY["plugins"] == {
        "console": CONSOLE_PLUGIN,
        "network": NETWORK_PLUGIN,
        "navigation": NAVIGATION_PLUGIN,
    }
    assert VOCABULARY["tags"] == {"identify": IDENTIFY_TAG, "click": CLICK_TAG, "page": PAGE_TAG}
    assert set(VOCABULARY["consoleStackLevels"]) == CONSOLE_STACK_LEVELS
    assert CONSOLE_STACK_LEVELS <= set(DEFS["console"]["properties"]["level"]["enum"])


def test_every_name_has_a_payload_schema_and_a_decoder() -> None:
    names = [*VOCABULARY["plugins"], *VOCABULARY["tags"]]
    assert sorted(names) == sorted(DEFS) == sorted(STRUCTS)


def _accepted(info: msgspec.inspect.Type) -> frozenset[str]:
    """The JSON types a msgspec decoder of `info` accepts."""
    if isinstance(info, msgspec.inspect.Metadata):
        return _accepted(info.type)
    if isinstance(info, msgspec.inspect.UnionType):
        return frozenset().union(*(_accepted(member) for member in info.types))
    if isinstance(info, msgspec.inspect.AnyType | msgspec.inspect.RawType):
        return _ALL_TYPES
    simple = {
        msgspec.inspect.StrType: {"string"},
        msgspec.inspect.IntType: {"integer"},
        # A float field takes integers too: JSON does not tell 1 from 1.0.
        msgspec.inspect.FloatType: {"integer", "number"},
        msgspec.inspect.BoolType: {"boolean"},
        msgspec.inspect.NoneType: {"null"},
        msgspec.inspect.ListType: {"array"},
        msgspec.inspect.DictType: {"object"},
        msgspec.inspect.StructType: {"object"},
    }
    for kind, types in simple.items():
        if isinstance(info, kind):
            return frozenset(types)
    raise AssertionError(f"no JSON type known for {info}")


def _allowed(schema: dict[str, Any]) -> frozenset[str]:
    """The JSON types a value valid against `schema` can have."""
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return frozenset("null" if v is None else _JSON_TYPES[type(v)] for v in values)
    declared = schema.get("type")
    if declared is None:
        return _ALL_TYPES
    return frozenset([declared] if isinstance(declared, str) else declared)


def _assert_compatible(where: str, info: msgspec.inspect.Type, schema: dict[str, Any]) -> None:
    """Every value the schema allows is one the decoder accepts (by type; bounds on values,
    such as the service's on a user id's length, are the service's own business)."""
    allowed, accepted = _allowed(schema), _accepted(info)
    assert allowed <= accepted, f"{where}: the schema allows {allowed}, the service {accepted}"
    while isinstance(info, msgspec.inspect.Metadata):
        info = info.type
    members = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    lists = [m for m in members if isinstance(m, msgspec.inspect.ListType)]
    if "array" in allowed and lists:
        _assert_compatible(f"{where}[]", lists[0].item_type, schema.get("items", {}))


@pytest.mark.parametrize("key", sorted(STRUCTS))
def test_each_decoder_reads_what_the_schema_describes(key: str) -> None:
    struct, schema = STRUCTS[key], DEFS[key]
    assert schema["title"] == struct.__name__  # one type name in TypeScript and Python
    properties, required = schema["properties"], set(schema.get("required", []))
    for field in msgspec.structs.fields(struct):
        name, where = field.encode_name, f"{struct.__name__}.{field.name}"
        assert name in properties, f"{where}: no property {name!r} in $defs.{key}"
        _assert_compatible(where, msgspec.inspect.type_info(field.type), properties[name])
        if field.required:
            assert name in required, f"{where} is required by the service, not by the schema"


def test_the_test_recordings_send_what_the_recorder_sends() -> None:
    checked = assert_recorder_payloads_valid(checkout_events())
    assert checked == {"console": 1, "network": 1}


@pytest.mark.parametrize(
    ("key", "payload"),
    [
        (
            "console",
            {"level": "log", "payload": ['"ready"', '{"n":1}'], "trace": ["at a (b.js:1:2)"]},
        ),
        ("console", {"level": "warn", "payload": ['"limit reached"'], "trace": []}),
        (
            "network",
            {
                "kind": "fetch",
                "method": "POST",
                "url": "https://shop.test/api/pay?session_token=[secret]",
                "status": 500,
                "duration": 12.3,
                "requestSize": 13,
                "responseSize": 25,
                "requestHeaders": {"x-request-id": "req-42"},
                "responseHeaders": {"content-type": "application/json"},
                "requestBody": '{"amount":89}',
                "responseBody": '{"error":"card_declined"}',
                "initiator": "pay (https://shop.test/app.js:10:5)",
            },
        ),
        (
            "network",
            {
                "kind": "xhr",
                "method": "GET",
                "url": "http://127.0.0.1:9/stock",
                "status": 0,
                "duration": 3,
                "responseSize": 0,
                "error": "NetworkError",
            },
        ),
        ("network", {"kind": "beacon", "method": "POST", "url": "u", "status": 0, "duration": 0}),
        ("navigation", {"url": "https://shop.test/cart#review", "kind": "hash"}),
        ("identify", {"userId": "u42"}),
        ("identify", {"userId": "u42", "traits": {"plan": "pro"}}),
        ("click", {"label": "Pay now", "selector": "button#pay", "tag": "button"}),
        ("click", {"selector": 'input[name="card"]', "tag": "input"}),
    ],
)
def test_payloads_as_the_recorder_sends_them_validate(key: str, payload: Any) -> None:
    assert assert_recorder_payloads_valid([_event(key, payload)]) == {key: 1}


@pytest.mark.parametrize(
    ("key", "payload"),
    [
        ("network", {"kind": "fetch", "method": "GET", "url": "https://a.test/", "status": 200}),
        ("network", {"kind": "ftp", "method": "GET", "url": "u", "status": 200, "duration": 1}),
        ("navigation", {"url": "https://a.test/#x", "kind": "push", "from": "/"}),
        ("identify", {"userId": ""}),
        ("click", {"label": "Pay", "tag": "button"}),
        ("console", {"level": "error", "payload": [{"message": "boom"}], "trace": []}),
    ],
)
def test_payloads_the_recorder_never_sends_do_not_validate(key: str, payload: Any) -> None:
    with pytest.raises(AssertionError, match=f"a {key} payload does not fit"):
        assert_recorder_payloads_valid([_event(key, payload)])


def _event(key: str, payload: Any) -> dict[str, Any]:
    if key in VOCABULARY["plugins"]:
        data = {"plugin": VOCABULARY["plugins"][key], "payload": payload}
        return {"type": 6, "timestamp": 1, "data": data}
    return {"type": 5, "timestamp": 1, "data": {"tag": VOCABULARY["tags"][key], "payload": payload}}
