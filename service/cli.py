"""The `replaydesk` command: serve, worker, db upgrade, last, link, keys, plugins, jobs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from service.settings import PREFIX, Settings, load_settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `replaydesk` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Alembic announces every internal plugin it loads; only its migration steps matter here.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    settings = load_settings()
    try:
        result: int = args.run(settings, args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader has gone (`replaydesk last u42 | head -3`): stop quietly, as other tools do.
        # What is still buffered goes nowhere, so the exit does not fail on it again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="replaydesk", description="Session replay service.")
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="bind address (default: REPLAYDESK_HOST)")
    serve.add_argument("--port", type=int, help="port (default: REPLAYDESK_PORT)")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="run jobs from Redis (REPLAYDESK_REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    worker.set_defaults(run=_worker)

    db = commands.add_parser("db", help="database schema").add_subparsers(title="db commands")
    db.add_parser("upgrade", help="apply migrations").set_defaults(run=_db_upgrade)

    last = commands.add_parser("last", help="a user's newest session")
    last.add_argument("user_id")
    last.add_argument("--json", action="store_true", help="print the summary as JSON")
    last.set_defaults(run=_last)

    link = commands.add_parser("link", help="mint a viewer link to a session")
    link.add_argument("session_id")
    link.add_argument("--ttl", type=int, help="seconds the link works (default: setting)")
    link.add_argument("--first-error", action="store_true", help="open at the first error")
    link.set_defaults(run=_link)

    keys = commands.add_parser("keys", help="list, create and revoke keys")
    keys.set_defaults(run=_keys_list)
    key_commands = keys.add_subparsers(title="keys commands")
    key_commands.add_parser("list", help="list keys").set_defaults(run=_keys_list)
    create = key_commands.add_parser("create", help="create a key")
    create.add_argument("kind", choices=["api", "ingest"])
    create.add_argument("--name", default="", help="what the key is for")
    create.add_argument(
        "--origin",
        action="append",
        default=[],
        help="site origin allowed to use an ingest key (repeat; default: any)",
    )
    create.set_defaults(run=_keys_create)
    revoke = key_commands.add_parser("revoke", help="revoke an API key id or ingest key")
    revoke.add_argument("key")
    revoke.set_defaults(run=_keys_revoke)

    issue = commands.add_parser("issue", help="open an issue (a bug) from a session")
    issue.add_argument("session_id")
    issue.add_argument("--provider", default="jira", help="the tracker (default: jira)")
    issue.add_argument("--summary", help="the title (default: written from the first error)")
    issue.add_argument("--project", help="project key (default: the plugin's setting)")
    issue.add_argument("--type", dest="issue_type", help="issue type (default: the plugin's)")
    issue.set_defaults(run=_issue)

    plugins = commands.add_parser("plugins", help="installed plugins, their hooks and settings")
    plugins.set_defaults(run=_plugins)

    jobs = commands.add_parser("jobs", help="failed background jobs; requeue them")
    jobs.set_defaults(run=_jobs)
    job_commands = jobs.add_subparsers(title="jobs commands")
    job_commands.add_parser("list", help="failed jobs and their errors").set_defaults(run=_jobs)
    requeue = job_commands.add_parser("requeue", help="run failed jobs again")
    requeue.add_argument("job_ids", nargs="*", metavar="JOB_ID")
    requeue.add_argument("--all", action="store_true", help="every failed job")
    requeue.set_defaults(run=_jobs_requeue)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from service.data_dir_lock import DataDirBusy, acquire_data_dir_lock

    settings = _with_serve_flags(settings, args)
    lock = None
    # Embedded mode: this process starts (or joins) the data dir's private Redis and stops it
    # on the way out, so a second serve there would lose its queue when the first one stops.
    # With REPLAYDESK_REDIS_URL nothing in the data dir is private to one process, and several
    # serves on one machine are a legitimate way to scale: no lock then.
    if not settings.redis_url:
        try:
            lock = acquire_data_dir_lock(settings.data_dir, url=settings.public_url)
        except DataDirBusy as exc:
            print(f"replaydesk: {exc}", file=sys.stderr)
            return 1
    try:
        import uvicorn

        from service.app import create_app
        from service.storage.database import upgrade_database

        if not _schema_ready(settings, upgrade_database):
            return 1
        _announce(settings)
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level="info",
            http="httptools",
            # Our own access log names routes, not paths (paths hold user IDs).
            access_log=False,
            proxy_headers=True,
        )
    finally:
        # Held until the service (and the private Redis it started) has stopped.
        if lock is not None:
            lock.release()
    return 0


def _with_serve_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    """The settings with `serve --host/--port` read as REPLAYDESK_HOST/_PORT would be, so the
    public URL derived from them (unless the environment sets it) follows them too."""
    flags = {f"{PREFIX}HOST": args.host, f"{PREFIX}PORT": args.port and str(args.port)}
    overrides = {name: value for name, value in flags.items() if value}
    return load_settings({**os.environ, **overrides}) if overrides else settings


def _schema_ready(settings: Settings, upgrade: Any) -> bool:
    from service.storage.database import (
        create_engine,
        current_revision,
        head_revision,
        is_embedded,
    )

    if is_embedded(settings.database_url):
        upgrade(settings.database_url)
        return True

    async def revision() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    current = asyncio.run(revision())
    if current != head_revision():
        print(
            f"replaydesk: the database is at migration {current or 'none'}, this version needs "
            f"{head_revision()}: run `replaydesk db upgrade` first",
            file=sys.stderr,
        )
        return False
    return True


def _announce(settings: Settings) -> None:
    from service.generated_secrets import take_keys_to_announce

    generated = take_keys_to_announce(settings.data_dir)
    # Keys set in the environment are the admin's own; only generated ones are shown.
    if generated is None or generated.api_key not in settings.api_keys:
        return
    lines = [
        "",
        f"ReplayDesk first start: keys generated and kept in {settings.data_dir / 'secrets.json'}",
        f"  API key     (secret, for the API and CLI): {generated.api_key}",
    ]
    if generated.ingest_key in settings.ingest_keys:
        lines.append(f"  ingest key  (public, for the recorder):    {generated.ingest_key}")
    print("\n".join([*lines, ""]), flush=True)


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from redis import Redis
    from rq import Worker

    from service.jobs.queue import QUEUE_NAME
    from service.jobs.runtime import configure_job_runtime
    from service.plugin_host import PluginHost
    from service.plugin_manager import build_plugin_manager

    if not settings.redis_url:
        print(
            "replaydesk: set REPLAYDESK_REDIS_URL; without it `serve` runs jobs itself",
            file=sys.stderr,
        )
        return 2
    configure_job_runtime(
        settings, PluginHost(build_plugin_manager(settings), settings.plugin_environment)
    )
    worker = Worker([QUEUE_NAME], connection=Redis.from_url(settings.redis_url))
    worker.work(burst=args.burst, with_scheduler=True)
    return 0


def _db_upgrade(settings: Settings, _: argparse.Namespace) -> int:
    from service.storage.database import upgrade_database

    upgrade_database(settings.database_url)
    print("database is up to date")
    return 0


def _with_services(settings: Settings, action: Any) -> Any:
    """Run `action(services)` against the configured database and blob store."""
    from service.access_keys import AccessKeys
    from service.storage.blobs import open_blob_store
    from service.storage.database import create_engine
    from service.storage.key_store import KeyStore
    from service.storage.session_store import SessionStore

    async def run() -> Any:
        engine = create_engine(settings.database_url)
        try:
            blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.blob_options)
            keys = AccessKeys(
                KeyStore(engine), settings.api_keys, settings.ingest_keys, settings.ingest_origins
            )
            return await action(SessionStore(engine), blobs, keys)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _last(settings: Settings, args: argparse.Namespace) -> int:
    from service.errors import NotFound
    from service.session_views import SessionViews

    async def find(store: Any, blobs: Any, _: Any) -> Any:
        views = SessionViews(store, blobs, settings.session_idle_timeout_seconds)
        return await views.latest_for_user(args.user_id)

    try:
        summary = _with_services(settings, find)
    except NotFound as exc:
        print(f"replaydesk: {exc.detail}", file=sys.stderr)
        return 1
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(summary)).decode())
        return 0
    counts = summary.counts
    print(f"session   {summary.session_id}")
    print(f"user      {summary.user_id}")
    print(f"started   {summary.started_at:%Y-%m-%d %H:%M:%S} UTC")
    print(f"duration  {summary.duration_ms / 1000:.1f} s{'  (active)' if summary.active else ''}")
    print(
        f"counts    {counts.events} events, {counts.clicks} clicks, {counts.errors} errors, "
        f"{counts.failed_requests} failed requests, {counts.rage_clicks} rage clicks"
    )
    if summary.first_error_at:
        print(f"1st error {summary.first_error_offset_ms / 1000:.1f} s in")
    for url in summary.pages:
        print(f"page      {url}")
    link = _viewer_tokens(settings).mint(
        summary.session_id,
        settings.default_link_ttl_seconds,
        open_at="first-error" if summary.first_error_at else None,
    )
    print(f"replay    {link.url}")
    print(f"          (works until {link.expires_at:%Y-%m-%d %H:%M} UTC)")
    return 0


def _viewer_tokens(settings: Settings) -> Any:
    from service.viewer_tokens import ViewerTokens

    return ViewerTokens(settings.secret_key, _link_base(settings), settings.previous_secret_keys)


def _link_base(settings: Settings) -> str:
    """Where printed links point: the public URL this environment sets, or else the one of
    the serve running on the data dir (started, say, with another port in another shell)."""
    from service.data_dir_lock import serving_url

    if any(os.environ.get(f"{PREFIX}{name}") for name in ("PUBLIC_URL", "HOST", "PORT")):
        return settings.public_url
    return serving_url(settings.data_dir) or settings.public_url


def _link(settings: Settings, args: argparse.Namespace) -> int:
    async def exists(store: Any, _blobs: Any, _keys: Any) -> bool:
        return await store.get(args.session_id) is not None

    if not _with_services(settings, exists):
        print(f"replaydesk: no session {args.session_id!r}", file=sys.stderr)
        return 1
    link = _viewer_tokens(settings).mint(
        args.session_id,
        args.ttl or settings.default_link_ttl_seconds,
        open_at="first-error" if args.first_error else None,
    )
    print(link.url)
    print(f"works until {link.expires_at:%Y-%m-%d %H:%M} UTC (jti {link.jti})", file=sys.stderr)
    return 0


def _keys_list(settings: Settings, _: argparse.Namespace) -> int:
    async def listing(_store: Any, _blobs: Any, keys: Any) -> Any:
        return await keys.list_keys()

    api_keys, ingest_keys = _with_services(settings, listing)
    print(f"configured: {len(settings.api_keys)} API key(s), ingest keys:")
    for key in settings.ingest_keys:
        print(f"  {key}  origins: {', '.join(settings.ingest_origins)}")
    print("API keys (created with `keys create api`):")
    for record in api_keys:
        print(f"  {record.id}  {record.name or '-'}  {'revoked' if record.revoked_at else 'live'}")
    print("ingest keys (created with `keys create ingest`):")
    for ingest_record in ingest_keys:
        state = "revoked" if ingest_record.revoked_at else "live"
        origins = ", ".join(ingest_record.allowed_origins)
        print(f"  {ingest_record.key}  {ingest_record.name or '-'}  {state}  origins: {origins}")
    return 0


def _keys_create(settings: Settings, args: argparse.Namespace) -> int:
    async def create(_store: Any, _blobs: Any, keys: Any) -> Any:
        if args.kind == "api":
            return await keys.create_api_key(args.name)
        return await keys.create_ingest_key(args.name, args.origin or ["*"])

    created = _with_services(settings, create)
    if args.kind == "api":
        print(f"API key {created.key_id}: {created.key}")
        print("Store it now: only its hash is kept.")
    else:
        print(f"ingest key: {created}")
    return 0


def _keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def revoke(_store: Any, _blobs: Any, keys: Any) -> Any:
        return await keys.revoke(args.key)

    if _with_services(settings, revoke):
        print("revoked")
        return 0
    print("replaydesk: no live key matches", file=sys.stderr)
    return 1


def _issue(settings: Settings, args: argparse.Namespace) -> int:
    from service.issue_command import issue_command
    from service.plugin_types import IssueRequest

    request = IssueRequest(summary=args.summary, project=args.project, issue_type=args.issue_type)
    return issue_command(settings, args.provider, args.session_id, request)


def _plugins(settings: Settings, _: argparse.Namespace) -> int:
    from service.plugins_command import plugins_command

    return plugins_command(settings)


def _jobs(settings: Settings, _: argparse.Namespace) -> int:
    from service.jobs_command import jobs_command

    return _on_the_queue(lambda: jobs_command(settings))


def _jobs_requeue(settings: Settings, args: argparse.Namespace) -> int:
    from service.jobs_command import requeue_command

    if not args.job_ids and not args.all:
        print("replaydesk: name the jobs to requeue, or --all", file=sys.stderr)
        return 2
    return _on_the_queue(lambda: requeue_command(settings, args.job_ids, args.all, print))


def _on_the_queue(command: Callable[[], int]) -> int:
    """Run a `replaydesk jobs` command; a queue it cannot reach is an error message, exit 1."""
    from service.jobs_command import QueueUnavailable

    try:
        return command()
    except QueueUnavailable as exc:
        print(f"replaydesk: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
