"""Grade a whole course: many submissions on one machine, in parallel, resumably.

``python -m autograder batch <a> SUBMISSIONS --out DIR [--jobs N] [--gpus 0,1] [--force]``

1. **Find** the submissions (:func:`find_submissions`): in ``SUBMISSIONS`` every folder (the
   Gradescope ``/autograder/submission`` layout) and every ``.ipynb`` is one submission; every
   ``.zip`` is an LMS export (:mod:`autograder.exports`) unpacked once into ``DIR/_exports/``.
   ``SUBMISSIONS`` may itself be one export zip.
2. **Grade** each one not graded yet (:mod:`autograder.batch_worker`): one child process per
   submission, ``python -m autograder grade``, the same command a Gradescope container runs, so
   a crash, a hang or a leak in one grading never reaches the batch or another submission.
   Each concurrent worker has its own kernel user (``<KIT_KERNEL_USER or kitgrader><n>``), so
   the reaper of one never ends another's kernel; with ``--gpus`` (ids checked against the
   driver's list first) there is one worker per GPU and its kernel can open only that GPU's
   device node (:mod:`autograder.sandbox.gpus`), otherwise CPU workers whose kernels see no
   GPU at all.
3. **Record**: ``DIR/<submission>/results.json`` (written atomically by the grader),
   ``feedback/``, ``grade.log`` (the grader's console) and ``status.json`` (exit code, time,
   CPU time, worker), written last, atomically: a submission counts as graded only when its
   ``status.json`` says exit code 0 or 1 and its ``results.json`` is there. An interrupted run
   therefore loses nothing already written, and the next run grades only the rest.
4. **Tabulate** (:mod:`autograder.gradebook`), from the JSON files only: ``DIR/grades.csv``
   (one row per submission, one column per test and performance item, the total) and
   ``DIR/leaderboard.md`` (one table per leaderboard item, best first).

The Slurm backend (:mod:`autograder.slurm`) runs step 2 as one array task per submission with
the same :func:`grade_one`, and steps 1 and 4 on the submit host.
"""

from __future__ import annotations

import argparse
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from autograder import batch_worker
from autograder.batch_worker import (
    LOG,
    Outcome,
    Submission,
    Worker,
    is_graded,
    make_workers,
    read_json,
)  # fmt: skip
from autograder.exports import ExportError, safe_name, unpack_export
from autograder.gradebook import write_tables
from autograder.manifest import MANIFEST_FILE
from autograder.report import write_atomic
from autograder.sandbox.gpus import unknown_gpus

__all__ = [
    "BatchSummary",
    "add_arguments",
    "default_timeout_s",
    "find_submissions",
    "print_summary",
    "run_batch",
    "run_from_args",
]

EXPORTS_DIR = "_exports"


@dataclass
class BatchSummary:
    """What a batch run did: how many it found, skipped as already graded, graded now, and
    the failures (name -> reason)."""

    found: int = 0
    skipped: int = 0
    graded: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False
    collected: bool = False  # a Slurm collect: ``graded`` counts every graded submission


# -- 1. find ---------------------------------------------------------------------------------


def _unpack_once(zip_path: Path, exports_dir: Path, notes: list[str]) -> list[Submission]:
    """Unpack an export into ``exports_dir/<zip stem>/`` unless a finished unpack is there
    (its ``export.json`` is written last)."""
    target = exports_dir / safe_name(zip_path.stem)
    index = target / "export.json"
    if not index.is_file():
        shutil.rmtree(target, ignore_errors=True)  # an earlier unpack that did not finish
        try:
            unpacked = unpack_export(zip_path, target / "files")
        except ExportError as error:
            shutil.rmtree(target, ignore_errors=True)
            notes.append(f"{zip_path.name}: not read: {error}")
            return []
        notes += [f"{zip_path.name}: left out {s}" for s in unpacked.skipped]
        write_atomic(
            index,
            {"layout": unpacked.layout, "students": unpacked.students,
             "folders": sorted(unpacked.folders)},
        )  # fmt: skip
    data = read_json(index) or {}
    students = data.get("students", {}) if isinstance(data.get("students"), dict) else {}
    return [
        Submission(name, target / "files" / name, str(students.get(name, "")))
        for name in data.get("folders", [])
        if isinstance(name, str) and name == safe_name(name)
    ]


def find_submissions(source: Path, out: Path) -> tuple[list[Submission], list[str]]:
    """The submissions in ``source`` (a folder of submissions, or one export zip), sorted by
    name, with notes on what was left out. Export zips are unpacked under ``out/_exports``.

    Names are made safe and unique (``name``, ``name-2``, ...), since each becomes a folder.
    """
    source, notes = Path(source), []
    exports_dir = Path(out) / EXPORTS_DIR
    found: list[Submission] = []
    if source.is_file() and source.suffix == ".zip":
        found = _unpack_once(source, exports_dir, notes)
    elif source.is_file() and source.suffix == ".ipynb":
        found = [Submission(safe_name(source.stem), source)]
    elif source.is_dir():
        for entry in sorted(source.iterdir()):
            if entry.resolve() == Path(out).resolve():
                continue  # the output folder inside the submissions folder is not one of them
            if entry.name.startswith(".") or entry.is_symlink():
                if entry.is_symlink():
                    notes.append(f"{entry.name}: left out (a link; copy the real files in)")
                continue
            if entry.is_dir():
                found.append(Submission(safe_name(entry.name), entry))
            elif entry.suffix == ".ipynb":
                found.append(Submission(safe_name(entry.stem), entry))
            elif entry.suffix == ".zip":
                found += _unpack_once(entry, exports_dir, notes)
            else:
                notes.append(f"{entry.name}: left out (not a folder, a notebook or a zip)")
    else:
        raise FileNotFoundError(
            f"No submissions at {source}: expected a folder of submissions (one folder or "
            ".ipynb each) or an export zip from Gradescope, Canvas or Moodle."
        )
    unique, seen = [], set()
    for sub in found:
        name, n = sub.name, 1
        while name in seen or name == EXPORTS_DIR:
            n += 1
            name = f"{sub.name}-{n}"
        seen.add(name)
        unique.append(Submission(name, sub.path, sub.students))
    return sorted(unique, key=lambda s: s.name), notes


def _progress(total: int, initial: int):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="submission", dynamic_ncols=True,
                file=sys.stderr, disable=None)  # fmt: skip


def run_batch(
    assignment: str,
    source: Path,
    out: Path,
    *,
    jobs: int = 1,
    gpus: Sequence[str] = (),
    force: bool = False,
    root: Path | None = None,
    timeout_s: float | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> BatchSummary:
    """Grade every submission in ``source`` not yet graded in ``out``; write the tables.

    Ctrl-C stops the running gradings (each child reaps its own kernel), keeps every
    submission already graded and still writes the tables of what is done.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    submissions, notes = find_submissions(source, out)
    summary = BatchSummary(found=len(submissions), notes=notes)
    todo = [s for s in submissions if force or not is_graded(out / s.name)]
    summary.skipped = len(submissions) - len(todo)
    workers = make_workers(jobs, gpus)
    free: queue.Queue[Worker] = queue.Queue()
    for worker in workers:
        free.put(worker)
    running: dict[int, subprocess.Popen] = {}
    stopping = threading.Event()
    tally = {"full": 0, "partial": 0, "failed": 0}

    def one(sub: Submission) -> Outcome | None:
        if stopping.is_set():
            return None
        worker = free.get()
        try:
            if stopping.is_set():
                return None
            return batch_worker.grade_one(
                assignment, sub, out, worker, root=root, timeout_s=timeout_s, running=running
            )
        finally:
            free.put(worker)

    bar = _progress(len(submissions), summary.skipped)
    pool = ThreadPoolExecutor(max_workers=len(workers), thread_name_prefix="grade")
    try:
        futures = {pool.submit(one, sub): sub for sub in todo}
        for future in as_completed(futures):
            outcome = future.result()
            if outcome is None:
                continue
            tally[outcome.kind] += 1
            if outcome.graded:
                summary.graded += 1
            else:
                summary.failed[outcome.submission] = outcome.message
            if on_outcome is not None:
                on_outcome(outcome)
            bar.set_postfix(tally, refresh=False)
            bar.update(1)
    except KeyboardInterrupt:
        summary.interrupted = True
        stopping.set()
        for process in list(running.values()):
            batch_worker.stop(process)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    write_tables(out, submissions)
    return summary


# -- command line ----------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``batch`` sub-command's options (kept here so that cli.py only dispatches)."""
    p.add_argument("assignment", help="assignment name (a folder under assignments/)")
    p.add_argument(
        "submissions",
        type=Path,
        help="folder of submissions (a folder or .ipynb each) or an export zip",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--root", type=Path, default=None, help="the kit's root (default: here)")
    p.add_argument("--jobs", type=int, default=1, help="parallel CPU workers (default: 1)")
    p.add_argument(
        "--gpus",
        default="",
        help="GPU ids, e.g. 0,1: one worker per GPU, each kernel sees only its own",
    )
    p.add_argument("--force", action="store_true", help="regrade submissions already graded")
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds one grading may take in all (default: 3 x its total time limit + 300)",
    )
    p.add_argument("--backend", choices=("local", "slurm"), default="local",
                   help="grade here (local) or as one Slurm job array (slurm)")  # fmt: skip
    slurm = p.add_argument_group("slurm backend")
    slurm.add_argument(
        "--resume",
        action="store_true",
        help="submit again only the submissions not graded (failed or missing)",
    )
    slurm.add_argument("--collect", action="store_true",
                       help="submit nothing: list the state and write the tables")  # fmt: skip
    slurm.add_argument("--wait", action="store_true",
                       help="after submitting, wait for the jobs and collect")  # fmt: skip
    slurm.add_argument("--gres", default=None, help="generic resources per task, e.g. gpu:1")
    slurm.add_argument("--partition", default=None, help="Slurm partition")
    slurm.add_argument("--time", default=None, help="time limit per task, e.g. 00:30:00")
    slurm.add_argument(
        "--sbatch-arg",
        action="append",
        default=[],
        help="one more sbatch option, e.g. --sbatch-arg=--mem=8G (repeatable)",
    )


def default_timeout_s(assignment) -> float:
    """How long one grading may take before the batch ends it: three times the notebooks'
    total time limits (a kernel that dies is restarted and the rest re-run) plus 5 minutes for
    start-up, scoring and feedback. Only a grader that hangs ever meets it."""
    return 3 * assignment.limits.total_timeout_s * len(assignment.notebooks) + 300


def print_summary(summary: BatchSummary, out: Path) -> None:
    for note in summary.notes:
        print(f"  note: {note}")
    if summary.collected:
        print(f"{summary.found} submissions: {summary.graded} graded, "
              f"{len(summary.failed)} not graded.")  # fmt: skip
    else:
        print(
            f"{summary.found} submissions: {summary.graded} graded now, {summary.skipped} "
            f"already graded, {len(summary.failed)} not graded."
        )
    for name, reason in sorted(summary.failed.items()):
        print(f"  not graded: {name}: {reason} (see {out / name / LOG})")
    if summary.failed and not summary.collected:
        print("Run the same command again to retry those (graded ones are skipped).")
    if summary.interrupted:
        print("Interrupted: everything graded so far is kept; run again to grade the rest.")
    print(f"Grades: {out / 'grades.csv'}; leaderboard: {out / 'leaderboard.md'}")


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``batch`` from parsed arguments. Exit code 0: every submission graded; 1: some
    could not be graded (listed; run again to retry); 2: bad usage."""
    from autograder import pipeline
    from autograder.config import load_assignment

    assignment = load_assignment(args.assignment, args.root)  # ConfigError: exit 2 in cli
    if not (pipeline.bundle_dir(assignment) / MANIFEST_FILE).is_file():
        raise pipeline.BuildError(
            f"No grader bundle for {assignment.name} at {pipeline.bundle_dir(assignment)}. "
            f"Run `python -m autograder build {assignment.name}` first."
        )
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()]
    bad = [g for g in gpus if not re.fullmatch(r"[0-9]+|(GPU|MIG)-[0-9A-Za-z/-]+", g)]
    if bad:
        listed = ", ".join(map(repr, bad))
        print(f"error: --gpus takes GPU indices or UUIDs separated by commas (e.g. 0,1), got "
              f"{listed}. `nvidia-smi -L` lists them.", file=sys.stderr)  # fmt: skip
        return 2
    if unknown := unknown_gpus(gpus):
        listed = "; ".join(f"{g} is not a GPU of this machine: {why}" for g, why in unknown.items())
        print(f"error: --gpus {listed}. `nvidia-smi -L` lists them.", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"error: --jobs must be 1 or more, got {args.jobs}.", file=sys.stderr)
        return 2
    if not args.submissions.exists():
        print(f"error: {args.submissions} does not exist: give a folder of submissions or an "
              "export zip.", file=sys.stderr)  # fmt: skip
        return 2
    if args.backend == "slurm":
        from autograder import slurm

        return slurm.run_from_args(args, assignment)
    if gpus and args.jobs not in (1, len(gpus)):
        print(f"  note: with --gpus there is one worker per GPU: {len(gpus)} workers, "
              f"not --jobs {args.jobs}.")  # fmt: skip
    summary = run_batch(
        assignment.name, args.submissions, args.out, jobs=args.jobs, gpus=gpus,
        force=args.force, root=args.root, timeout_s=args.timeout or default_timeout_s(assignment),
    )  # fmt: skip
    print_summary(summary, args.out)
    if summary.interrupted:
        return 130
    return 0 if not summary.failed else 1
