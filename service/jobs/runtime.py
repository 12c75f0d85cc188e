"""The settings and plugins a worker process runs its jobs with, set once when the worker starts."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from service.settings import Settings

if TYPE_CHECKING:
    from service.plugin_host.host import PluginHost

__all__ = ["configure_job_runtime", "job_plugins", "job_settings"]

_settings: Settings | None = None
_plugins: PluginHost | None = None
# Imported once by the worker, before any job: RQ's Worker forks a work horse per job, and a
# module the parent never imported is imported anew in every child (a few hundred ms each).
JOB_MODULES = ("service.jobs.attach", "service.jobs.retention", "service.jobs.session_end")


def configure_job_runtime(settings: Settings, plugins: PluginHost | None = None) -> None:
    """Called by the worker entry points before any job runs.

    Without `plugins`, the first job that needs them loads them from the entry points.
    """
    global _settings, _plugins
    _settings = settings
    _plugins = plugins
    for module in JOB_MODULES:
        importlib.import_module(module)
    # Likewise the database driver, which SQLAlchemy imports when an engine is first created.
    from service.storage.database import create_engine

    create_engine(settings.database_url).sync_engine.dispose()


def job_settings() -> Settings:
    """The settings of the worker running the current job."""
    if _settings is None:
        raise RuntimeError("jobs run only inside a ReplayDesk worker (replaydesk worker)")
    return _settings


def job_plugins() -> PluginHost:
    """The plugins of the worker running the current job."""
    global _plugins
    if _plugins is None:
        from service.plugin_host.host import PluginHost
        from service.plugin_host.manager import build_plugin_manager

        settings = job_settings()
        _plugins = PluginHost(build_plugin_manager(settings), settings.plugin_environment)
    return _plugins
