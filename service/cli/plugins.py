"""The `replaydesk plugins` command: each plugin, its version, state, hooks and settings.

A service runs with its own environment: this shell's may set none of its plugins' variables.
So the command asks the running service (`GET /api/v1/plugins`) when one serves this data dir
or `REPLAYDESK_URL` names one, and says whose view it prints.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import httpx
import msgspec

from service.cli.service_api import running_service, service_client
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.plugin_host.routes import PluginView, plugin_view
from service.settings import PREFIX, Settings

__all__ = ["format_plugins", "plugins", "plugins_command"]


def _setting_line(plugin: PluginView, index: int) -> str:
    spec = plugin.settings[index]
    notes = ["required" if spec.required else "optional"]
    if spec.secret:
        notes.append("secret")
    if spec.set:
        notes.append("set")
    elif spec.default is not None:
        notes.append(f"default {spec.default}")
    else:
        notes.append("unset")
    return f"    {spec.variable}  ({', '.join(notes)})  {spec.description}"


def format_plugins(views: list[PluginView]) -> list[str]:
    """The listing as lines of text."""
    if not views:
        return ["no plugins installed (entry-point group `replaydesk`)"]
    lines: list[str] = []
    for plugin in views:
        version = plugin.version or "-"
        origin = f" ({plugin.distribution})" if plugin.distribution else ""
        lines.append(f"{plugin.name} {version}{origin}  {plugin.state}")
        if plugin.detail:
            lines.append(f"  {'error' if plugin.state == 'failed' else 'why'}: {plugin.detail}")
        if plugin.provider is not None:
            lines.append(f"  provider: {plugin.provider} ({plugin.provider_title})")
        if plugin.warning:
            lines.append(f"  warning: {plugin.warning}")
        if plugin.state not in ("failed", "disabled"):
            lines.append(f"  hooks: {', '.join(plugin.hooks) or '(none)'}")
        if plugin.last_error and plugin.last_error_at:
            lines.append(
                f"  last error: {plugin.last_error} at {plugin.last_error_at:%Y-%m-%d %H:%M} UTC"
            )
        if plugin.settings:
            lines.append("  settings:")
            lines += [_setting_line(plugin, i) for i in range(len(plugin.settings))]
    return lines


def _ask(url: str, settings: Settings) -> list[PluginView]:
    with service_client(url, settings) as service:
        answer = service.get("/api/v1/plugins")
    answer.raise_for_status()
    return msgspec.json.decode(answer.content, type=list[PluginView])


def plugins_command(settings: Settings, echo: Callable[[str], object] = print) -> int:
    """Print every plugin; exit status 1 when one failed to load."""
    url = running_service(settings)
    views: list[PluginView] | None = None
    if url:
        try:
            views = _ask(url, settings)
        except (httpx.HTTPError, msgspec.ValidationError) as exc:
            echo(f"(could not ask the service at {url}: {type(exc).__name__})")
        else:
            echo(f"plugins of the service at {url}:")
    if views is None:
        host = PluginHost(build_plugin_manager(settings), settings.plugin_environment)
        views = [plugin_view(status, settings.public_url) for status in host.statuses()]
        echo(
            "plugins as this shell's environment sets them up (no service asked; "
            f"set {PREFIX}URL to ask one):"
        )
    for line in format_plugins(views):
        echo(line)
    return 1 if any(view.state == "failed" for view in views) else 0


def plugins(settings: Settings, _: argparse.Namespace) -> int:
    """`replaydesk plugins`."""
    return plugins_command(settings)
