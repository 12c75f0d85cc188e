"""Startup script of one benchmarked server process: the bare baseline, or ReplayDesk."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from litestar import Litestar

from service.settings import default_processing_workers

if TYPE_CHECKING:
    from service.settings import Settings

__all__ = ["BENCH_API_KEY", "BENCH_INGEST_KEY", "SERVER_KINDS", "bench_settings", "main"]

SERVER_KINDS = ("baseline", "replaydesk")
BENCH_INGEST_KEY = "bench-ingest-key"
BENCH_API_KEY = "bench-api-key-0123456789"


def bench_settings(
    data_dir: Path, database_url: str, redis_url: str | None, **more: Any
) -> Settings:
    """Settings of a benchmarked ReplayDesk: the bench's keys, and `more` fields."""
    from service.settings import Settings

    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        secret_key="bench-secret-key",
        api_keys=(BENCH_API_KEY,),
        ingest_keys=(BENCH_INGEST_KEY,),
        **more,
    )


def _replaydesk_app(args: argparse.Namespace) -> Litestar:
    from service.web.app import create_app

    more = {"ingest_origins": tuple(args.ingest_origins)} if args.ingest_origins else {}
    return create_app(
        bench_settings(
            args.data_dir,
            args.database_url,
            args.redis_url,
            processing_workers=(
                default_processing_workers(args.database_url)
                if args.processing_workers is None
                else args.processing_workers
            ),
            **more,
        )
    )


def _app(args: argparse.Namespace) -> Litestar:
    if args.kind == "baseline":
        from bench.baseline_app import create_baseline_app

        return create_baseline_app(args.data_dir / "bodies.bin")
    return _replaydesk_app(args)


def main() -> None:
    """Serve one app on 127.0.0.1 until SIGINT/SIGTERM (what the benchmark sends to stop it)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=SERVER_KINDS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument(
        "--processing-workers",
        type=int,
        default=None,
        help="as REPLAYDESK_PROCESSING_WORKERS (default, as `serve`: sized from the cores)",
    )
    parser.add_argument("--profile", type=Path, help="write a cProfile of the serving here")
    parser.add_argument(
        "--ingest-origin",
        dest="ingest_origins",
        action="append",
        help="a site origin the ingest key allows (repeatable; default any)",
    )
    args = parser.parse_args()
    app = _app(args)
    # Access logs off in every server alike: the figures are about the apps, not log output.
    # The HTTP parser `replaydesk serve` uses, for every server alike.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        http="httptools",
    )
    server = uvicorn.Server(config)
    profiler = cProfile.Profile() if args.profile is not None else None
    if profiler is not None:
        profiler.enable()
    # After a graceful shutdown uvicorn re-raises the SIGINT that asked for it.
    with contextlib.suppress(KeyboardInterrupt):
        try:
            server.run()
        finally:
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
