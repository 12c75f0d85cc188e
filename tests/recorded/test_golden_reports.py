"""Recorded sessions, ingested again, give exactly the report text pinned in `golden/`.

The recordings are real batches from the real recorder in Chromium (`tests/recorded/record.py`);
the golden files are what a ticket shows of them. Set REPLAYDESK_UPDATE_GOLDEN=1 to write the
golden files anew after an intended change, and read the diff.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest

from plugins.jira.adf import plain_text, report_comment
from service.clock import now_ms
from service.report.replay_report import build_replay_report
from service.report.text import render_text
from service.sessions.reader import SessionEvidence
from service.viewer.tokens import ViewerTokens
from tests.conftest import AUTH, INGEST, move_chunks

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
RECORDINGS = sorted(
    path.name.removesuffix(".jsonl.gz") for path in (HERE / "sessions").glob("*.gz")
)


def recorded_batches(name: str) -> list[dict[str, Any]]:
    """The recording's batches, its clock moved so that it ended a minute ago.

    They are sent without `sent_at`: sent one after another now, batches sent seconds apart
    would each look like a browser clock that much behind, and be moved by that much.
    """
    lines = gzip.decompress((HERE / "sessions" / f"{name}.jsonl.gz").read_bytes()).splitlines()
    batches = [json.loads(line)["batch"] for line in lines]
    events = [event for batch in batches for event in batch["events"]]
    shift = now_ms() - 60_000 - max(event["timestamp"] for event in events)
    for event in events:
        event["timestamp"] += shift
    return batches


def ticket_text(report: Any) -> str:
    """What a ticket says of the session, without the parts that name the day it was run: the
    environment, the steps, the errors, the failed requests and the struggles."""
    text = render_text(report)
    start = text.index("Environment:")
    return text[start:].strip() + "\n"


def check_golden(path: Path, actual: str) -> None:
    if os.environ.get("REPLAYDESK_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual)
    assert actual == path.read_text(), (
        f"{path.name} changed; REPLAYDESK_UPDATE_GOLDEN=1 rewrites it"
    )


@pytest.mark.parametrize("name", RECORDINGS)
async def test_a_recorded_session_reads_as_pinned(name: str, client: Any) -> None:
    session_id = ""
    for batch in recorded_batches(name):
        session_id = batch["session_id"]
        response = await client.post(
            "/api/v1/ingest", content=msgspec.json.encode(batch), headers=INGEST
        )
        assert response.status_code == 202, response.text
    await move_chunks(client)
    answer = await client.get(f"/api/v1/sessions/{session_id}/report", headers=AUTH)
    evidence = msgspec.convert(answer.json(), SessionEvidence, strict=False)
    tokens = ViewerTokens("golden-secret-key-0123456789abcdef", "https://replay.example")
    report = build_replay_report(evidence, tokens.mint(session_id, 3600))
    text = ticket_text(report)
    check_golden(GOLDEN / f"{name}.txt", text)
    # Jira's comment has the same environment and steps, and the gap in the same place.
    comment = plain_text(report_comment(report))
    assert text.splitlines()[0] in comment
    position = 0
    for line in text.split("STEPS TO REPRODUCE")[1].split("CONSOLE ERRORS")[0].splitlines():
        if line:
            # "3. Clicked 'Pay' (0:04)" is a list item "Clicked 'Pay' (0:04)" in ADF.
            said = line.split(". ", 1)[1] if line[0].isdigit() else line
            position = comment.index(said, position)
