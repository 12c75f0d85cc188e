"""The sample notes the plugin READMEs show, rendered by the plugins from the test kit's sample
report, and the README blocks that show them.

A block follows a `<!-- sample: NAME -->` line. `python -m tests.docs.sample_notes` writes the
current renderings into the READMEs (then read the diff).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plugins.jira.adf import no_recording_comment, report_comment
from plugins.zendesk.note import no_recording_note, report_note
from service import MissingRecording
from service.plugin_testing import sample_report
from service.tickets.attachments import no_session_reason

__all__ = ["ROOT", "SAMPLES", "adf_outline", "readme_blocks", "write_samples"]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_BLOCK = re.compile(r"(<!-- sample: (?P<name>[\w-]+) -->\n```\w*\n)(?P<text>.*?)(```)", re.S)


def _notice() -> MissingRecording:
    return MissingRecording(
        user_id="u42",
        reason=no_session_reason("u42"),
        ticket_created_at=None,
        marker="replaydesk-report-sample",
    )


def _inline(nodes: list[Any] | None) -> str:
    return "".join(node.get("text", "") for node in nodes or [])


def _blocks(blocks: list[Any]) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        lines += _block(block)
    return lines


def _item_lines(item: Any, prefix: str) -> list[str]:
    inner = _blocks(item.get("content", []))
    pad = " " * len(prefix)
    return [(prefix if i == 0 else pad) + line for i, line in enumerate(inner)]


def _table(block: Any) -> list[str]:
    rows = [
        [_inline(cell["content"][0].get("content")) for cell in row["content"]]
        for row in block["content"]
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]


def _block(block: Any) -> list[str]:
    kind = block["type"]
    if kind == "heading":
        return ["", _inline(block.get("content"))]
    if kind == "paragraph":
        return [_inline(block.get("content"))]
    if kind == "codeBlock":
        return ["    " + line for line in _inline(block.get("content")).splitlines()]
    if kind == "orderedList":
        start = block.get("attrs", {}).get("order", 1)
        items = block["content"]
        return [
            line
            for number, item in enumerate(items, start)
            for line in _item_lines(item, f"  {number}. ")
        ]
    if kind == "bulletList":
        return [line for item in block["content"] for line in _item_lines(item, "  • ")]
    if kind == "table":
        return ["  " + line for line in _table(block)]
    raise AssertionError(f"no outline for ADF {kind} nodes: teach adf_outline")


def adf_outline(document: Any) -> str:
    """An ADF document as text, the way Jira lays it out: headings after a blank line,
    numbered and bulleted lists indented, code indented by four, tables with pipes."""
    lines: list[str] = []
    for block in document["content"]:
        lines += _block(block)
        if block["type"] in {"orderedList", "bulletList", "table", "codeBlock"}:
            lines.append("")  # what follows a list, a table or code starts a new paragraph
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip("\n") + "\n"


SAMPLES: dict[str, Callable[[], str]] = {
    "zendesk-report-note": lambda: report_note(sample_report()).strip("\n") + "\n",
    "zendesk-no-recording-note": lambda: no_recording_note(_notice()).strip("\n") + "\n",
    "jira-report-comment": lambda: adf_outline(report_comment(sample_report())),
    "jira-no-recording-comment": lambda: adf_outline(no_recording_comment(_notice())),
}
"""Each sample by name, rendered now."""

READMES = [ROOT / "plugins" / "zendesk" / "README.md", ROOT / "plugins" / "jira" / "README.md"]


def readme_blocks() -> list[tuple[Path, str, str]]:
    """Every sample block of the READMEs: (file, sample name, the block's text)."""
    return [
        (path, match["name"], match["text"])
        for path in READMES
        for match in SAMPLE_BLOCK.finditer(path.read_text())
    ]


def write_samples() -> None:
    """Put the current renderings into the READMEs' sample blocks."""
    for path in READMES:
        text = path.read_text()
        path.write_text(SAMPLE_BLOCK.sub(lambda m: m[1] + SAMPLES[m["name"]]() + m[4], text))


if __name__ == "__main__":
    write_samples()
