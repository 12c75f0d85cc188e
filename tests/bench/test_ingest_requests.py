"""The ingest benchmark's requests: one per batch of fresh sessions, in order, as the recorder
sends them, and each one a batch the service accepts."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bench.ingest_requests import (
    INGEST_PATH,
    SessionTemplate,
    batch_body,
    gzip_like_recorder,
    session_stream,
    session_templates,
    write_requests,
)
from service.ingest.body import IngestLimits, decode_batch, read_body

LIMITS = IngestLimits(max_body_bytes=8 * 1024 * 1024, max_decompressed_bytes=32 * 1024 * 1024)


def read_request_file(path: Path) -> list[tuple[str, bytes]]:
    """The (path, body) records of a request file, read the way bench/ingest_wrk.lua reads them."""
    data = path.read_bytes()
    records = []
    position = 0
    while position < len(data):
        end = data.index(b"\n", position)
        target, length = data[position:end].decode().split(" ")
        start = end + 1
        records.append((target, data[start : start + int(length)]))
        position = start + int(length)
    return records


@pytest.fixture(scope="module")
def templates() -> list[SessionTemplate]:
    return session_templates()


@pytest.mark.parametrize(("pool", "count"), [(1, 40), (3, 50), (64, 1000)])
def test_every_session_sends_each_batch_once_in_order_pool_requests_apart(
    pool: int, count: int
) -> None:
    lengths = [7, 3, 6]
    positions: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for position, (number, template, seq) in enumerate(session_stream(lengths, count, pool)):
        assert template == number % len(lengths)
        positions[number].append((position, seq))
    for sent in positions.values():
        assert [seq for _, seq in sent] == list(range(len(sent)))
        gaps = {later - earlier for (earlier, _), (later, _) in pairwise(sent)}
        assert gaps <= {pool}
    # Sessions are opened in number order, and every one but the last `pool` is finished.
    finished = [n for n, sent in positions.items() if len(sent) == lengths[n % len(lengths)]]
    assert len(positions) - len(finished) <= pool


def test_templates_hold_the_recorded_sessions_and_a_busy_page(
    templates: list[SessionTemplate],
) -> None:
    assert [template.name for template in templates] == ["demo-checkout", "spa-routes", "busy-page"]
    for template in templates:
        assert len(template.events) == len(template.event_counts) == len(template.sent_at) > 1
    busy = templates[-1]
    assert max(map(len, busy.events)) > 4 * min(map(len, busy.events))


def test_a_body_is_the_recorders_envelope_gzipped() -> None:
    body = batch_body("r01-t1-000001", 4, "user-1", b'[{"type":4}]')
    assert (
        body == b'{"session_id":"r01-t1-000001","seq":4,"user_id":"user-1","events":[{"type":4}]}'
    )
    assert read_body(gzip_like_recorder(body), "gzip", LIMITS) == body


def test_request_files_hold_fresh_sessions_the_service_accepts(
    tmp_path: Path, templates: list[SessionTemplate]
) -> None:
    found = write_requests(
        tmp_path / "requests", "r07", templates, threads=2, per_thread=120, pool=8
    )
    assert found.requests == 240
    seen: set[tuple[str, int]] = set()
    for thread in (1, 2):
        records = read_request_file(tmp_path / "requests" / f"thread-{thread}.bin")
        assert len(records) == 120
        for target, wire in records:
            url = urlsplit(target)
            assert url.path == INGEST_PATH
            sent_at = int(parse_qs(url.query)["sent_at"][0])
            batch = decode_batch(read_body(wire, "gzip", LIMITS))
            assert batch.session_id.startswith(f"r07-t{thread}-")
            assert (batch.session_id, batch.seq) not in seen
            seen.add((batch.session_id, batch.seq))
            template = templates[found.sessions[batch.session_id]]
            assert len(batch.events) == template.event_counts[batch.seq]
            # The recorder sends a batch after its events: none lies after `sent_at`, so the
            # service never finds one in the future.
            assert sent_at == template.sent_at[batch.seq]
    assert found.wire_bytes < found.json_bytes
