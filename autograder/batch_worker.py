"""One submission graded in a child grader, for a batch on one machine or a Slurm task.

:func:`grade_one` runs ``python -m autograder grade`` (the command a Gradescope container runs)
for one submission, as one :class:`Worker`: its own kernel user (``KIT_KERNEL_USER``, so the
reaper of one worker never ends another's kernel) and the GPU its kernel may see
(``CUDA_VISIBLE_DEVICES``, and ``KIT_KERNEL_GPUS``: the kernel's ``/dev`` holds no other GPU's
device node, :mod:`autograder.sandbox.gpus`). It writes ``<out>/<submission>/``:
``results.json`` (by the grader, atomically), ``feedback/``, ``grade.log`` (the grader's
console) and, last, ``status.json`` (:class:`Outcome`). A submission counts as graded
(:func:`is_graded`) only when its ``status.json`` says exit code 0 or 1 and its
``results.json`` is there, so an interrupted run loses nothing already written. Results are
read as JSON only (:func:`read_json`: no link followed, size bounded), never unpickled.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.contract import HIDE_ENV, KERNEL_USER_ENV
from autograder.report import write_atomic
from autograder.sandbox.gpus import KERNEL_GPUS_ENV

__all__ = [
    "GRADED_CODES",
    "Outcome",
    "Submission",
    "Worker",
    "grade_one",
    "grader_command",
    "is_graded",
    "make_workers",
    "max_score_of",
    "number",
    "read_json",
    "results_tests",
    "stop",
    "wait_with_cpu_time",
]

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
    #: CPU seconds the child grader used, its kernel and every other descendant it waited for
    #: included (user + system); None where it was ended or reaped elsewhere.
    cpu_s: float | None = None

    @property
    def kind(self) -> str:
        """'full', 'partial' or 'failed' (the progress bar's tally)."""
        if not self.graded:
            return "failed"
        return "full" if self.exit_code == 0 else "partial"


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``, or None when it is missing, a link, too big or not JSON.
    (Results are data: JSON only, never pickle; a link is never followed.)"""
    try:
        # O_NONBLOCK: a FIFO in a result's place must not hang the batch (checked below).
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags)
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


def stop(process: subprocess.Popen, grace_s: float = 15.0) -> None:
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
    exit_code, message, cpu_s = None, "", None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in (STATUS, RESULTS):  # a regrade must not leave the old grade in place
            (folder / stale).unlink(missing_ok=True)
        shutil.rmtree(folder / FEEDBACK, ignore_errors=True)
        env = {**os.environ, KERNEL_USER_ENV: worker.kernel_user}
        # Every kernel of the batch must not see the other submissions nor the graded ones
        # (results and feedback of classmates): both folders are hidden from it.
        hide = [str(Path(out).resolve()), str(Path(submission.path).resolve().parent)]
        env[HIDE_ENV] = os.pathsep.join([*hide, *filter(None, [os.environ.get(HIDE_ENV)])])
        if worker.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = worker.gpu
            # ... and its kernel keeps no other GPU's device node (the variable steers CUDA,
            # the student's code can change it; see autograder.sandbox.gpus).
            env[KERNEL_GPUS_ENV] = worker.gpu
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
                exit_code, cpu_s = wait_with_cpu_time(process, timeout_s)
            except subprocess.TimeoutExpired:
                stop(process)
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
        graded=graded, score=number(results, "score"), max_score=max_score_of(results),
        elapsed_s=round(time.monotonic() - started, 2), kernel_user=worker.kernel_user,
        gpu=worker.gpu, message=message, cpu_s=None if cpu_s is None else round(cpu_s, 2),
    )  # fmt: skip
    with contextlib.suppress(OSError):
        write_atomic(folder / STATUS, asdict(outcome))
    return outcome


def wait_with_cpu_time(
    process: subprocess.Popen, timeout_s: float | None
) -> tuple[int, float | None]:
    """Wait for ``process`` like ``Popen.wait``; (its exit code, the CPU seconds it used).

    ``wait4`` gives the child's resource use, which includes every descendant it waited for
    (the grader's launcher, init and kernel): Popen's own wait discards it. The process's pid
    file descriptor wakes the wait without polling. Raises ``subprocess.TimeoutExpired``
    after ``timeout_s``. Where another thread reaped the child first (a batch being
    stopped), the exit code is Popen's and the CPU time None.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        exited = os.pidfd_open(process.pid)
    except OSError:  # reaped already, or Linux < 5.3: poll below
        exited = None
    try:
        while True:
            try:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            except ChildProcessError:
                return process.wait(), None
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                return process.returncode, usage.ru_utime + usage.ru_stime
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(process.args, timeout_s)
            if exited is not None:
                select.select([exited], [], [], left)
            else:
                time.sleep(0.05 if left is None else min(0.05, left))
    finally:
        if exited is not None:
            os.close(exited)


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


def number(data: dict | None, key: str) -> float | None:
    value = (data or {}).get(key)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number else None


def results_tests(results: dict | None) -> list[dict]:
    tests = (results or {}).get("tests")
    return [t for t in tests if isinstance(t, dict) and isinstance(t.get("name"), str)] if (
        isinstance(tests, list)
    ) else []  # fmt: skip


def max_score_of(results: dict | None) -> float | None:
    if results is None:
        return None
    return round(sum(number(t, "max_score") or 0.0 for t in results_tests(results)), 4)


def make_workers(jobs: int, gpus: Sequence[str] = (), user_base: str | None = None) -> list[Worker]:
    """One worker per job (CPU) or per GPU, each with its own kernel user.

    >>> [(w.kernel_user, w.gpu, w.device) for w in make_workers(2, user_base="kg")]
    [('kg1', '', 'cpu'), ('kg2', '', 'cpu')]
    >>> [(w.kernel_user, w.gpu, w.device) for w in make_workers(1, ["0", "3"], "kg")]
    [('kg1', '0', 'cuda'), ('kg2', '3', 'cuda')]
    """
    base = user_base or os.environ.get(KERNEL_USER_ENV) or "kitgrader"
    if gpus:
        return [Worker(f"{base}{i + 1}", gpu, "cuda") for i, gpu in enumerate(gpus)]
    return [Worker(f"{base}{i + 1}", "", "cpu") for i in range(max(1, jobs))]
