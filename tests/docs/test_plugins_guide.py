"""The plugin guide's code is the tested code, and it documents the whole public plugin API."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

import service

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
SNIPPET = re.compile(
    r"<!-- snippet: (?P<path>[^#]+)#(?P<name>[\w-]+) -->\n```\w*\n(?P<code>.*?)```", re.S
)


def region(path: Path, name: str) -> str:
    """The lines between `# [docs:NAME]` and `# [/docs:NAME]`, dedented, blank ends dropped."""
    lines = path.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"# [docs:{name}]"]
    ends = [i for i, line in enumerate(lines) if line.strip() == f"# [/docs:{name}]"]
    assert len(starts) == 1 and len(ends) == 1, f"{path}: no single [docs:{name}] region"
    return textwrap.dedent("\n".join(lines[starts[0] + 1 : ends[0]])).strip("\n") + "\n"


def snippets() -> list[tuple[str, str, str]]:
    return [(m["path"], m["name"], m["code"]) for m in SNIPPET.finditer(GUIDE.read_text())]


def test_the_guide_has_snippets() -> None:
    assert len(snippets()) >= 7


@pytest.mark.parametrize(("path", "name", "code"), snippets(), ids=lambda v: str(v)[:40])
def test_every_code_block_is_cut_from_a_tested_file(path: str, name: str, code: str) -> None:
    source = ROOT / path
    assert source.is_file(), f"the guide cuts from {path}, which does not exist"
    assert code == region(source, name), (
        f"docs/plugins.md differs from {path}#[docs:{name}]: copy the region into the guide"
    )


def test_every_name_of_the_public_plugin_api_is_documented() -> None:
    guide = GUIDE.read_text()
    missing = [name for name in service.__all__ if f"`{name}`" not in guide]
    assert not missing, f"docs/plugins.md does not mention {missing}"
    for name in service.__all__:
        assert getattr(service, name) is not None
