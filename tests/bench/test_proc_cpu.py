"""CPU accounting of a server: its child processes (the processing workers) count as its own."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.proc_cpu import stat_cpu_seconds, tree_cpu_seconds

_BUSY = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"
_PARENT = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {_BUSY!r}])\n"


def test_a_child_process_cpu_time_counts_for_its_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT])
    try:
        deadline = time.monotonic() + 30
        tree = 0.0
        while time.monotonic() < deadline and parent.poll() is None:
            tree = tree_cpu_seconds(parent.pid) or tree
            if tree >= 0.5:
                break
            time.sleep(0.05)
        own = stat_cpu_seconds(Path(f"/proc/{parent.pid}/stat")) or 0.0
        assert tree >= 0.5, "the child's busy time was not counted"
        assert own < 0.5, "the parent itself only waited"
    finally:
        parent.wait(timeout=30)


def test_a_process_that_is_gone_has_no_cpu_time() -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert tree_cpu_seconds(int(gone.stdout)) is None
