"""Builds the plugin manager: hookspecs, the `replaydesk` entry points, allow-list and disables."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Iterable

import msgspec
import pluggy

from service.plugin_host import hookspecs
from service.settings import Settings

__all__ = [
    "ENTRY_POINT_GROUP",
    "LoadedPlugin",
    "ReplayDeskPluginManager",
    "build_plugin_manager",
]

ENTRY_POINT_GROUP = "replaydesk"

log = logging.getLogger(__name__)


class LoadedPlugin(msgspec.Struct, frozen=True, kw_only=True):
    """One entry point of the `replaydesk` group and what became of it."""

    name: str
    """The entry-point name: the plugin's name everywhere (settings prefix, allow-list)."""
    target: str
    """The entry point's `module:attribute`."""
    distribution: str | None
    version: str | None
    state: str
    """`loaded`, `disabled` (by settings) or `failed`."""
    error: str | None = None


class ReplayDeskPluginManager(pluggy.PluginManager):
    """A pluggy manager that also remembers which entry points loaded, and which failed."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.loaded: dict[str, LoadedPlugin] = {}

    def failures(self) -> dict[str, str]:
        """Plugins that failed to load, with the reason."""
        return {
            name: plugin.error or ""
            for name, plugin in self.loaded.items()
            if plugin.state == "failed"
        }


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    seen: set[str] = set()
    found: list[importlib.metadata.EntryPoint] = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        # One distribution visible twice on sys.path (an editable install) lists it twice.
        if entry_point.name not in seen:
            seen.add(entry_point.name)
            found.append(entry_point)
    return sorted(found, key=lambda ep: ep.name)


def _unpending(manager: ReplayDeskPluginManager, name: str) -> None:
    """Fail when a `replaydesk_*` function of this plugin matches no hookspec (a typo)."""
    plugin = manager.get_plugin(name)
    for caller in manager.get_hookcallers(plugin) or []:
        if not caller.has_spec():
            raise pluggy.PluginValidationError(
                plugin, f"{caller.name} is not a ReplayDesk hook (see docs/plugins.md)"
            )


def _load(
    manager: ReplayDeskPluginManager, entry_point: importlib.metadata.EntryPoint
) -> LoadedPlugin:
    dist = entry_point.dist
    info = LoadedPlugin(
        name=entry_point.name,
        target=entry_point.value,
        distribution=dist.metadata["Name"] if dist else None,
        version=dist.version if dist else None,
        state="loaded",
    )
    try:
        manager.register(entry_point.load(), name=entry_point.name)
        _unpending(manager, entry_point.name)
    except Exception as exc:
        if manager.has_plugin(entry_point.name):
            manager.unregister(name=entry_point.name)
        reason = f"{type(exc).__name__}: {exc}".strip()
        log.error(
            "plugin %r (%s) failed to load and is skipped: %s", info.name, info.target, reason
        )
        return msgspec.structs.replace(info, state="failed", error=reason)
    return info


def build_plugin_manager(
    settings: Settings, extra_plugins: Iterable[tuple[str, object]] = ()
) -> ReplayDeskPluginManager:
    """A manager with the hookspecs and every allowed plugin of the `replaydesk` entry points.

    `REPLAYDESK_PLUGINS` (allow-list) and `REPLAYDESK_DISABLED_PLUGINS` choose which load. A
    plugin that fails to import or register is logged and skipped, naming it: the service
    starts without it. `extra_plugins` are (name, plugin) pairs registered as well (tests,
    benchmarks); they obey the same switches.
    """
    manager = ReplayDeskPluginManager()
    allowed = None if settings.plugins is None else set(settings.plugins)
    disabled = set(settings.disabled_plugins)

    def wanted(name: str) -> bool:
        return name not in disabled and (allowed is None or name in allowed)

    for entry_point in _entry_points():
        if not wanted(entry_point.name):
            manager.loaded[entry_point.name] = LoadedPlugin(
                name=entry_point.name,
                target=entry_point.value,
                distribution=entry_point.dist.metadata["Name"] if entry_point.dist else None,
                version=entry_point.dist.version if entry_point.dist else None,
                state="disabled",
            )
            continue
        manager.loaded[entry_point.name] = _load(manager, entry_point)
    for name, plugin in extra_plugins:
        if wanted(name):
            manager.register(plugin, name=name)
            _unpending(manager, name)
            manager.loaded[name] = LoadedPlugin(
                name=name, target=repr(plugin), distribution=None, version=None, state="loaded"
            )
    return manager
