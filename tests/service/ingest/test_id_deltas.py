"""Node IDs sent as differences: restored exactly for what the recorder codes, and safely (valid
JSON, linear time, no error) for anything else."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import BatchInvalid
from service.ingest.body import decode_batch, decode_envelope
from service.ingest.id_deltas import ID_KEYS, restore_ids

_CODED = re.compile(r'([{,]"(?:' + "|".join(ID_KEYS) + r')":)(-?\d+)(?=[,}])')


def code_ids(text: str) -> str:
    """The recorder's `codeIds` (recorder/src/compress.ts), in Python: the JavaScript itself is
    checked against this in tests/recorder/test_id_coding.py."""
    last = 0
    in_range = True

    def code(match: re.Match[str]) -> str:
        nonlocal last, in_range
        value = int(match[2])
        in_range = in_range and abs(value) < 2**31
        delta, last = value - last, value
        return match[1] + str(delta)

    coded = _CODED.sub(code, text)
    return coded[:-1] + ',"id_deltas":true}' if in_range else text


def compact(value: Any) -> str:
    """JSON as a browser's JSON.stringify writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def mutation_batch() -> dict[str, Any]:
    """A re-rendered row: consecutive IDs, each node naming its parent and next sibling."""
    adds = [
        {"parentId": 40, "nextId": None, "node": {"type": 2, "tagName": "tr", "id": 100}},
        {"parentId": 100, "nextId": 102, "node": {"type": 2, "tagName": "td", "id": 101}},
        {"parentId": 100, "nextId": None, "node": {"type": 2, "tagName": "td", "id": 102}},
        {"parentId": 101, "nextId": None, "node": {"type": 3, "textContent": "4 · id", "id": 103}},
    ]
    data = {"source": 0, "texts": [], "attributes": [], "removes": [{"parentId": 40, "id": 7}]}
    event = {"type": 3, "timestamp": 1_765_000_000_000, "data": {**data, "adds": adds}}
    return {"session_id": "sess-ids-0001", "seq": 3, "events": [event]}


def test_a_coded_batch_decodes_to_the_recorded_ids() -> None:
    batch = mutation_batch()
    coded = code_ids(compact(batch))
    assert '"id_deltas":true' in coded
    # In text order: removes 40, 7; then 40, 100 (nextId is null); 100, 102, 101; ...
    data = json.loads(coded)["events"][0]["data"]
    assert data["removes"] == [{"parentId": 40, "id": -33}]
    assert [data["adds"][1]["parentId"], data["adds"][1]["nextId"]] == [0, 2]
    assert data["adds"][1]["node"]["id"] == -1
    decoded = decode_batch(coded.encode())
    assert decoded.id_deltas is False
    assert [msgspec.json.decode(e) for e in decoded.events] == batch["events"]
    assert decode_envelope(coded.encode()).id_deltas is True


def test_a_batch_with_an_id_out_of_range_goes_uncoded() -> None:
    batch = mutation_batch()
    batch["events"][0]["data"]["removes"][0]["id"] = 2**31
    assert code_ids(compact(batch)) == compact(batch)


def test_only_keys_of_objects_are_coded_never_text() -> None:
    tricky = ',"id":5} {"id":6, "parentId":7 \\",\\"id\\":8'
    batch = {
        "session_id": "s1234567",
        "seq": 0,
        "events": [
            {
                "type": 5,
                "timestamp": 1,
                "data": {"tag": tricky, "payload": {"id": 9, "id ": 10, "xid": 11, "id2": 12}},
            }
        ],
    }
    coded = code_ids(compact(batch))
    assert tricky in json.loads(coded)["events"][0]["data"]["tag"]
    assert json.loads(coded)["events"][0]["data"]["payload"] == {
        "id": 9,
        "id ": 10,
        "xid": 11,
        "id2": 12,
    }
    assert json.loads(restore_ids(coded.encode())) == {**batch, "id_deltas": True}


ids = st.integers(-(2**31) + 1, 2**31 - 1)
keys = st.sampled_from([*ID_KEYS, "x", "id ", "Id", "nodeId", 'i"d', "id\\"])
texts = st.text(max_size=12) | st.sampled_from(
    ['","id":3', '{"id":4}', "\\", '"', ',"parentId":-2']
)
leaves = st.none() | st.booleans() | ids | st.floats(allow_nan=False, allow_infinity=False) | texts
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys | texts, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(events=st.lists(values, max_size=5))
def test_restoring_undoes_the_recorders_coding(events: list[Any]) -> None:
    text = compact({"session_id": "sess-prop-01", "seq": 1, "events": events})
    coded = code_ids(text)
    if coded == text:
        return  # a number out of range: sent as it is
    assert restore_ids(coded.encode()).decode() == text[:-1] + ',"id_deltas":true}'


hostile_numbers = st.integers() | st.sampled_from([10**400, -(10**40), 2**63]) | st.floats()


@settings(max_examples=300, deadline=None)
@given(events=st.lists(st.dictionaries(keys, hostile_numbers | values, max_size=6), max_size=6))
def test_any_batch_said_to_be_coded_decodes_to_valid_json_or_a_clear_refusal(
    events: list[Any],
) -> None:
    body = msgspec.json.encode(
        {"session_id": "sess-host-01", "seq": 1, "events": events, "id_deltas": True}
    )
    restored = restore_ids(body)
    msgspec.json.decode(restored)  # valid JSON, whatever came
    try:
        decoded = decode_batch(body)
    except BatchInvalid:
        return
    assert len(decoded.events) == len(events)


def test_a_very_long_number_is_left_as_it_is() -> None:
    body = b'{"events":[{"parentId":3,"id":' + b"9" * 5000 + b',"nextId":5}],"id_deltas":true}'
    assert restore_ids(body) == body.replace(b'"nextId":5', b'"nextId":8')
