"""The grader's overhead per submission: grading a notebook that does nothing, against running
the same notebook through bare papermill, in the same run.

    .venv/bin/python bench/grader_overhead.py [--repeats 5] [--no-isolate]

The notebook is the parameters cell, one import and one test cell that records a number. Both
sides start a fresh kernel per run; the grader adds intake, assembly, the sandbox (an
unprivileged user, no network, hidden paths, limits, when run as root), reaping, scoring and
results.json. Goal (issue 6): at most 2 s a submission.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import toy_assignment as toy

from autograder import pipeline
from autograder.config import load_assignment

NOTHING = 'record("nothing", 1)'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = tmp / "kit"
        toy.make_root(root)
        # A do-nothing assignment: both answers empty, one test that records a constant.
        for kind in ("source", "release"):
            nb = toy.notebook(q1="pass", q2="pass", t1=NOTHING, t2="pass")
            nb.cells = nb.cells[:5]  # markdown, parameters, set-up, q1, the test
            nbformat.write(nb, root / kind / toy.NAME / "toy.ipynb")
        os.environ["KIT_BUNDLE_DIR"] = str(tmp / "bundles")
        assignment = load_assignment(toy.NAME, root)
        pipeline.build(assignment, device="cpu", isolate=args.isolate)
        submission = root / "release" / toy.NAME / "toy.ipynb"

        bare, graded = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            papermill.execute_notebook(
                str(submission), str(tmp / "out.ipynb"), parameters={"GRADING": True},
                kernel_name="python3", progress_bar=False, cwd=str(tmp),
            )  # fmt: skip
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            results = pipeline.grade(assignment, submission, device="cpu", isolate=args.isolate)
            graded.append(time.perf_counter() - start)
            assert results.results["score"] == 2, results.results  # full marks

    isolation = "on" if args.isolate or (args.isolate is None and os.geteuid() == 0) else "off"
    print(f"do-nothing notebook, {args.repeats} runs each, isolation {isolation}")
    print(f"{'':28} {'median s':>9} {'min s':>7}")
    for name, times in (("bare papermill", bare), ("autograder grade", graded)):
        print(f"{name:28} {statistics.median(times):>9.2f} {min(times):>7.2f}")
    overhead = statistics.median(graded) - statistics.median(bare)
    print(f"{'grader overhead (median)':28} {overhead:>9.2f}   goal: at most 2.00 s")


if __name__ == "__main__":
    main()
