"""Batch grading speed-up: N workers against 1, with what the machine had free said beside it.

    .venv/bin/python bench/batch.py [--submissions 20] [--jobs 2] [--repeats 2]

Builds the toy assignment (tests/toy_assignment.py: two tests) in a temporary kit root, writes
the submissions (solved, half solved, blank, in turn), and times the whole
``python -m autograder batch`` command into fresh output folders. Each repeat runs 1, N, N, 1
workers, so that a load that rises or falls during a repeat weighs on both sides alike.

On a shared machine a wall-clock ratio alone says little: two workers can win a larger share
of a saturated machine from other work (a speed-up above N), or lose it. So each run also
reports, measured rather than assumed:

- **batch CPU s**: CPU time of the whole batch command and everything under it (graders and
  kernels: ``getrusage(RUSAGE_CHILDREN)``), and **batch cores**, that divided by the wall time;
- **other cores**: the rest of the machine's busy CPU time meanwhile (``/proc/stat``), per
  second: what the batch had to share the CPUs with;
- **load** (1-minute average) before and after, and **runnable**, the mean count of runnable
  tasks on the machine (``/proc/loadavg``, sampled every second);
- **CPU s per worker**: each worker's gradings added up, from the ``cpu_s`` that every
  ``status.json`` records (``wait4``: grader and kernel together);
- **kernel threads**: the most threads the processes of each worker's kernel user held at once
  (sampled every second): more threads than cores, summed over workers, means the workers
  compete for cores even on a quiet machine.

The summary gives, per side, the median wall time and its range over runs, and the speed-up
from the medians with the range of the ratio over all pairs of runs. Goal (issue 17): 1.8x
with 2 workers on 2 cores, to be judged against "other cores": on an idle machine it is near 0.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import toy_assignment as toy

from autograder import pipeline
from autograder.config import load_assignment
from autograder.contract import KERNEL_USER_ENV

ANSWERS = (
    {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"},
    {"q1": "def add(a, b):\n    return a + b"},
    {},
)
#: Variables that set how many threads numeric libraries start, shown as the bench saw them.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "KIT_NUM_THREADS")


@dataclass
class Run:
    """One batch command: its figures (seconds unless said)."""

    jobs: int
    wall: float = 0.0
    batch_cpu: float = 0.0
    other_cores: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0
    runnable: list[int] = field(default_factory=list)
    threads: dict[str, int] = field(default_factory=dict)  # kernel user -> most threads seen
    cpu_per_worker: dict[str, float] = field(default_factory=dict)
    per_submission: list[float] = field(default_factory=list)


def _busy_ticks() -> int:
    """Busy CPU ticks of the whole machine since boot, all CPUs (first line of /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]  # all but idle and iowait


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _sample(run: Run, users: list[str], stop: threading.Event) -> None:
    """Every second: runnable tasks on the machine, and threads per kernel user."""
    while not stop.wait(1.0):
        run.runnable.append(int(Path("/proc/loadavg").read_text().split()[3].split("/")[0]))
        uids = {}
        for user in users:
            try:
                uids[pwd.getpwnam(user).pw_uid] = user
            except KeyError:  # made by the grader on first use
                continue
        counts: dict[str, int] = defaultdict(int)
        for p in psutil.process_iter(["uids", "num_threads"]):
            uid = p.info["uids"].real if p.info["uids"] else None
            if uid in uids:
                counts[uids[uid]] += p.info["num_threads"] or 0
        for user, count in counts.items():
            run.threads[user] = max(run.threads.get(user, 0), count)


def timed_batch(root: Path, subs: Path, out: Path, jobs: int) -> Run:
    """Run one whole batch command with ``jobs`` workers and measure it (see the docstring)."""
    run = Run(jobs, load_before=os.getloadavg()[0])
    base = os.environ.get(KERNEL_USER_ENV) or "kitgrader"
    stop = threading.Event()
    sampler = threading.Thread(
        target=_sample, args=(run, [f"{base}{i + 1}" for i in range(jobs)], stop), daemon=True
    )
    busy_before = _busy_ticks()
    cpu_before = _children_cpu()
    started = time.perf_counter()
    sampler.start()
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "batch", toy.NAME, str(subs), "--out", str(out),
         "--root", str(root), "--jobs", str(jobs)],
        capture_output=True, text=True,
    )  # fmt: skip
    run.wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    run.batch_cpu = _children_cpu() - cpu_before
    busy_after = _busy_ticks()
    run.load_after = os.getloadavg()[0]
    if done.returncode != 0:
        sys.exit(f"batch --jobs {jobs} failed (exit {done.returncode}):\n"
                 f"{done.stdout}{done.stderr}")  # fmt: skip
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    machine_busy_cores = (busy_after - busy_before) / ticks_per_s / run.wall
    run.other_cores = max(0.0, machine_busy_cores - run.batch_cpu / run.wall)
    for path in out.glob("*/status.json"):
        status = json.loads(path.read_text())
        run.per_submission.append(status["elapsed_s"])
        worker = status["kernel_user"]
        run.cpu_per_worker[worker] = run.cpu_per_worker.get(worker, 0.0) + (status["cpu_s"] or 0)
    return run


def _fmt_range(values: list[float], unit: str = "") -> str:
    med = statistics.median(values)
    return f"{med:.1f}{unit} ({min(values):.1f}-{max(values):.1f})"


def report(runs: list[Run], jobs: int, submissions: int, repeats: int) -> None:
    """Print the per-run table and the summary (markdown, for the README)."""
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0))
    threads = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in THREAD_VARIABLES)
    print(f"{submissions} submissions of the toy assignment; {jobs} workers against 1; "
          f"{repeats} repeat(s) of 1, {jobs}, {jobs}, 1 workers")  # fmt: skip
    print(f"machine: {cpus} CPUs ({usable} usable here); thread settings seen by the bench: "
          f"{threads} (the kernel's environment is built afresh: none of them reach it)"
          )  # fmt: skip
    print()
    print("| run | workers | wall s | batch CPU s | batch cores | other cores | load before "
          "-> after | runnable | CPU s per worker | kernel threads (most) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(runs, 1):
        per_worker = ", ".join(f"{v:.1f}" for _, v in sorted(r.cpu_per_worker.items()))
        threads_seen = ", ".join(str(v) for _, v in sorted(r.threads.items())) or "-"
        runnable = f"{statistics.mean(r.runnable):.1f}" if r.runnable else "-"
        print(f"| {i} | {r.jobs} | {r.wall:.1f} | {r.batch_cpu:.1f} | {r.batch_cpu / r.wall:.2f} "
              f"| {r.other_cores:.2f} | {r.load_before:.2f} -> {r.load_after:.2f} | {runnable} "
              f"| {per_worker} | {threads_seen} |")  # fmt: skip
    print()
    print("| workers | runs | wall s, median (range) | batch cores, median | other cores, "
          "median | median s per submission |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    walls = {}
    for side in (1, jobs):
        mine = [r for r in runs if r.jobs == side]
        walls[side] = [r.wall for r in mine]
        cores = statistics.median(r.batch_cpu / r.wall for r in mine)
        other = statistics.median(r.other_cores for r in mine)
        each = statistics.median(s for r in mine for s in r.per_submission)
        print(f"| {side} | {len(mine)} | {_fmt_range(walls[side])} | {cores:.2f} | {other:.2f} "
              f"| {each:.2f} |")  # fmt: skip
    ratios = [a / b for a in walls[1] for b in walls[jobs]]
    speed_up = statistics.median(walls[1]) / statistics.median(walls[jobs])
    print()
    print(f"speed-up: {speed_up:.2f}x from the medians (pairs of runs: {min(ratios):.2f}x to "
          f"{max(ratios):.2f}x); goal 1.8x with 2 workers on 2 cores, on a machine whose other "
          "cores stay near 0")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20, help="how many (default 20)")
    parser.add_argument("--jobs", type=int, default=2, help="workers on the parallel side")
    parser.add_argument("--repeats", type=int, default=2, help="repeats of 1, N, N, 1 workers")
    args = parser.parse_args()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="kit-bench-batch-") as tmp:
        tmp = Path(tmp)
        root = toy.make_root(tmp / "kit")
        os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
        pipeline.build(load_assignment(toy.NAME, root), device="cpu")
        subs = tmp / "subs"
        for i in range(args.submissions):
            toy.student(subs / f"student{i:02d}" / "toy.ipynb", **ANSWERS[i % len(ANSWERS)])
        order = [1, args.jobs, args.jobs, 1] * args.repeats
        for k, jobs in enumerate(order):
            runs.append(timed_batch(root, subs, tmp / f"out{k}", jobs))
            print(f"run {k + 1} of {len(order)}: {jobs} worker(s), {runs[-1].wall:.1f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
    report(runs, args.jobs, args.submissions, args.repeats)


if __name__ == "__main__":
    main()
