"""bench/metrics.py still runs: a benchmark that rots silently is worse than none."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_metrics_benchmark_runs_and_prints_its_tables():
    """Does bench/metrics.py run end to end on a tiny set and print both tables and the memory?"""
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "metrics.py"), "--images", "8", "--size", "32",
         "--batch", "4", "--tm-images", "4", "--exact-images", "4", "--repeats", "1"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "| helpers.metrics.mean_average_precision" in out
    assert "| helpers SegmentationEvaluator(bins=1000)" in out
    assert "torchmetrics MulticlassAveragePrecision(thresholds=1000)" in out
    if sys.platform == "linux":
        assert " MB " in out  # peak memory was measured
