"""Every hookspec is documented in code and in the guide, and some test exercises it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.plugin_host import hookspecs

ROOT = Path(__file__).resolve().parents[3]
GUIDE = (ROOT / "docs" / "plugins.md").read_text()


def specs() -> list[Callable[..., Any]]:
    return [
        function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("replaydesk_")
    ]


def test_there_are_hooks_for_the_whole_contract() -> None:
    assert {spec.__name__ for spec in specs()} >= {
        "replaydesk_plugin_settings",
        "replaydesk_ticket_provider",
        "replaydesk_attach_report",
        "replaydesk_find_attachment",
        "replaydesk_parse_webhook",
        "replaydesk_session_ended",
    }


@pytest.mark.parametrize("spec", specs(), ids=lambda spec: spec.__name__)
def test_each_hookspec_has_a_docstring_with_every_argument(spec: Callable[..., Any]) -> None:
    doc = inspect.getdoc(spec) or ""
    assert doc, f"{spec.__name__} has no docstring"
    for argument in inspect.signature(spec).parameters:
        assert f":param {argument}:" in doc, f"{spec.__name__}: no :param {argument}:"
    returns = spec.__annotations__.get("return")
    if returns not in (None, "None"):
        assert ":return:" in doc, f"{spec.__name__}: say what its return value means"


@pytest.mark.parametrize("spec", specs(), ids=lambda spec: spec.__name__)
def test_each_hookspec_is_in_the_guide_with_its_exact_signature(spec: Callable[..., Any]) -> None:
    parameters = ", ".join(
        f"{name}: {annotation}"
        for name, annotation in spec.__annotations__.items()
        if name != "return"
    )
    signature = f"def {spec.__name__}({parameters}) -> {spec.__annotations__['return']}"
    assert f"### `{spec.__name__}`" in GUIDE, f"docs/plugins.md has no section {spec.__name__}"
    assert signature in GUIDE, f"docs/plugins.md lacks the signature: {signature}"


@pytest.mark.parametrize("spec", specs(), ids=lambda spec: spec.__name__)
def test_each_hookspec_is_exercised_by_a_test(spec: Callable[..., Any]) -> None:
    this = Path(__file__).resolve()
    tests = [
        path
        for folder in (ROOT / "tests", ROOT / "examples")
        for path in folder.rglob("test_*.py")
        if path.resolve() != this
    ]
    users = [path for path in tests if spec.__name__ in path.read_text()]
    assert users, f"no test calls or implements {spec.__name__}"
