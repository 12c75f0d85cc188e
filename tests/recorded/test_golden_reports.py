"""Recorded sessions, ingested again, give exactly the report text pinned in `golden/`.

The recordings are real batches from the real recorder in Chromium (`tests/recorded/record.py`);
the golden files are what a ticket shows of them. Set REPLAYDESK_UPDATE_GOLDEN=1 to write the
golden files anew after an intended change, and read the diff.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from plugins.jira.adf import plain_text, report_comment
from service.clock import now_ms
from service.jobs.attach import report_delivery
from service.jobs.context import JobContext, in_context
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.report.replay_report import ReplayReport
from service.report.text import render_text
from service.settings import Settings
from tests.conftest import INGEST, move_chunks

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
RECORDINGS = sorted(
    path.name.removesuffix(".jsonl.gz") for path in (HERE / "sessions").glob("*.gz")
)


def recorded_batches(name: str, ended_minutes_ago: int = 1) -> list[dict[str, Any]]:
    """The recording's batches, its clock moved so that it ended that many minutes ago.

    They are sent without `sent_at`: sent one after another now, batches sent seconds apart
    would each look like a browser clock that much behind, and be moved by that much.
    """
    lines = gzip.decompress((HERE / "sessions" / f"{name}.jsonl.gz").read_bytes()).splitlines()
    batches = [json.loads(line)["batch"] for line in lines]
    events = [event for batch in batches for event in batch["events"]]
    shift = now_ms() - ended_minutes_ago * 60_000 - max(event["timestamp"] for event in events)
    for event in events:
        event["timestamp"] += shift
    return batches


def ticket_text(report: Any) -> str:
    """What a ticket says of the session from its environment on, with what names the day it
    was run (dates, signed links) put as placeholders."""
    text = render_text(report)
    text = text[text.index("Environment:") :].strip() + "\n"
    text = re.sub(r"https?://\S+/replay/\S+", "<replay link>", text)
    return re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "<date>", text)


def check_golden(path: Path, actual: str) -> None:
    if os.environ.get("REPLAYDESK_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual)
    assert actual == path.read_text(), (
        f"{path.name} changed; REPLAYDESK_UPDATE_GOLDEN=1 rewrites it"
    )


async def ingest(client: Any, batches: list[dict[str, Any]]) -> None:
    for batch in batches:
        response = await client.post(
            "/api/v1/ingest", content=msgspec.json.encode(batch), headers=INGEST
        )
        assert response.status_code == 202, response.text


@pytest.mark.parametrize("name", RECORDINGS)
async def test_a_recorded_session_reads_as_pinned(
    name: str, client: Any, settings: Settings
) -> None:
    batches = recorded_batches(name)
    session_id = batches[0]["session_id"]
    # Another customer went through the same a few minutes earlier: the same errors.
    other = [
        batch | {"session_id": session_id[::-1], "user_id": "golden-other-customer"}
        for batch in recorded_batches(name, ended_minutes_ago=10)
    ]
    await ingest(client, other)
    await ingest(client, batches)
    await move_chunks(client)

    # The report as the attach job builds it for a ticket.
    async def build(context: JobContext) -> ReplayReport:
        delivery = report_delivery(context)
        return await delivery.build_report(session_id, "golden", "zendesk:4242")

    plugins = PluginHost(build_plugin_manager(settings), settings.plugin_environment)
    report = await in_context(settings, plugins, False, build)
    text = ticket_text(report)
    check_golden(GOLDEN / f"{name}.txt", text)
    # Jira's comment has the same environment and steps, and the gap in the same place.
    comment = plain_text(report_comment(report))
    assert text.splitlines()[0] in comment
    assert "hit 1 other user in the last 7 days" in comment
    position = 0
    for line in text.split("STEPS TO REPRODUCE")[1].split("CONSOLE ERRORS")[0].splitlines():
        if line:
            # "3. Clicked 'Pay' (0:04)" is a list item "Clicked 'Pay' (0:04)" in ADF.
            said = line.split(". ", 1)[1] if line[0].isdigit() else line
            position = comment.index(said, position)
