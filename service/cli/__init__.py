"""The `replaydesk` command line: the parser here, each command group's code in its own module.

Commands are named as `module:function` and imported only when run, so `replaydesk --help` and
a quick `replaydesk last` do not load the web stack, the job queue or the plugins.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from service.auth.scopes import SCOPES
from service.settings import Settings, load_settings

__all__ = ["main"]

Command = Callable[[Settings, argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `replaydesk` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # For the whole process: exceptions in log records keep their type and stack, not their
    # message (see service/log_redaction.py).
    from service import log_redaction

    log_redaction.install()
    # Alembic announces every internal plugin it loads; only its migration steps matter here.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # A command that calls a tracker (`replaydesk issue`) prints its answer, not each request.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = load_settings() if getattr(args, "settings", True) else None
    try:
        result: int = _command(args.run)(settings, args)  # type: ignore[arg-type]
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
    serve.set_defaults(run="serve:serve")

    worker = commands.add_parser("worker", help="run jobs from Redis (REPLAYDESK_REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    worker.add_argument(
        "--no-fork",
        action="store_true",
        help="run jobs in this process, not a forked one per job (faster, less isolated)",
    )
    worker.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="run up to N jobs at once on threads of this process (implies --no-fork)",
    )
    worker.set_defaults(run="worker:worker")

    db = commands.add_parser("db", help="database schema").add_subparsers(title="db commands")
    db.add_parser("upgrade", help="apply migrations").set_defaults(run="db:upgrade")

    last = commands.add_parser("last", help="a user's newest session")
    last.add_argument("user_id")
    last.add_argument("--json", action="store_true", help="print the summary as JSON")
    last.set_defaults(run="sessions:last")

    live = commands.add_parser("live", help="a live link to a user's session being recorded now")
    live.add_argument("user_id")
    live.add_argument("--ttl", type=int, help="seconds the link works (default: setting)")
    live.set_defaults(run="sessions:live")

    link = commands.add_parser("link", help="mint a viewer link to a session")
    link.add_argument("session_id")
    link.add_argument("--ttl", type=int, help="seconds the link works (default: setting)")
    link.add_argument("--first-error", action="store_true", help="open at the first error")
    shown = link.add_argument_group(
        "window",
        "show only part of the session (one kind at a time; offsets as 90, 1:30 or 1:02:05)",
    )
    shown.add_argument(
        "--from", dest="from_offset", metavar="OFFSET", help="start, into the session"
    )
    shown.add_argument("--to", dest="to_offset", metavar="OFFSET", help="end, into the session")
    shown.add_argument(
        "--before-ticket",
        type=_positive_int,
        metavar="MINUTES",
        help="the minutes before --ticket-at (default: now)",
    )
    shown.add_argument(
        "--ticket-at", metavar="TIME", help="when the ticket was opened (ISO 8601 with a zone)"
    )
    shown.add_argument(
        "--around-first-error",
        type=_positive_int,
        metavar="MINUTES",
        help="minutes on each side of the first console error",
    )
    link.set_defaults(run="sessions:link")

    keys = commands.add_parser("keys", help="list, create and revoke keys")
    keys.set_defaults(run="keys:list_keys")
    key_commands = keys.add_subparsers(title="keys commands")
    key_commands.add_parser("list", help="list keys").set_defaults(run="keys:list_keys")
    create = key_commands.add_parser("create", help="create a key")
    create.add_argument("kind", choices=["api", "ingest"])
    create.add_argument("--name", default="", help="what the key is for")
    create.add_argument(
        "--origin",
        action="append",
        default=[],
        help="site origin allowed to use an ingest key (repeat; default: any)",
    )
    create.add_argument(
        "--scope",
        action="append",
        default=[],
        choices=list(SCOPES),
        help="what an API key may do (repeat; default: everything, as admin): "
        + "; ".join(f"{name}: {what}" for name, what in SCOPES.items()),
    )
    create.set_defaults(run="keys:create")
    revoke = key_commands.add_parser("revoke", help="revoke an API key id or ingest key")
    revoke.add_argument("key")
    revoke.set_defaults(run="keys:revoke")

    issue = commands.add_parser("issue", help="open an issue (a bug) from a session")
    issue.add_argument("session_id")
    issue.add_argument("--provider", default="jira", help="the tracker (default: jira)")
    issue.add_argument("--summary", help="the title (default: written from the first error)")
    issue.add_argument("--project", help="project key (default: the plugin's setting)")
    issue.add_argument("--type", dest="issue_type", help="issue type (default: the plugin's)")
    issue.set_defaults(run="issue:issue")

    plugins = commands.add_parser("plugins", help="installed plugins, their hooks and settings")
    plugins.set_defaults(run="plugins:plugins")
    plugin = commands.add_parser("plugin", help="write a new plugin package")
    plugin_commands = plugin.add_subparsers(title="plugin commands")
    new = plugin_commands.add_parser("new", help="a plugin package that passes its own tests")
    new.add_argument("name", help="the plugin's name: lower-case letters, digits and _")
    new.add_argument("--dir", help="where to write replaydesk-NAME/ (default: here)")
    # Writing files needs no settings: no data dir or generated keys appear where it runs.
    new.set_defaults(run="plugin_new:plugin_new", settings=False)

    zendesk = commands.add_parser(
        "zendesk-app", help="write the Zendesk sidebar app to upload as a private app"
    )
    zendesk.add_argument(
        "--out",
        metavar="DIR",
        help="the app's folder; DIR.zip is written beside it (default: replaydesk-zendesk-app)",
    )
    zendesk.add_argument(
        "--url",
        metavar="PUBLIC_URL",
        help="where agents' browsers reach the service (default: REPLAYDESK_PUBLIC_URL)",
    )
    zendesk.add_argument("--email", help="the app author's e-mail, shown in Zendesk's app list")
    zendesk.set_defaults(run="zendesk_app:zendesk_app")

    erasures = commands.add_parser("erasures", help="erasure tombstones; lift a user's")
    erasures.set_defaults(run="erasures:list_erasures")
    erasure_commands = erasures.add_subparsers(title="erasures commands")
    tombstones = erasure_commands.add_parser("list", help="tombstones, newest first")
    tombstones.set_defaults(run="erasures:list_erasures")
    # On both, so `erasures --kind user` works as `erasures list --kind user` does; the
    # subcommand's copy has no default, which would overwrite what was given before it.
    for parser_, default in ((erasures, None), (tombstones, argparse.SUPPRESS)):
        parser_.add_argument(
            "--kind", choices=["user", "session"], default=default, help="only this kind"
        )
        parser_.add_argument("--limit", type=int, default=default, help="the newest N (50)")
    lift = erasure_commands.add_parser(
        "lift", help="record a user again (what was erased stays erased)"
    )
    lift.add_argument("user_id", nargs="?", help="the erased user ID")
    lift.add_argument("--hash", help="instead of a user ID: a tombstone's hash, or its start")
    lift.set_defaults(run="erasures:lift")

    jobs = commands.add_parser("jobs", help="failed background jobs; requeue them")
    jobs.set_defaults(run="jobs:list_jobs")
    job_commands = jobs.add_subparsers(title="jobs commands")
    listing = job_commands.add_parser("list", help="failed jobs and their errors")
    listing.set_defaults(run="jobs:list_jobs")
    requeue = job_commands.add_parser("requeue", help="run failed jobs again")
    requeue.add_argument("job_ids", nargs="*", metavar="JOB_ID")
    requeue.add_argument("--all", action="store_true", help="every failed job")
    requeue.set_defaults(run="jobs:requeue")
    return parser


def _command(name: str) -> Command:
    module, function = name.split(":")
    run: Command = getattr(importlib.import_module(f"service.cli.{module}"), function)
    return run


def _positive_int(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {number}")
    return number
