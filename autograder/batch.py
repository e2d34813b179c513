"""Grade a whole course: many submissions on one machine, in parallel, resumably.

``python -m autograder batch <a> SUBMISSIONS --out DIR [--jobs N] [--gpus 0,1] [--force]``

1. **Find** the submissions (:func:`find_submissions`): in ``SUBMISSIONS`` every folder (the
   Gradescope ``/autograder/submission`` layout) and every ``.ipynb`` is one submission; every
   ``.zip`` is an LMS export (:mod:`autograder.exports`) unpacked once into ``DIR/_exports/``.
   ``SUBMISSIONS`` may itself be one export zip.
2. **Grade** each one that is not graded yet (:func:`grade_one`): one child process per
   submission, ``python -m autograder grade``, the same command a Gradescope container runs, so
   a crash, a hang or a leak in one grading never reaches the batch or another submission.
   Each concurrent worker has its own kernel user (``<KIT_KERNEL_USER or kitgrader><n>``), so
   the reaper of one never ends another's kernel; with ``--gpus`` there is one worker per GPU
   and its kernel sees only that GPU (``CUDA_VISIBLE_DEVICES``), otherwise CPU workers whose
   kernels see no GPU at all.
3. **Record**: ``DIR/<submission>/results.json`` (written atomically by the grader),
   ``feedback/``, ``grade.log`` (the grader's console) and ``status.json`` (exit code, time,
   worker), written last, atomically: a submission counts as graded only when its
   ``status.json`` says exit code 0 or 1 and its ``results.json`` is there. An interrupted run
   therefore loses nothing already written, and the next run grades only the rest.
4. **Tabulate** (:func:`write_tables`), from the JSON files only: ``DIR/grades.csv`` (one row
   per submission, one column per test and performance item, the total) and
   ``DIR/leaderboard.md`` (one table per leaderboard item, best first).

The Slurm backend (:mod:`autograder.slurm`) runs step 2 as one array task per submission with
the same :func:`grade_one`, and steps 1 and 4 on the submit host.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import queue
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.exports import ExportError, safe_name, unpack_export
from autograder.report import write_atomic

__all__ = [
    "BatchSummary",
    "Outcome",
    "Submission",
    "Worker",
    "add_arguments",
    "find_submissions",
    "grade_one",
    "is_graded",
    "make_workers",
    "read_json",
    "run_batch",
    "run_from_args",
    "write_tables",
]

EXPORTS_DIR = "_exports"
RESULTS, STATUS, LOG, FEEDBACK = "results.json", "status.json", "grade.log", "feedback"
MAX_JSON_BYTES = 32 * 2**20  # a results.json is a few kB; anything this big is not ours
GRADED_CODES = (0, 1)  # the grader's "full marks" and "graded, points missing"
#: Grader exit codes (autograder.cli) in words, for the failure list.
EXIT_MEANING = {
    2: "bad usage or configuration",
    3: "the grader bundle is missing",
    4: "grader error",
    5: "the kernel did not start",
    6: "isolation unavailable",
}


@dataclass(frozen=True)
class Submission:
    """One submission: ``name`` is its folder under the output folder (a safe name),
    ``path`` the folder or notebook to grade, ``students`` who submitted it (from an export's
    metadata; empty when unknown)."""

    name: str
    path: Path
    students: str = ""


@dataclass(frozen=True)
class Worker:
    """One grading slot: the kernel's user and what GPU its kernel sees.

    ``gpu``: the ``CUDA_VISIBLE_DEVICES`` value to give the kernel ("" = no GPU), or None to
    pass on the caller's (a Slurm task, whose GPU Slurm chose). ``device``: DEVICE for the
    notebook.
    """

    kernel_user: str
    gpu: str | None = ""
    device: str = "cpu"


@dataclass
class Outcome:
    """How one submission's grading ended (what ``status.json`` holds)."""

    submission: str
    students: str
    exit_code: int | None
    graded: bool
    score: float | None
    max_score: float | None
    elapsed_s: float
    kernel_user: str
    gpu: str | None
    message: str

    @property
    def kind(self) -> str:
        """'full', 'partial' or 'failed' (the progress bar's tally)."""
        if not self.graded:
            return "failed"
        return "full" if self.exit_code == 0 else "partial"


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


# -- 2. grade --------------------------------------------------------------------------------


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``, or None when it is missing, a link, too big or not JSON.
    (Results are data: JSON only, never pickle; a link is never followed.)"""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        raw = f.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def is_graded(folder: Path) -> bool:
    """Was this submission graded to the end (exit code 0 or 1, results written)?"""
    status = read_json(folder / STATUS)
    return (
        bool(status)
        and status.get("exit_code") in GRADED_CODES
        and (read_json(folder / RESULTS) is not None)
    )


def grader_command(
    assignment: str, submission: Submission, folder: Path, *, device: str, root: Path | None
) -> list[str]:
    """The one command that grades one submission (the same as a Gradescope container's)."""
    command = [
        sys.executable, "-m", "autograder", "grade", assignment, str(submission.path),
        "--out", str(folder / RESULTS), "--feedback", str(folder / FEEDBACK),
        "--device", device,
    ]  # fmt: skip
    return command + (["--root", str(root)] if root is not None else [])


def _stop(process: subprocess.Popen, grace_s: float = 15.0) -> None:
    """End a grading child: SIGINT first (the grader then reaps its kernel and cleans up),
    SIGKILL to its whole process group when it does not stop in time."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def grade_one(
    assignment: str,
    submission: Submission,
    out: Path,
    worker: Worker,
    *,
    root: Path | None = None,
    timeout_s: float | None = None,
    running: dict[int, subprocess.Popen] | None = None,
) -> Outcome:
    """Grade ``submission`` into ``out/<name>/`` in a child grader; never raises for a broken
    submission or a failed grading: the outcome (also written to ``status.json``) says what
    happened. ``timeout_s`` bounds the whole child (the grader has its own per-cell and total
    limits; this catches a grader that hangs). ``running`` lets the caller stop the child."""
    folder = Path(out) / submission.name
    started = time.monotonic()
    exit_code, message = None, ""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in (STATUS, RESULTS):  # a regrade must not leave the old grade in place
            (folder / stale).unlink(missing_ok=True)
        shutil.rmtree(folder / FEEDBACK, ignore_errors=True)
        env = {**os.environ, "KIT_KERNEL_USER": worker.kernel_user}
        if worker.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = worker.gpu
        command = grader_command(assignment, submission, folder, device=worker.device, root=root)
        with open(folder / LOG, "wb") as log:
            # Own session: a timeout can end the child's whole group without touching ours.
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )  # fmt: skip
            if running is not None:
                running[process.pid] = process
            try:
                exit_code = process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _stop(process)
                message = f"the grader ran past the batch's limit of {timeout_s:g} s and was ended"
            finally:
                if running is not None:
                    running.pop(process.pid, None)
    except OSError as error:
        message = f"could not run the grader: {error}"
    results = read_json(folder / RESULTS)
    graded = exit_code in GRADED_CODES and results is not None
    if not message and not graded:
        meaning = EXIT_MEANING.get(exit_code, "the grader stopped")
        if exit_code is not None and exit_code < 0:
            meaning = f"the grader was ended by signal {-exit_code}"
        tail = _log_tail(folder / LOG)
        message = f"exit code {exit_code} ({meaning})" + (f": {tail}" if tail else "")
        if results is not None:
            message += "; results.json was written and is kept"
    outcome = Outcome(
        submission=submission.name, students=submission.students, exit_code=exit_code,
        graded=graded, score=_number(results, "score"), max_score=_max_score(results),
        elapsed_s=round(time.monotonic() - started, 2), kernel_user=worker.kernel_user,
        gpu=worker.gpu, message=message,
    )  # fmt: skip
    with contextlib.suppress(OSError):
        write_atomic(folder / STATUS, asdict(outcome))
    return outcome


def _log_tail(path: Path, limit: int = 300) -> str:
    """The grader's last meaningful line (its 'error: ...'), cut to ``limit`` characters."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1].strip()[:limit]


def _number(data: dict | None, key: str) -> float | None:
    value = (data or {}).get(key)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number else None


def _tests(results: dict | None) -> list[dict]:
    tests = (results or {}).get("tests")
    return [t for t in tests if isinstance(t, dict) and isinstance(t.get("name"), str)] if (
        isinstance(tests, list)
    ) else []  # fmt: skip


def _max_score(results: dict | None) -> float | None:
    if results is None:
        return None
    return round(sum(_number(t, "max_score") or 0.0 for t in _tests(results)), 4)


def make_workers(jobs: int, gpus: Sequence[str] = (), user_base: str | None = None) -> list[Worker]:
    """One worker per job (CPU) or per GPU, each with its own kernel user.

    >>> [(w.kernel_user, w.gpu, w.device) for w in make_workers(2, user_base="kg")]
    [('kg1', '', 'cpu'), ('kg2', '', 'cpu')]
    >>> [(w.kernel_user, w.gpu, w.device) for w in make_workers(1, ["0", "3"], "kg")]
    [('kg1', '0', 'cuda'), ('kg2', '3', 'cuda')]
    """
    base = user_base or os.environ.get("KIT_KERNEL_USER") or "kitgrader"
    if gpus:
        return [Worker(f"{base}{i + 1}", gpu, "cuda") for i, gpu in enumerate(gpus)]
    return [Worker(f"{base}{i + 1}", "", "cpu") for i in range(max(1, jobs))]


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
            return grade_one(assignment, sub, out, worker, root=root, timeout_s=timeout_s,
                             running=running)  # fmt: skip
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
            _stop(process)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    write_tables(out, submissions)
    return summary


# -- 4. tabulate -----------------------------------------------------------------------------


def _cell(value):
    """A CSV cell that a spreadsheet will not run as a formula (names come from exports)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_tables(out: Path, submissions: Sequence[Submission]) -> tuple[Path, Path]:
    """``out/grades.csv`` and ``out/leaderboard.md`` from each submission's JSON files.

    grades.csv: ``submission, students, status, <one column per test, in the assignment's
    order>, total, max_total``; a submission not graded has an empty score row and its status
    says why. leaderboard.md: one table per leaderboard item, best value first.
    """
    out = Path(out)
    rows, columns, boards = [], [], {}
    for sub in submissions:
        folder = out / sub.name
        results, status = read_json(folder / RESULTS), read_json(folder / STATUS) or {}
        scores = {}
        for test in _tests(results):
            if test["name"] not in columns:
                columns.append(test["name"])
            scores[test["name"]] = _number(test, "score")
        for entry in (results or {}).get("leaderboard") or []:
            value = _number(entry, "value") if isinstance(entry, dict) else None
            if value is not None and isinstance(entry.get("name"), str):
                boards.setdefault(entry["name"], []).append((value, sub.name, sub.students))
        if status.get("exit_code") in GRADED_CODES and results is not None:
            state = "graded"
        elif status:
            state = f"not graded: {status.get('message') or 'unknown'}"
        else:
            state = "not graded yet"
        rows.append((sub, state, scores, _number(results, "score"), _max_score(results)))
    grades = out / "grades.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission", "students", "status", *columns, "total", "max_total"])
    for sub, state, scores, total, possible in rows:
        writer.writerow(
            [
                _cell(sub.name),
                _cell(sub.students),
                _cell(state),
                *(scores.get(c, "") for c in columns),
                "" if total is None else total,
                "" if possible is None else possible,
            ]
        )
    _write_text(grades, buffer.getvalue())
    lines = []
    for name, entries in sorted(boards.items()):
        lines += [f"## {name}", "", "| rank | submission | students | value |",
                  "|---:|---|---|---:|"]  # fmt: skip
        for rank, (value, sub_name, students) in enumerate(
            sorted(entries, key=lambda e: (-e[0], e[1])), start=1
        ):
            who = students.replace("|", "/") or "-"
            lines.append(f"| {rank} | {sub_name} | {who} | {value:.4f} |")
        lines.append("")
    board = out / "leaderboard.md"
    _write_text(board, "\n".join(lines) if lines else "No leaderboard items were recorded.\n")
    return grades, board


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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


def _print_summary(summary: BatchSummary, out: Path) -> None:
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
    if not (pipeline.bundle_dir(assignment) / "expected.json").is_file():
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
    _print_summary(summary, args.out)
    if summary.interrupted:
        return 130
    return 0 if not summary.failed else 1
