"""The before-and-after ingest bench: the other commit's work tree comes and goes, and the
report compares only valid rounds."""

from __future__ import annotations

from pathlib import Path

from bench.ingest_ab import FULL, _checkout, _report


def test_the_other_commit_is_checked_out_beside_and_removed_after(tmp_path: Path) -> None:
    with _checkout("HEAD", tmp_path) as root:
        assert (root / "service" / "ingest" / "inbox.py").is_file()
        assert (root / "bench" / "ingest_ab.py").is_file()
    assert not root.exists()


def test_the_report_compares_the_medians_of_valid_rounds() -> None:
    rows = [["1", "before", "600", "20.0", "90.0", "0.70", "1.10", "2%", "ok"]]
    report = _report("abc123", FULL, rows, {"before": [600, 640, 500], "after": [700, 610, 800]}, 9)
    assert "at abc123 (before)" in report
    assert "before 600, after 700 (after / before 1.17); after ahead in 2 of 3 rounds" in report
    nothing = _report("abc123", FULL, rows, {"before": [600], "after": []}, 9)
    assert "no valid round for one of them" in nothing
