"""The `replaydesk plugins` command: each plugin, its version, state, hooks and settings."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from service.plugin_host.host import PluginHost, PluginStatus
from service.plugin_host.manager import build_plugin_manager
from service.plugin_host.types import plugin_env_prefix
from service.settings import Settings

__all__ = ["format_plugins", "plugins", "plugins_command"]


def _setting_line(plugin: PluginStatus, index: int) -> str:
    spec = plugin.settings[index]
    notes = ["required" if spec.required else "optional"]
    if spec.secret:
        notes.append("secret")
    if spec.name in plugin.settings_set:
        notes.append("set")
    elif spec.default is not None and not spec.secret:
        notes.append(f"default {spec.default}")
    else:
        notes.append("unset")
    variable = plugin_env_prefix(plugin.name) + spec.name.upper()
    return f"    {variable}  ({', '.join(notes)})  {spec.description}"


def format_plugins(statuses: list[PluginStatus]) -> list[str]:
    """The listing as lines of text."""
    if not statuses:
        return ["no plugins installed (entry-point group `replaydesk`)"]
    lines: list[str] = []
    for plugin in statuses:
        version = plugin.version or "-"
        origin = f" ({plugin.distribution})" if plugin.distribution else ""
        lines.append(f"{plugin.name} {version}{origin}  {plugin.state}")
        if plugin.detail:
            lines.append(f"  {'error' if plugin.state == 'failed' else 'why'}: {plugin.detail}")
        if plugin.provider is not None:
            title = plugin.provider.title or plugin.provider.name
            lines.append(f"  provider: {plugin.provider.name} ({title})")
        if plugin.state not in ("failed", "disabled"):
            lines.append(f"  hooks: {', '.join(plugin.hooks) or '(none)'}")
        if plugin.settings:
            lines.append("  settings:")
            lines += [_setting_line(plugin, i) for i in range(len(plugin.settings))]
    return lines


def plugins_command(settings: Settings, echo: Callable[[str], object] = print) -> int:
    """Print every plugin; exit status 1 when one failed to load."""
    host = PluginHost(build_plugin_manager(settings), settings.plugin_environment)
    statuses = host.statuses()
    for line in format_plugins(statuses):
        echo(line)
    return 1 if any(status.state == "failed" for status in statuses) else 0


def plugins(settings: Settings, _: argparse.Namespace) -> int:
    """`replaydesk plugins`."""
    return plugins_command(settings)
