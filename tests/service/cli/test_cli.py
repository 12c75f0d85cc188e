"""The `replaydesk` command as a new user runs it: serve on a fresh data dir, last, keys, db."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from tests.processes import DIES_WITH_THE_TESTS, REPLAYDESK, free_port, run_cli
from tests.recordings import batch, checkout_events


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAYDESK_")}
    env["REPLAYDESK_DATA_DIR"] = str(tmp_path / "data")
    env["REPLAYDESK_PORT"] = str(free_port())
    env["REPLAYDESK_PUBLIC_URL"] = f"http://127.0.0.1:{env['REPLAYDESK_PORT']}"
    return env


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path, base: str, *args: str) -> Iterator[str]:
    """`replaydesk serve ARGS` with `env`, until it answers at `base`; yields its first output."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [*REPLAYDESK, "serve", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=DIES_WITH_THE_TESTS,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        else:
            pytest.fail("service did not become healthy:\n" + log.read_text())
        yield log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def served(embedded_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`replaydesk serve` on embedded defaults; yields (base URL, its first output)."""
    base = f"http://127.0.0.1:{embedded_env['REPLAYDESK_PORT']}"
    with serving(embedded_env, tmp_path / "serve.log", base) as output:
        yield base, output
    assert not (tmp_path / "data" / "redis.sock").exists()


def test_first_start_prints_keys_and_a_session_round_trips(
    served: tuple[str, str], embedded_env: dict[str, str]
) -> None:
    base, output = served
    api_key = re.search(r"API key .*:\s+(rdk_api_\S+)", output)
    ingest_key = re.search(r"ingest key .*:\s+(rdk_ing_\S+)", output)
    assert api_key and ingest_key, output

    health = httpx.get(f"{base}/health").json()
    assert health == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "blob_store": "ok",
            "queue": "ok",
            "chunk_mover": "ok",
            "processing": "ok",
        },
        "chunks": {"waiting": 0, "quarantined": 0, "oldest_waiting_seconds": 0},
        "inbox": {"waiting": 0, "stuck": 0, "oldest_waiting_seconds": 0},
    }
    sent = httpx.post(
        f"{base}/api/v1/ingest",
        content=msgspec.json.encode(batch("sess-cli-0001", 0, checkout_events(), user_id="u7")),
        headers={"X-ReplayDesk-Key": ingest_key.group(1)},
    )
    assert sent.status_code == 202, sent.text
    # Processing workers store the batch a moment after its ack.
    latest = wait_until(
        lambda: httpx.get(
            f"{base}/api/v1/users/u7/sessions/latest",
            headers={"Authorization": f"Bearer {api_key.group(1)}"},
        ),
        lambda answer: answer.status_code != 404,
        seconds=2,
    )
    assert latest.json()["session_id"] == "sess-cli-0001"

    last = run_cli(embedded_env, "last", "u7")
    assert last.returncode == 0, last.stderr
    assert "sess-cli-0001" in last.stdout and "https://shop.test/cart" in last.stdout
    printed = re.search(r"replay\s+(\S+/replay/sess-cli-0001\?at=first-error#t=(\S+))", last.stdout)
    assert printed, last.stdout
    opened = httpx.get(
        f"{base}/api/v1/sessions/sess-cli-0001/report",
        headers={"Authorization": f"Bearer {printed.group(2)}"},
    )
    assert opened.status_code == 200
    assert httpx.get(printed.group(1).split("#")[0]).status_code == 200  # the page itself
    as_json = msgspec.json.decode(run_cli(embedded_env, "last", "u7", "--json").stdout)
    assert as_json["session_id"] == "sess-cli-0001"
    assert "/replay/sess-cli-0001?at=first-error#t=" in as_json["replay_url"]
    assert as_json["replay_expires_at"] > as_json["last_received_at"]

    link = run_cli(embedded_env, "link", "sess-cli-0001", "--ttl", "120")
    assert link.returncode == 0, link.stderr
    assert link.stdout.strip().startswith(f"{base}/replay/sess-cli-0001#t=")
    assert "works until" in link.stderr
    assert run_cli(embedded_env, "link", "sess-nope-0001").returncode == 1
    # From another shell, without the port the serve was started with: links still point at
    # the running serve, not at the default port.
    other_shell = {
        k: v
        for k, v in embedded_env.items()
        if k not in ("REPLAYDESK_PORT", "REPLAYDESK_PUBLIC_URL")
    }
    elsewhere = run_cli(other_shell, "link", "sess-cli-0001")
    assert elsewhere.stdout.strip().startswith(f"{base}/replay/sess-cli-0001#t="), elsewhere

    missing = run_cli(embedded_env, "last", "nobody")
    assert missing.returncode == 1 and "nobody" in missing.stderr

    schema = httpx.get(f"{base}/schema/openapi.json").json()
    assert "/api/v1/users/{user_id}/sessions/latest" in schema["paths"]


def test_serve_port_flag_takes_the_links_along(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        k: v
        for k, v in embedded_env.items()
        if k not in ("REPLAYDESK_PORT", "REPLAYDESK_PUBLIC_URL")
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serving(env, tmp_path / "serve.log", base, "--port", str(port)) as output:
        api_key = re.search(r"API key .*:\s+(rdk_api_\S+)", output)
        ingest_key = re.search(r"ingest key .*:\s+(rdk_ing_\S+)", output)
        assert api_key and ingest_key, output
        sent = httpx.post(
            f"{base}/api/v1/ingest",
            content=msgspec.json.encode(batch("sess-cli-0002", 0, checkout_events())),
            headers={"X-ReplayDesk-Key": ingest_key.group(1)},
        )
        assert sent.status_code == 202, sent.text
        minted = wait_until(
            lambda: httpx.post(
                f"{base}/api/v1/sessions/sess-cli-0002/links",
                json={},
                headers={"Authorization": f"Bearer {api_key.group(1)}"},
            ),
            lambda answer: answer.status_code != 404,
        )
        assert minted.json()["url"].startswith(f"{base}/replay/sess-cli-0002#t=")
        printed = run_cli(env, "link", "sess-cli-0002")
        assert printed.stdout.startswith(f"{base}/replay/sess-cli-0002#t="), printed


@pytest.fixture
def upgraded_first(embedded_env: dict[str, str]) -> None:
    """What `make run` does before `serve`: `db upgrade`, which creates the secrets."""
    assert run_cli(embedded_env, "db", "upgrade").returncode == 0


def test_make_run_order_still_shows_the_keys_once(
    upgraded_first: None, served: tuple[str, str], embedded_env: dict[str, str]
) -> None:
    _, output = served
    assert re.search(r"API key .*:\s+rdk_api_\S+", output), output
    assert re.search(r"ingest key .*:\s+rdk_ing_\S+", output), output
    from service.auth.generated_secrets import take_keys_to_announce

    assert take_keys_to_announce(Path(embedded_env["REPLAYDESK_DATA_DIR"])) is None


def test_keys_create_list_revoke(embedded_env: dict[str, str]) -> None:
    assert run_cli(embedded_env, "db", "upgrade").returncode == 0
    created = run_cli(embedded_env, "keys", "create", "api", "--name", "support bot")
    assert created.returncode == 0, created.stderr
    key_id = re.search(r"API key (key_\w+)", created.stdout)
    assert key_id, created.stdout
    ingest = run_cli(embedded_env, "keys", "create", "ingest", "--origin", "https://shop.example")
    assert "rdk_ing_" in ingest.stdout
    listing = run_cli(embedded_env, "keys", "list").stdout
    assert key_id.group(1) in listing and "support bot" in listing and "live" in listing
    assert "https://shop.example" in listing
    assert "rdk_api_" not in listing  # secrets are never listed
    assert run_cli(embedded_env, "keys", "revoke", key_id.group(1)).returncode == 0
    assert "revoked" in run_cli(embedded_env, "keys", "list").stdout
    assert run_cli(embedded_env, "keys", "revoke", key_id.group(1)).returncode == 1


def test_api_keys_are_created_with_scopes(embedded_env: dict[str, str]) -> None:
    scoped = run_cli(
        embedded_env,
        "keys",
        "create",
        "api",
        "--name",
        "zendesk sidebar",
        "--scope",
        "sessions:read",
        "--scope",
        "links:create",
    )
    assert scoped.returncode == 0, scoped.stderr
    assert "scopes: links:create, sessions:read" in scoped.stdout
    whole = run_cli(embedded_env, "keys", "create", "api", "--name", "ops")
    assert "scopes: admin (everything)" in whole.stdout
    listing = run_cli(embedded_env, "keys", "list").stdout
    assert "zendesk sidebar  live  scopes: links:create, sessions:read" in listing
    assert "ops  live  scopes: admin" in listing
    for wrong, said in (
        (["api", "--scope", "sessions:write"], "invalid choice: 'sessions:write'"),
        (["ingest", "--scope", "admin"], "--scope is for API keys"),
        (["api", "--origin", "https://shop.example"], "--origin is for ingest keys"),
    ):
        refused = run_cli(embedded_env, "keys", "create", *wrong)
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr


def test_db_upgrade_then_serve_on_postgres(embedded_env: dict[str, str]) -> None:
    import asyncio
    import secrets

    from sqlalchemy import make_url

    from tests.conftest import TEST_DATABASE_URL, admin_sql

    name = f"replaydesk_cli_{secrets.token_hex(4)}"
    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(False)
        env = {**embedded_env, "REPLAYDESK_DATABASE_URL": url}
        refused = run_cli(env, "serve")
        assert refused.returncode == 1
        assert "replaydesk db upgrade" in refused.stderr
        upgraded = run_cli(env, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        assert run_cli(env, "last", "u1").returncode == 1  # migrated, and empty
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_the_log_names_routes_not_user_ids_or_keys(
    served: tuple[str, str], embedded_env: dict[str, str], tmp_path: Path
) -> None:
    base, output = served
    api_key = re.search(r"API key .*:\s+(rdk_api_\S+)", output)
    assert api_key
    httpx.get(
        f"{base}/api/v1/users/jane.doe@example.com/sessions/latest",
        headers={"Authorization": f"Bearer {api_key.group(1)}"},
    )
    httpx.post(f"{base}/api/v1/ingest?key=rdk_ing_secretish", content=b"{}")
    time.sleep(0.3)
    log = (tmp_path / "serve.log").read_text()
    assert "GET /api/v1/users/{user_id}/sessions/latest 404" in log
    assert "POST /api/v1/ingest 40" in log
    assert "jane.doe" not in log and "rdk_ing_secretish" not in log
    assert api_key.group(1) not in log.split("first start", 1)[1].split("\n", 3)[-1]


def test_output_into_a_closed_pipe_ends_quietly(embedded_env: dict[str, str]) -> None:
    """`replaydesk plugins | head -1`: the reader leaves early; no traceback follows."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # gone before the command writes a line
    try:
        listed = subprocess.run(
            [*REPLAYDESK, "plugins"],
            env=embedded_env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert listed.returncode == 1
    assert "Traceback" not in listed.stderr and "BrokenPipeError" not in listed.stderr


def test_commands_migrate_a_fresh_data_dir_themselves(embedded_env: dict[str, str]) -> None:
    created = run_cli(embedded_env, "keys", "create", "api")
    assert created.returncode == 0, created.stderr
    assert "Traceback" not in created.stderr


def test_ingest_origins_are_checked_and_written_as_browsers_send_them(
    embedded_env: dict[str, str],
) -> None:
    for bad in ("not a url", "https://shop.example/path", "ftp://shop.example"):
        refused = run_cli(embedded_env, "keys", "create", "ingest", "--origin", bad)
        assert refused.returncode == 2, refused.stdout
        assert "no site origin" in refused.stderr and "Traceback" not in refused.stderr
    made = run_cli(
        embedded_env, "keys", "create", "ingest", "--origin", "HTTPS://Shop.Example:443/"
    )
    assert made.returncode == 0, made.stderr
    assert "origins: https://shop.example\n" in run_cli(embedded_env, "keys", "list").stdout


def test_a_link_to_part_of_a_session_carries_its_window(
    served: tuple[str, str], embedded_env: dict[str, str]
) -> None:
    base, output = served
    ingest_key = re.search(r"ingest key .*:\s+(rdk_ing_\S+)", output)
    assert ingest_key, output
    sent = httpx.post(
        f"{base}/api/v1/ingest",
        content=msgspec.json.encode(batch("sess-cli-0003", 0, checkout_events(), user_id="u8")),
        headers={"X-ReplayDesk-Key": ingest_key.group(1)},
    )
    assert sent.status_code == 202, sent.text

    def summary_through(*options: str) -> tuple[dict[str, object], str]:
        made = wait_until(
            lambda: run_cli(embedded_env, "link", "sess-cli-0003", *options),
            lambda r: r.returncode != 1,
        )
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip().split("#t=")[1]
        opened = httpx.get(
            f"{base}/api/v1/sessions/sess-cli-0003", headers={"Authorization": f"Bearer {token}"}
        )
        assert opened.status_code == 200, opened.text
        return opened.json(), made.stderr

    summary, said = summary_through("--from", "0", "--to", "0:01")
    assert summary["window"]["from_ms"] == 0 and summary["window"]["to_ms"] == 1000
    assert "shows 0:00 to 0:01 of the session" in said
    summary, _ = summary_through("--around-first-error", "1")
    assert summary["window"]["from_ms"] == 0
    summary, _ = summary_through("--before-ticket", "5")  # before now: the session's last 5 min
    assert summary["window"]["to_ms"] == summary["duration_ms"]
    whole, _ = summary_through()
    assert whole.get("window") is None

    for options, said_wrong in [
        (["--from", "1m"], "--from takes seconds, M:SS or H:MM:SS"),
        (["--from", "0:01", "--to", "0:00"], "must come before"),
        (["--from", "0:05"], "past the session's last event"),
        (["--from", "0:01", "--around-first-error", "2"], "one kind at a time"),
        (["--ticket-at", "2026-12-01T10:00:00Z"], "--ticket-at goes with --before-ticket"),
        (["--before-ticket", "5", "--ticket-at", "yesterday"], "--ticket-at"),
        (["--around-first-error", "100000"], "--around-first-error"),
        (["--from", "9999:00:00"], "--from"),
    ]:
        refused = run_cli(embedded_env, "link", "sess-cli-0003", *options)
        assert refused.returncode == 2, (options, refused.stdout, refused.stderr)
        assert said_wrong in refused.stderr and "Traceback" not in refused.stderr, refused.stderr


def test_live_links_a_user_session_being_recorded(
    served: tuple[str, str], embedded_env: dict[str, str]
) -> None:
    base, output = served
    ingest_key = re.search(r"ingest key .*:\s+(rdk_ing_\S+)", output)
    assert ingest_key, output

    def send(seq: int, **extra: object) -> None:
        body = batch("sess-cli-0004", seq, checkout_events(), user_id="u9", **extra)
        sent = httpx.post(
            f"{base}/api/v1/ingest",
            content=msgspec.json.encode(body),
            headers={"X-ReplayDesk-Key": ingest_key.group(1)},
        )
        assert sent.status_code == 202, sent.text

    send(0)
    made = wait_until(lambda: run_cli(embedded_env, "live", "u9"), lambda r: r.returncode == 0)
    url = made.stdout.strip()
    assert url.startswith(f"{base}/replay/sess-cli-0004?live=1#t="), made.stdout
    assert "live view of sess-cli-0004" in made.stderr
    headers = {"Authorization": f"Bearer {url.split('#t=')[1]}"}
    with httpx.stream("GET", f"{base}/api/v1/sessions/sess-cli-0004/live", headers=headers) as live:
        assert live.status_code == 200
        first_lines = [line for _, line in zip(range(4), live.iter_lines(), strict=False)]
        assert "event: batch" in first_lines, first_lines
    send(1, final=True)
    ended = wait_until(lambda: run_cli(embedded_env, "live", "u9"), lambda r: r.returncode == 1)
    assert "no session of this user is being recorded now" in ended.stderr
    assert "sess-cli-0004" in ended.stderr
    assert run_cli(embedded_env, "live", "nobody").returncode == 1


def wait_until(action: Any, done: Any, seconds: float = 10.0) -> Any:
    """`action()` again until `done` accepts what it returns (processing workers store a batch
    a moment after its ack)."""
    deadline = time.monotonic() + seconds
    while True:
        result = action()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_a_link_lives_a_minute_to_a_week(embedded_env: dict[str, str]) -> None:
    for ttl in ("-5", "59", "99999999999"):
        refused = run_cli(embedded_env, "link", "sess-any-0001", "--ttl", ttl)
        assert refused.returncode == 2 and "--ttl must be 60 to 604800" in refused.stderr


def test_plugins_shows_the_running_services_view_and_says_so(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{embedded_env['REPLAYDESK_PORT']}"
    service_env = {**embedded_env, "REPLAYDESK_ZENDESK_URL": "https://acme.zendesk.com"}
    with serving(service_env, tmp_path / "serve.log", base):
        listing = run_cli(embedded_env, "plugins")
    assert f"plugins of the service at {base}:" in listing.stdout, listing.stdout
    assert "REPLAYDESK_ZENDESK_URL  (required, set)" in listing.stdout
    alone = run_cli(embedded_env, "plugins")
    assert "plugins as this shell's environment sets them up" in alone.stdout
    assert "REPLAYDESK_ZENDESK_URL  (required, unset)" in alone.stdout


def test_issue_asks_the_running_service_and_says_so(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{embedded_env['REPLAYDESK_PORT']}"
    jira = {
        "REPLAYDESK_JIRA_URL": "https://acme.atlassian.net",
        "REPLAYDESK_JIRA_EMAIL": "bot@acme.example",
        "REPLAYDESK_JIRA_API_TOKEN": "not-real",
        "REPLAYDESK_JIRA_WEBHOOK_SECRET": "not-real-either",
    }
    with serving({**embedded_env, **jira}, tmp_path / "serve.log", base):
        # This shell has no Jira settings; the service has, and knows no such session.
        asked = run_cli(embedded_env, "issue", "sess-none-0001")
    assert asked.returncode == 1
    assert f"replaydesk: asking the service at {base}\n" in asked.stderr, asked.stderr
    assert "no session 'sess-none-0001'" in asked.stderr
    alone = run_cli(embedded_env, "issue", "sess-none-0001")
    assert alone.returncode == 1
    assert "no service runs on this data dir" in alone.stderr
    assert "no ticket provider 'jira'" in alone.stderr and "Traceback" not in alone.stderr


ZENDESK = {
    "REPLAYDESK_ZENDESK_URL": "https://acme.zendesk.com",
    "REPLAYDESK_ZENDESK_EMAIL": "bot@acme.test",
    "REPLAYDESK_ZENDESK_API_TOKEN": "zd-token-not-real",
    "REPLAYDESK_ZENDESK_WEBHOOK_SECRET": "zd-secret-not-real",
}


def test_loopback_ticket_links_are_warned_of_where_an_admin_looks(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{embedded_env['REPLAYDESK_PORT']}"
    env = {**embedded_env, **ZENDESK}
    warning = f"REPLAYDESK_PUBLIC_URL is {base}, a loopback address"
    with serving(env, tmp_path / "serve.log", base):
        listing = run_cli(env, "plugins")
        time.sleep(0.2)
        log = (tmp_path / "serve.log").read_text()
    assert log.count(warning) == 1, log
    assert "zd-token-not-real" not in log and "zd-secret-not-real" not in log
    assert f"  warning: {warning}" in listing.stdout, listing.stdout
    redis_url = os.environ.get("REPLAYDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    worker = run_cli({**env, "REPLAYDESK_REDIS_URL": redis_url}, "worker", "--burst")
    assert worker.returncode == 0, worker.stderr
    assert (worker.stdout + worker.stderr).count(warning) == 1
    # A public URL that others reach, or no provider active: no warning.
    public = run_cli({**env, "REPLAYDESK_PUBLIC_URL": "https://replay.example.com"}, "plugins")
    assert "warning:" not in public.stdout
    assert "warning:" not in run_cli(embedded_env, "plugins").stdout
