"""One process of the ticket benchmarks: the service (`serve`, with `--embedded` its own
private Redis and worker thread) or an RQ worker (`work`, forking, `--no-fork` or
`--threads N`)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from bench.ingest_server import bench_settings
from bench.server_process import ROOT
from service.settings import Settings

__all__ = [
    "BENCH_SECRET",
    "BENCH_VENDOR_TOKEN",
    "TASKBOARD",
    "main",
    "taskboard_module",
]

BENCH_SECRET = "bench-webhook-secret"
BENCH_VENDOR_TOKEN = "bench-vendor-token"
TASKBOARD = "taskboard"


def taskboard_module(name: str) -> ModuleType:
    """A module of the example plugin (`replaydesk_taskboard...`): installed, or from its folder."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        sys.path.insert(0, str(ROOT / "examples" / "replaydesk-taskboard"))
        return importlib.import_module(name)


def _settings(args: argparse.Namespace) -> Settings:
    return bench_settings(
        args.data_dir,
        args.database_url,
        None if args.embedded else args.redis_url,
        plugins=(TASKBOARD,),
        plugin_environment={
            "TASKBOARD_URL": args.vendor_url,
            "TASKBOARD_TOKEN": BENCH_VENDOR_TOKEN,
            "TASKBOARD_WEBHOOK_SECRET": BENCH_SECRET,
        },
    )


def _plugins(settings: Settings) -> object:
    from service.plugin_host.host import PluginHost
    from service.plugin_host.manager import build_plugin_manager

    # The example plugin of docs/plugins.md: loaded from its entry point where it is installed
    # (the test suite installs it), else from its folder.
    installed = any(e.name == TASKBOARD for e in entry_points(group="replaydesk"))
    extra = [] if installed else [(TASKBOARD, taskboard_module("replaydesk_taskboard"))]
    manager = build_plugin_manager(settings, extra_plugins=extra)
    return PluginHost(manager, settings.plugin_environment)


def _serve(settings: Settings, port: int) -> None:
    import uvicorn

    from service.plugin_host.host import PluginHost
    from service.web.app import create_app

    host = _plugins(settings)
    assert isinstance(host, PluginHost)
    app = create_app(settings, host.manager)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()


def _work(settings: Settings, burst: bool, fork: bool, threads: int) -> None:
    from redis import Redis

    from service.jobs.context import close_job_loop
    from service.jobs.queue import QUEUE_NAME
    from service.jobs.runtime import configure_job_runtime
    from service.jobs.worker_threads import WorkerThreads
    from service.jobs.workers import ForkingWorker, InProcessWorker
    from service.plugin_host.host import PluginHost

    host = _plugins(settings)
    assert isinstance(host, PluginHost)
    configure_job_runtime(settings, host)
    redis_url = settings.redis_url or ""
    # As `replaydesk worker [--no-fork | --threads N]` runs it.
    if threads:
        with contextlib.suppress(KeyboardInterrupt):
            WorkerThreads(threads, lambda: Redis.from_url(redis_url)).work(
                burst=burst, with_scheduler=True, logging_level="WARNING"
            )
        return
    kind = ForkingWorker if fork else InProcessWorker
    worker = kind([QUEUE_NAME], connection=Redis.from_url(redis_url))
    with contextlib.suppress(KeyboardInterrupt):
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    close_job_loop()


def main() -> None:
    """`serve --port N [--embedded] ...` or `work [--burst] [--no-fork | --threads N] ...`,
    until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", choices=["serve", "work"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--no-fork", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--embedded", action="store_true", help="serve without --redis-url")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--vendor-url", required=True)
    args = parser.parse_args()
    settings = _settings(args)
    if args.role == "serve":
        _serve(settings, args.port)
    else:
        _work(settings, args.burst, fork=not args.no_fork, threads=args.threads)


if __name__ == "__main__":
    main()
