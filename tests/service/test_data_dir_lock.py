"""One `replaydesk serve` per embedded data dir: the lock itself, and serve processes on it."""

from __future__ import annotations

import errno
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.cli import jobs as jobs_command_module
from service.cli.jobs import QueueUnavailable
from service.cli.jobs import _redis as jobs_queue
from service.data_dir_lock import LOCK_FILE, DataDirBusy, acquire_data_dir_lock, serving_url
from service.jobs.embedded import EmbeddedRedis
from service.settings import load_settings
from tests.processes import DIES_WITH_THE_TESTS, REPLAYDESK, free_port, run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_lock_names_the_holder_until_the_first_is_released(tmp_path: Path) -> None:
    first = acquire_data_dir_lock(tmp_path)
    assert first is not None and first.held
    path = tmp_path / LOCK_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == f"{os.getpid()} serve"

    # flock locks belong to open file descriptions: a second open conflicts, same process or not.
    with pytest.raises(DataDirBusy) as busy:
        acquire_data_dir_lock(tmp_path)
    assert busy.value.pid == os.getpid()
    assert str(busy.value) == (
        f"another replaydesk serve (pid {os.getpid()}) is using {tmp_path}; "
        "stop it or set REPLAYDESK_DATA_DIR to another folder"
    )
    assert first.held  # the failed attempt left the holder's lock alone

    first.release()
    first.release()  # idempotent
    assert not first.held
    again = acquire_data_dir_lock(tmp_path)
    assert again is not None
    again.release()


def test_a_serve_tells_other_commands_its_url_while_it_runs(tmp_path: Path) -> None:
    assert serving_url(tmp_path) is None  # no lock file yet
    lock = acquire_data_dir_lock(tmp_path, url="http://127.0.0.1:8184")
    assert lock is not None
    assert serving_url(tmp_path) == "http://127.0.0.1:8184"
    with pytest.raises(DataDirBusy, match=r"^another replaydesk serve \(pid \d+\) is using"):
        acquire_data_dir_lock(tmp_path)
    lock.release()
    assert serving_url(tmp_path) is None


def test_only_a_running_serve_has_a_url(tmp_path: Path) -> None:
    jobs = acquire_data_dir_lock(tmp_path, command="jobs")
    assert jobs is not None
    assert serving_url(tmp_path) is None
    jobs.release()
    # What a serve killed with SIGKILL leaves: its line, and a pid that no longer runs.
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / LOCK_FILE).write_text(f"{finished.stdout.strip()} serve http://127.0.0.1:9\n")
    assert serving_url(tmp_path) is None
    (tmp_path / LOCK_FILE).write_text(f"{os.getpid()} serve http://127.0.0.1:9")  # no newline
    assert serving_url(tmp_path) is None


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from service.data_dir_lock import acquire_data_dir_lock;"
            "lock = acquire_data_dir_lock(Path(sys.argv[1])); time.sleep(60)",
            str(tmp_path),
        ],
        cwd=ROOT,
        preexec_fn=DIES_WITH_THE_TESTS,
    )
    try:
        deadline = time.monotonic() + 30
        while _written_pid(tmp_path) != holder.pid:
            assert holder.poll() is None, "the holder exited early"
            assert time.monotonic() < deadline, "the holder never took the lock"
            time.sleep(0.05)
        with pytest.raises(DataDirBusy) as busy:
            acquire_data_dir_lock(tmp_path)
        assert busy.value.pid == holder.pid
    finally:
        holder.kill()
        holder.wait(timeout=10)
    lock = acquire_data_dir_lock(tmp_path)
    assert lock is not None
    lock.release()


def _written_pid(data_dir: Path) -> int | None:
    try:
        pid = (data_dir / LOCK_FILE).read_text().split(" ")[0]
    except FileNotFoundError:
        return None
    return int(pid) if pid.isdigit() else None


def test_a_filesystem_without_locks_is_a_warning_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import fcntl

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with caplog.at_level(logging.WARNING, logger="service.data_dir_lock"):
        assert acquire_data_dir_lock(tmp_path) is None
    assert "not guarded" in caplog.text


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAYDESK_")}
    env["REPLAYDESK_DATA_DIR"] = str(tmp_path / "data")
    return env


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """`replaydesk serve` processes started by a test; stopped at its end whatever happened."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _serve(
    env: dict[str, str], log: Path, started: list[subprocess.Popen[bytes]]
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `replaydesk serve` on a free port and wait until /health answers."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*REPLAYDESK, "serve"],
            env={**env, "REPLAYDESK_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=DIES_WITH_THE_TESTS,
        )
    started.append(process)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        time.sleep(0.2)
    pytest.fail("serve did not become healthy:\n" + log.read_text())


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    # uvicorn shuts down, then dies of the signal it caught (-SIGTERM).
    process.wait(timeout=30)


# `serve` runs processing workers (one per core): /health reports their queue too.
HEALTHY = {
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


def test_a_second_serve_on_the_data_dir_is_refused_and_the_first_keeps_its_queue(
    embedded_env: dict[str, str], tmp_path: Path, servers: list[subprocess.Popen[bytes]]
) -> None:
    data_dir = embedded_env["REPLAYDESK_DATA_DIR"]
    first, base = _serve(embedded_env, tmp_path / "first.log", servers)

    began = time.monotonic()
    second = subprocess.run(
        [*REPLAYDESK, "serve"],
        env={**embedded_env, "REPLAYDESK_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert time.monotonic() - began < 15
    assert second.returncode == 1
    assert (
        f"replaydesk: another replaydesk serve (pid {first.pid}) is using {data_dir}; "
        "stop it or set REPLAYDESK_DATA_DIR to another folder"
    ) in second.stderr.splitlines()

    # The refused one started nothing, so the first one's private Redis is untouched.
    assert first.poll() is None
    assert httpx.get(f"{base}/health", timeout=5).json() == HEALTHY
    # The other commands share the data dir with a running serve.
    keys = run_cli(embedded_env, "keys", "list")
    assert keys.returncode == 0, keys.stderr
    jobs = run_cli(embedded_env, "jobs")
    assert jobs.returncode == 0, jobs.stderr
    assert httpx.get(f"{base}/health", timeout=5).json() == HEALTHY

    _stop(first)
    # Stopped (or crashed: the OS drops the lock either way), the data dir is free again.
    _, next_base = _serve(embedded_env, tmp_path / "next.log", servers)
    assert httpx.get(f"{next_base}/health", timeout=5).json() == HEALTHY


def test_with_a_redis_url_several_serves_share_a_data_dir(
    embedded_env: dict[str, str],
    redis_url: str,
    tmp_path: Path,
    servers: list[subprocess.Popen[bytes]],
) -> None:
    env = {**embedded_env, "REPLAYDESK_REDIS_URL": redis_url}
    assert run_cli(env, "db", "upgrade").returncode == 0
    _, first = _serve(env, tmp_path / "first.log", servers)
    _, second = _serve(env, tmp_path / "second.log", servers)
    assert httpx.get(f"{first}/health", timeout=5).json() == HEALTHY
    assert httpx.get(f"{second}/health", timeout=5).json() == HEALTHY
    assert not (Path(embedded_env["REPLAYDESK_DATA_DIR"]) / LOCK_FILE).exists()


def test_jobs_without_a_serve_owns_the_data_dir_while_it_runs(
    embedded_env: dict[str, str], tmp_path: Path, servers: list[subprocess.Popen[bytes]]
) -> None:
    settings = load_settings(embedded_env)
    with jobs_queue(settings) as redis:
        # The command started the private Redis; a serve starting now is refused instead of
        # joining a Redis that stops when the command ends.
        assert redis.ping()
        refused = run_cli({**embedded_env, "REPLAYDESK_PORT": str(free_port())}, "serve")
        assert refused.returncode == 1
        assert (
            f"replaydesk: another replaydesk jobs (pid {os.getpid()}) is using "
            f"{settings.data_dir}; try again once it has finished"
        ) in refused.stderr.splitlines()
    # Done, the command stopped its Redis and let the data dir go.
    assert not EmbeddedRedis(settings.data_dir).socket.exists() or _no_answer(settings.data_dir)
    _, base = _serve(embedded_env, tmp_path / "after.log", servers)
    assert httpx.get(f"{base}/health", timeout=5).json() == HEALTHY


def test_jobs_beside_a_serve_whose_queue_does_not_answer_says_so(
    embedded_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(embedded_env)
    monkeypatch.setattr(jobs_command_module, "_WAIT_SECONDS", 0.3)
    lock = acquire_data_dir_lock(settings.data_dir)  # as a serve still starting its Redis
    assert lock is not None
    try:
        with pytest.raises(QueueUnavailable, match="its job queue does not answer"):
            jobs_command_module.jobs_command(settings)
    finally:
        lock.release()


def test_a_second_jobs_command_waits_for_the_first_to_finish(
    embedded_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(embedded_env)
    said: list[str] = []
    second = threading.Thread(target=jobs_command_module.jobs_command, args=(settings, said.append))
    with jobs_queue(settings):
        second.start()
        time.sleep(0.5)
        said.append("first done")
    second.join(timeout=30)
    # It neither shared the first one's Redis, which stopped, nor failed: it waited its turn.
    assert said == ["first done", "0 job(s) queued, 0 failed"]

    monkeypatch.setattr(jobs_command_module, "_WAIT_SECONDS", 0.3)
    with jobs_queue(settings), pytest.raises(QueueUnavailable) as refused:
        jobs_command_module.jobs_command(settings)
    assert str(refused.value) == (
        f"another replaydesk jobs (pid {os.getpid()}) is using {settings.data_dir}; "
        "try again once it has finished"
    )


def _no_answer(data_dir: Path) -> bool:
    try:
        EmbeddedRedis(data_dir).join(timeout=0)
    except RuntimeError:
        return True
    return False
