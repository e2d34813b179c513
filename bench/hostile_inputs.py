"""The grader on its worst inputs: wall time and peak memory next to a blank submission's.

    .venv/bin/python bench/hostile_inputs.py [--repeats 3] [--cases blank,md-400kB,...]
                                             [--no-isolate] [--timeout 900]

Builds the toy assignment (tests/toy_assignment.py) plus a performance item that reads
``predictions.csv``, then grades each submission below with ``autograder.guard.grade_to_file``
(results and feedback, as ``python -m autograder grade --feedback`` does) in its own child
process, ``repeats`` times:

- ``blank``: the release as handed out (the baseline);
- ``md-400kB``: one markdown cell of 400,000 characters ('[', nbconvert's worst case);
- ``cells-300k``: 300,000 one-line markdown cells;
- ``csv-250MB``: an answer cell that writes a 250 MB ``predictions.csv`` to OUTPUT_DIR;
- ``json-deep``: a notebook file nested 100,000 JSON arrays deep;
- ``tree-1500``: an answer cell that makes a folder tree 1,500 levels deep in OUTPUT_DIR;
- ``disk-full``: an answer cell that writes until the disk is full. The grader's temporary
  folder (work folder, executed notebook) is put on a tmpfs of ``--disk-mb`` MB mounted for the
  run, so the disk that fills is that one, never the machine's.

For each case it prints the median and range (min-max) of the wall time and of the grader's peak
resident memory (``ru_maxrss`` of the grading process itself: not its children, the kernel and the
feedback renderer, whose own peaks Linux cannot tell apart from the grader's memory they were
forked with), the score, the exit code, whether the feedback page was rendered, and the ratios to
the blank run. The load average before each run and
the grader's thread count at the end are printed too: on a shared machine they explain outliers.

Measured on branch h-report, 2026-11-30 (3 runs each, isolation on, shared 2-core machine, load
3.7-4.3; median (min-max); exit 4 = grader error, results.json still lists every test):

    blank       8.1 s (5.0-10.5)    890 MB            exit 0, feedback rendered
    md-400kB    7.4 s (5.3-9.2)     890 MB  x0.91 t   exit 0, feedback rendered (cell as text)
    csv-250MB  16.2 s (12.7-16.6)  2387 MB  x2.68 RSS exit 0 (score.read_predictions reads it whole)
    json-deep   0.1 s               298 MB            exit 4, RecursionError in intake
    tree-1500   1.5 s (1.3-1.8)     298 MB            exit 4, ENAMETOOLONG walking OUTPUT_DIR
    disk-full   8.0 s (6.3-9.0)     890 MB            exit 0 (the kernel got ENOSPC; the sandbox
                                                      freed its home before the grader wrote)
    cells-300k  killed after 16 min (--timeout): the kernel died ("output channel was closed
                (oversized message)") and the grader waited on it; before that 2.4 GB RSS.

Most of the blank run's 890 MB is torch, imported by helpers.data.hidden to read the labels.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import toy_assignment as toy

ROOT = Path(__file__).resolve().parents[1]
CASES = ("blank", "md-400kB", "cells-300k", "csv-250MB", "json-deep", "tree-1500", "disk-full")

# Added after the build: the hidden labels are written by hand below (the table is never read).
PERFORMANCE = """
[hidden_data]
dataset = "fashion-mnist"

[[performance]]
name = "Accuracy on the hidden images"
predictions = "predictions.csv"
zero_at = 0.5
full_at = 0.9
max_score = 10.0
"""
HIDDEN_IDS = 1_000

WRITE_CSV = """\
import os
row = "img_00000,1\\n"
with open(os.path.join(OUTPUT_DIR, "predictions.csv"), "w") as f:
    f.write("id,label\\n")
    block = row * 100_000
    for _ in range(250 * 2**20 // len(block)):
        f.write(block)
"""
DEEP_TREE = """\
import os
fd = os.open(OUTPUT_DIR, os.O_RDONLY)
for _ in range(1_500):
    os.mkdir("level_dir", dir_fd=fd)
    fd = os.open("level_dir", os.O_RDONLY, dir_fd=fd)
"""
FILL_DISK = """\
chunk = b"x" * 2**20
n = 0
try:
    while True:
        with open(f"fill_{n}.bin", "wb") as f:
            for _ in range(64):
                f.write(chunk)
        n += 1
except OSError as error:
    print("disk full after", n, "files:", error)
"""


def _release_with(path: Path, *extra_cells, **answers) -> dict:
    nb = nbformat.read(toy.student(path, **answers), as_version=4)
    nb.cells += list(extra_cells)
    return nb


def write_submissions(folder: Path) -> dict[str, Path]:
    """One folder per case, each holding ``toy.ipynb``."""
    made = {}
    for case in CASES:
        sub = folder / case
        sub.mkdir(parents=True)
        target = sub / "toy.ipynb"
        if case == "json-deep":
            depth = 100_000
            target.write_text('{"cells": [], "metadata": ' + "[" * depth + "]" * depth + "}")
        else:
            if case == "md-400kB":
                nb = _release_with(target, nbformat.v4.new_markdown_cell("[" * 400_000))
            elif case == "cells-300k":
                nb = _release_with(target)
                nb.cells += [{"cell_type": "markdown", "metadata": {}, "source": f"cell {i}",
                              "id": f"tiny-{i}"} for i in range(300_000)]  # fmt: skip
            else:
                answer = {"csv-250MB": WRITE_CSV, "tree-1500": DEEP_TREE,
                          "disk-full": FILL_DISK}.get(case)  # fmt: skip
                nb = _release_with(target, **({"q1": answer} if answer else {}))
            # json, not nbformat.write: nbformat validates every cell (minutes for 300,000).
            target.write_text(json.dumps(nb))
        made[case] = sub
    return made


def build(root: Path, bundles: Path, isolate: bool | None) -> None:
    """The toy assignment built, then given a performance item and hidden labels."""
    from autograder import pipeline
    from autograder.config import load_assignment

    toy.make_root(root)
    pipeline.build(load_assignment(toy.NAME, root), device="cpu", isolate=isolate)
    config = root / "assignments" / toy.NAME / "assignment.toml"
    config.write_text(config.read_text() + PERFORMANCE)
    labels = bundles / toy.NAME / "hidden" / "labels"
    labels.mkdir(parents=True)
    rows = "".join(f"img_{i:05d},{i % 10}\n" for i in range(HIDDEN_IDS))
    (labels / "labels.csv").write_text("id,label\n" + rows)


# ------------------------------------------------------------------------------------ child
def child(root: Path, submission: Path, out: Path, isolate: bool | None) -> None:
    """Grade one submission in this process; print one JSON line of measurements."""
    from autograder.cli import EXIT_BY_FAILURE
    from autograder.config import load_assignment
    from autograder.guard import grade_to_file

    assignment = load_assignment(toy.NAME, root)
    started = time.perf_counter()
    graded, failure = grade_to_file(assignment, submission, out / "results.json", device="cpu",
                                    isolate=isolate, feedback_dir=out / "feedback")  # fmt: skip
    wall = time.perf_counter() - started
    threads = len(os.listdir("/proc/self/task")) if Path("/proc/self/task").is_dir() else None
    print(json.dumps({
        "wall_s": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": threads or threading.active_count(),
        "score": graded.results.get("score"),
        "tests": len(graded.results.get("tests", [])),
        "exit": EXIT_BY_FAILURE[failure.kind] if failure else 0,
        "failure": failure.message[:120] if failure else "",
        "feedback": "short page" if failure or graded.unrendered else
                    ("rendered" if graded.feedback else "none"),
        "results_written": (out / "results.json").is_file(),
    }))  # fmt: skip


# ----------------------------------------------------------------------------------- parent
def _mount_tmpfs(where: Path, size_mb: int) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs",
                           str(where)], capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        print(f"  (disk-full skipped: cannot mount a tmpfs: {done.stderr.strip()})")
    return done.returncode == 0


def run_case(args, root, sub, env, scratch: Path) -> dict | None:
    out = Path(tempfile.mkdtemp(dir=scratch))
    command = [sys.executable, __file__, "--child", str(root), str(sub), str(out)]
    if args.isolate is not None:
        command.append("--isolate" if args.isolate else "--no-isolate")
    load = os.getloadavg()[0]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=args.timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"over the {args.timeout} s limit", "load": load}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"child exit {done.returncode}: {tail[:150]}", "load": load}
    return {**json.loads(lines[-1]), "load": load}


def _spread(values: list[float], unit: str, digits: int = 1) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:.{digits}f} {unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma-separated, of " + ", ".join(CASES)
    )
    parser.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per grading")
    parser.add_argument("--disk-mb", type=int, default=512, help="the tmpfs that disk-full fills")
    parser.add_argument("--child", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, isolate=args.isolate)
        return
    cases = [c for c in args.cases.split(",") if c]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; valid: {', '.join(CASES)}")
    if "blank" not in cases:
        cases.insert(0, "blank")

    with tempfile.TemporaryDirectory(prefix="kit-hostile-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        root, bundles = tmp / "kit", tmp / "bundles"
        os.environ["KIT_BUNDLE_DIR"] = str(bundles)
        build(root, bundles, args.isolate)
        subs = write_submissions(tmp / "submissions")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}  # fmt: skip
        fill = tmp / "fill"
        mounted = "disk-full" in cases and _mount_tmpfs(fill, args.disk_mb)
        if "disk-full" in cases and not mounted:
            cases.remove("disk-full")
        measured: dict[str, list[dict]] = {}
        try:
            for repeat in range(args.repeats):
                for case in cases:
                    case_env = {**env, "TMPDIR": str(fill)} if case == "disk-full" else env
                    result = run_case(args, root, subs[case], case_env, tmp)
                    measured.setdefault(case, []).append(result)
                    shown = result.get("error") or (
                        f"{result['wall_s']:.1f} s, {result['peak_rss_mb']:.0f} MB"
                    )
                    print(f"  run {repeat + 1} {case:11} {shown}", flush=True)
        finally:
            if mounted:
                subprocess.run(["umount", str(fill)], check=False)

    isolation = "on" if args.isolate or (args.isolate is None and os.geteuid() == 0) else "off"
    print(f"\nhostile inputs, {args.repeats} runs each, isolation {isolation}, "
          f"{os.cpu_count()} CPUs; median (min-max)")  # fmt: skip
    head = (f"{'case':11} {'wall':>22} {'grader peak RSS':>24} "
            f"{'x blank t':>9} {'x blank RSS':>11} {'load':>5} {'thr':>3}  outcome")  # fmt: skip
    print(head)
    base = [r for r in measured.get("blank", []) if "error" not in r]
    base_t = statistics.median([r["wall_s"] for r in base]) if base else float("nan")
    base_m = statistics.median([r["peak_rss_mb"] for r in base]) if base else float("nan")
    for case in cases:
        runs = measured[case]
        ok = [r for r in runs if "error" not in r]
        errors = sorted({r["error"] for r in runs if "error" in r})
        loads = statistics.median([r["load"] for r in runs])
        if not ok:
            print(f"{case:11} {'-':>22} {'-':>24} {'':>9} {'':>11} {loads:>5.1f} "
                  f"{'':>3}  {'; '.join(errors)}")  # fmt: skip
            continue
        t = [r["wall_s"] for r in ok]
        m = [r["peak_rss_mb"] for r in ok]
        last = ok[-1]
        outcome = (f"exit {last['exit']}, score {last['score']}, {last['tests']} tests, "
                   f"feedback {last['feedback']}"
                   + (f", {last['failure']}" if last["failure"] else "")
                   + (f"; failed runs: {'; '.join(errors)}" if errors else ""))  # fmt: skip
        print(f"{case:11} {_spread(t, 's'):>22} {_spread(m, 'MB', 0):>24} "
              f"{statistics.median(t) / base_t:>9.2f} {statistics.median(m) / base_m:>11.2f} "
              f"{loads:>5.1f} {last['threads']:>3}  {outcome}")  # fmt: skip


if __name__ == "__main__":
    main()
