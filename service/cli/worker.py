"""`replaydesk worker`: run jobs from the configured Redis."""

from __future__ import annotations

import argparse
import sys

from service.settings import Settings

__all__ = ["worker"]


def worker(settings: Settings, args: argparse.Namespace) -> int:
    from redis import Redis

    from service.jobs.context import close_job_loop
    from service.jobs.queue import QUEUE_NAME
    from service.jobs.runtime import configure_job_runtime
    from service.jobs.worker_threads import WorkerThreads
    from service.jobs.workers import ForkingWorker, InProcessWorker
    from service.plugin_host.host import PluginHost
    from service.plugin_host.link_check import warn_of_loopback_links
    from service.plugin_host.manager import build_plugin_manager

    if not settings.redis_url:
        print(
            "replaydesk: set REPLAYDESK_REDIS_URL; without it `serve` runs jobs itself",
            file=sys.stderr,
        )
        return 2
    plugins = PluginHost(build_plugin_manager(settings), settings.plugin_environment)
    warn_of_loopback_links(settings.public_url, plugins)
    configure_job_runtime(settings, plugins)
    redis_url = settings.redis_url
    if args.threads:
        threads = WorkerThreads(args.threads, lambda: Redis.from_url(redis_url))
        threads.work(burst=args.burst, with_scheduler=True)
        return 0
    kind = InProcessWorker if args.no_fork else ForkingWorker
    # A job's description is its call, arguments (session IDs, requesters) included.
    worker = kind([QUEUE_NAME], connection=Redis.from_url(redis_url), log_job_description=False)
    try:
        worker.work(burst=args.burst, with_scheduler=True)
    finally:
        # Jobs run in this process (--no-fork) keep their connections open between jobs.
        close_job_loop()
    return 0
