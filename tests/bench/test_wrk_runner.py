"""Without wrk, and without a way to install it, the ingest benchmark says so and gives no
figures: it never falls back to another load generator."""

from __future__ import annotations

import pytest

from bench import ingest_throughput, wrk_runner
from bench.wrk_runner import WrkUnavailable, ensure_wrk


def test_a_missing_wrk_that_cannot_be_installed_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wrk_runner.shutil, "which", lambda name: None)
    with pytest.raises(WrkUnavailable, match=r"apt-get install wrk"):
        ensure_wrk()


async def test_the_benchmark_then_prints_not_run_and_no_figures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing() -> str:
        raise WrkUnavailable("wrk is not installed")

    monkeypatch.setattr(ingest_throughput, "ensure_wrk", missing)
    report = await ingest_throughput.run_ingest_benchmark(ingest_throughput.QUICK)
    assert report.startswith("Ingest throughput: NOT RUN\n  wrk is not installed\n")
    assert "batches/s" not in report
