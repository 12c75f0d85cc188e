"""The sample notes in the plugin READMEs are what the plugins write for the sample report."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.sample_notes import ROOT, SAMPLES, readme_blocks


def test_every_sample_is_shown_once() -> None:
    shown = sorted(name for _, name, _ in readme_blocks())
    assert shown == sorted(SAMPLES)


@pytest.mark.parametrize(
    ("path", "name", "text"), [pytest.param(*block, id=block[1]) for block in readme_blocks()]
)
def test_a_readme_sample_is_the_plugins_own_rendering(path: Path, name: str, text: str) -> None:
    assert text == SAMPLES[name](), (
        f"{path.relative_to(ROOT)} shows another {name} than the plugin writes: "
        "run `python -m tests.docs.sample_notes` and check the diff"
    )
