"""Batch grading speed-up: 20 small submissions with ``--jobs 1`` and with ``--jobs 2``, in one run.

    .venv/bin/python bench/batch.py [--submissions 20] [--jobs 2]

Builds the toy assignment (tests/toy_assignment.py: two tests) in a temporary kit root, writes
the submissions (solved, half solved, blank, in turn), and times the whole
``python -m autograder batch`` command into fresh output folders, in the order 1, N, N, 1
workers (so that a load that rises or falls during the run weighs on both sides alike). Prints
the mean wall time of each side, the speed-up, the median grading time per submission (from
the ``status.json`` files), how busy the whole machine's CPUs were during each run (from
``/proc/stat``: the batch and everything else) and the load average before and after: on a
shared machine the figure only means something next to those. Goal (issue): 1.8x with 2
workers on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import toy_assignment as toy

from autograder import pipeline
from autograder.config import load_assignment

ANSWERS = (
    {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"},
    {"q1": "def add(a, b):\n    return a + b"},
    {},
)


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot (first line of /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def timed_batch(root: Path, subs: Path, out: Path, jobs: int) -> tuple[float, list[float], float]:
    """Wall seconds of one whole batch command, each submission's grading seconds, and the
    busy share of the machine's CPUs meanwhile (0..1, whoever used them)."""
    busy_before, total_before = _cpu_ticks()
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "batch", toy.NAME, str(subs), "--out", str(out),
         "--root", str(root), "--jobs", str(jobs)],
        capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(f"batch --jobs {jobs} failed (exit {run.returncode}):\n{run.stdout}{run.stderr}")
    each = [json.loads(p.read_text())["elapsed_s"] for p in out.glob("*/status.json")]
    busy_after, total_after = _cpu_ticks()
    return wall, each, (busy_after - busy_before) / max(1, total_after - total_before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kit-bench-batch-") as tmp:
        tmp = Path(tmp)
        root = toy.make_root(tmp / "kit")
        os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
        pipeline.build(load_assignment(toy.NAME, root), device="cpu")
        subs = tmp / "subs"
        for i in range(args.submissions):
            toy.student(subs / f"student{i:02d}" / "toy.ipynb", **ANSWERS[i % len(ANSWERS)])
        load_before = os.getloadavg()
        runs: dict[int, list[tuple[float, list[float], float]]] = {1: [], args.jobs: []}
        for k, jobs in enumerate((1, args.jobs, args.jobs, 1)):
            runs[jobs].append(timed_batch(root, subs, tmp / f"out{k}", jobs))
        load_after = os.getloadavg()
    print(f"{args.submissions} submissions of the toy assignment, {os.cpu_count()} CPUs, "
          "runs in the order 1, N, N, 1 workers")  # fmt: skip
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")  # fmt: skip
    print("| workers | wall s (each run) | mean wall s | median s per submission | CPUs busy |")
    print("|---|---|---|---|---|")
    mean = {}
    for jobs, done in runs.items():
        mean[jobs] = statistics.mean(wall for wall, _, _ in done)
        walls = ", ".join(f"{wall:.1f}" for wall, _, _ in done)
        each = statistics.median(s for _, seconds, _ in done for s in seconds)
        busy = statistics.mean(b for _, _, b in done)
        print(f"| {jobs} | {walls} | {mean[jobs]:.1f} | {each:.2f} | {busy:.0%} |")
    print(f"speed-up: {mean[1] / mean[args.jobs]:.2f}x (goal: 1.8x with 2 workers on 2 cores)")


if __name__ == "__main__":
    main()
