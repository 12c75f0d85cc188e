"""What tests need to run the service as a process: the `replaydesk` command and a free port."""

from __future__ import annotations

import socket
import subprocess
import sys

from service.jobs.embedded import death_signal_setter

__all__ = ["DIES_WITH_THE_TESTS", "REPLAYDESK", "free_port", "run_cli"]

# `replaydesk` from this checkout, whether or not the console script is installed.
REPLAYDESK = [sys.executable, "-m", "service.cli"]
# `preexec_fn` for every service or worker a test starts: a test run that is killed takes them
# with it, instead of leaving a worker that takes the next run's jobs from the test Redis.
DIES_WITH_THE_TESTS = death_signal_setter()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`replaydesk ARGS` with exactly this environment; its output, whatever the exit code."""
    return subprocess.run(
        [*REPLAYDESK, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
