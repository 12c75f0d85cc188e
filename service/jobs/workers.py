"""The RQ workers `replaydesk worker` runs: forking (a work horse per job) or not.

RQ listens for commands (shutdown, stop a job) in a pub/sub thread whose reads block for up to
60 s, and with redis-py 8 stopping that thread waits for the read to end: a worker asked to
stop, or a burst worker with nothing left, took up to a minute to exit. These listen with
one-second reads, so they stop within about a second and still take commands.

`replaydesk worker --threads N` runs N in-process workers on threads
(`service/jobs/worker_threads.py`, shared with the embedded worker of `serve`).
"""

from __future__ import annotations

from rq import SimpleWorker, Worker
from rq.worker import BaseWorker

__all__ = ["ForkingWorker", "InProcessWorker", "QuickToStop"]

_COMMAND_POLL_SECONDS = 1


class QuickToStop(BaseWorker):
    """Listens on RQ's command channel with one-second reads."""

    def subscribe(self) -> None:
        """RQ's own subscription, with reads short enough for a prompt stop."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=_COMMAND_POLL_SECONDS,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )


class ForkingWorker(QuickToStop, Worker):
    """Each job in a work horse forked for it: a plugin that leaks or crashes takes only its
    job down."""


class InProcessWorker(QuickToStop, SimpleWorker):
    """Every job in the worker process, on connections kept between jobs: several times the
    throughput, without the isolation."""
