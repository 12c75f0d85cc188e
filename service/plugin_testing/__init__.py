"""The plugin test kit: a sample report, a fake tracker to subclass, and the real attach
pipeline in-process (`PluginHarness`). See "Testing your plugin" in docs/plugins.md."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from service.plugin_testing.fake_tracker import FakeTracker, Fault, RecordedRequest, Reply, route
from service.plugin_testing.sample import sample_report

if TYPE_CHECKING:
    from service.plugin_testing.harness import JobOutcome, PluginHarness

__all__ = [
    "FakeTracker",
    "Fault",
    "JobOutcome",
    "PluginHarness",
    "RecordedRequest",
    "Reply",
    "route",
    "sample_report",
]

# The harness imports the whole service (app, queue, storage): only tests that use it pay.
_LAZY = {
    "PluginHarness": "service.plugin_testing.harness",
    "JobOutcome": "service.plugin_testing.harness",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'service.plugin_testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
