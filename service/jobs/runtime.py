"""The settings a worker process runs its jobs with, set once when the worker starts."""

from __future__ import annotations

from service.settings import Settings

__all__ = ["configure_job_runtime", "job_settings"]

_settings: Settings | None = None


def configure_job_runtime(settings: Settings) -> None:
    """Called by the worker entry points before any job runs."""
    global _settings
    _settings = settings


def job_settings() -> Settings:
    """The settings of the worker running the current job."""
    if _settings is None:
        raise RuntimeError("jobs run only inside a ReplayDesk worker (replaydesk worker)")
    return _settings
