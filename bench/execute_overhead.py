"""The execution stage's own cost: a trivial notebook through ``autograder.execute`` (isolated and
not) against bare ``papermill.execute_notebook``, interleaved in the same run; plus the kernel's
start-up time as the executor measures it (launch to first kernel_info reply).

    .venv/bin/python bench/execute_overhead.py [--repeats 7]

Isolation needs root; without it only the non-isolated row is measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import papermill

from autograder.execute import Limits, execute_notebook


def trivial_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    tags = ["raises-exception"]
    nb.cells = [
        nbformat.v4.new_code_cell("GRADING = False", metadata={"tags": ["parameters", *tags]}),
        nbformat.v4.new_code_cell("x = 1 + 1", metadata={"tags": tags}),
        nbformat.v4.new_code_cell("print(x, GRADING)", metadata={"tags": tags}),
    ]
    return nb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    nb = trivial_notebook()
    modes = [False] + ([True] if os.geteuid() == 0 else [])
    wall: dict[str, list[float]] = {"bare papermill": []}
    starts: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = tmp / "trivial.ipynb"
        nbformat.write(nb, source)
        for isolate in modes:  # warm-up: imports, the namespace probe, the kernel user
            execute_notebook(nb, workdir=tmp, parameters={"GRADING": True}, isolate=isolate)
        for _ in range(args.repeats):
            began = time.perf_counter()
            papermill.execute_notebook(
                str(source), str(tmp / "out.ipynb"), parameters={"GRADING": True},
                kernel_name="python3", progress_bar=False,
            )  # fmt: skip
            wall["bare papermill"].append(time.perf_counter() - began)
            for isolate in modes:
                name = f"execute, isolate={isolate}"
                workdir = tmp / f"work-{isolate}"
                workdir.mkdir(exist_ok=True)
                began = time.perf_counter()
                result = execute_notebook(
                    nb, workdir=workdir, parameters={"GRADING": True}, limits=Limits(),
                    isolate=isolate, output_path=tmp / "private" / "executed.ipynb",
                )  # fmt: skip
                wall.setdefault(name, []).append(time.perf_counter() - began)
                starts.setdefault(name, []).extend(result.kernel_start_s)
                assert result.failures == {} and result.notebook.cells[-1].outputs
    print(f"trivial notebook (3 cells), {args.repeats} runs each, interleaved")
    print(f"{'':26} {'median s':>9} {'min s':>7} {'kernel start s':>15}")
    base = statistics.median(wall["bare papermill"])
    for name, times in wall.items():
        start = f"{statistics.median(starts[name]):>15.2f}" if name in starts else f"{'':>15}"
        print(f"{name:26} {statistics.median(times):>9.2f} {min(times):>7.2f} {start}")
    for name, times in wall.items():
        if name != "bare papermill":
            print(f"overhead of {name:23} {statistics.median(times) - base:>+6.2f} s (median)")


if __name__ == "__main__":
    main()
