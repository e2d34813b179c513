"""Batch grading speed-up: 20 small submissions with ``--jobs 1`` and with ``--jobs 2``, in one run.

    .venv/bin/python bench/batch.py [--submissions 20] [--jobs 2]

Builds the toy assignment (tests/toy_assignment.py: two tests) in a temporary kit root, writes
the submissions (solved, half solved, blank, in turn), and times the whole
``python -m autograder batch`` command twice, into fresh output folders: once with one worker,
once with ``--jobs``. Prints both wall times, the speed-up, the median grading time per
submission from the ``status.json`` files, and the load average before and after (the machine
may be shared: the figure only means something next to the load). Goal (issue): 1.8x on 2 cores.
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


def timed_batch(root: Path, subs: Path, out: Path, jobs: int) -> tuple[float, list[float]]:
    """Wall seconds of one whole batch command, and each submission's grading seconds."""
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
    return wall, each


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
        one, one_each = timed_batch(root, subs, tmp / "out1", 1)
        many, many_each = timed_batch(root, subs, tmp / "out2", args.jobs)
        load_after = os.getloadavg()
    print(f"{args.submissions} submissions of the toy assignment, {os.cpu_count()} CPUs")
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")  # fmt: skip
    print("| workers | wall s | median s per submission |")
    print("|---|---|---|")
    print(f"| 1 | {one:.1f} | {statistics.median(one_each):.2f} |")
    print(f"| {args.jobs} | {many:.1f} | {statistics.median(many_each):.2f} |")
    print(f"speed-up: {one / many:.2f}x (goal: 1.8x with 2 workers on 2 idle cores)")


if __name__ == "__main__":
    main()
