"""Start a benchmarked server as a uvicorn subprocess on a free loopback port; stop it again."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.proc_cpu import stat_cpu_seconds, tree_cpu_seconds
from tests.processes import free_port

__all__ = ["ServerProcess", "free_port"]

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


class ServerProcess:
    """One `python -m bench.ingest_server` child; its output goes to `log_path`.

    Use it as `async with ServerProcess(...) as server:`; the child is stopped on the way out.
    """

    def __init__(self, arguments: list[str], log_path: Path, root: Path = ROOT) -> None:
        """`root`: the checkout whose code the child runs (another one's, to compare two)."""
        self.port = free_port()
        self._root = root
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._arguments = ["-m", "bench.ingest_server", *arguments, "--port", str(self.port)]
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Launch the child and wait until `GET /health` answers 200."""
        with self.log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                *self._arguments,
                cwd=self._root,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            await self._wait_ready(self._process)
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self, process: asyncio.subprocess.Process) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        async with httpx.AsyncClient(base_url=self.base_url, trust_env=False) as client:
            while time.monotonic() < deadline:
                if process.returncode is not None:
                    raise RuntimeError(f"server exited early:\n{self.log_tail()}")
                try:
                    if (await client.get("/health", timeout=5)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server not ready in {READY_TIMEOUT_SECONDS:g}s:\n{self.log_tail()}")

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return None if self._process is None else self._process.pid

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the child has used so far, all threads, its own child
        processes (the processing workers) included (Linux /proc only)."""
        if self._process is None:
            return None
        return tree_cpu_seconds(self._process.pid)

    def main_thread_cpu_seconds(self) -> float | None:
        """The same for the child's main thread alone: the thread running the event loop."""
        if self._process is None:
            return None
        pid = self._process.pid
        return stat_cpu_seconds(Path(f"/proc/{pid}/task/{pid}/stat"))

    async def stop(self) -> None:
        """SIGINT (a graceful uvicorn shutdown), then SIGKILL if it does not exit in time."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The end of the child's output, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    async def __aenter__(self) -> ServerProcess:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
