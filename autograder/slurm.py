"""Grade a whole course on a Slurm cluster: one job array, one task per submission.

``python -m autograder batch <a> SUBMISSIONS --out DIR --backend slurm [--wait] [--gres gpu:1]``

1. **Submit** (:func:`submit`): the submissions not yet graded are listed in a manifest
   (``DIR/slurm/round-<k>.json``, JSON) and submitted as job arrays of at most the cluster's
   ``MaxArraySize`` tasks each (``scontrol show config``; Slurm's default, 1001, when it cannot
   be asked). Task ``i`` of the array that starts at ``offset`` grades manifest entry
   ``offset + i`` with :func:`autograder.batch_worker.grade_one`, the code path of a local batch.
   ``DIR`` must be on a file system the compute nodes share. The job ids go to
   ``DIR/slurm/jobs.json``.
2. **Wait** (``--wait``): ``squeue`` until none of the jobs is queued or running.
3. **Collect** (``--collect``, or after ``--wait``): read each submission's ``status.json`` and
   ``results.json`` (JSON only, never unpickled), write ``grades.csv`` and ``leaderboard.md``,
   list the submissions whose task failed (with ``sacct``'s state where it is installed) or left
   nothing; ``--resume`` submits exactly those again.

A task's kernel user is ``<KIT_KERNEL_USER or kitgrader><task id mod 16 + 1>``: tasks that
share a node at the same time get different users, and two that happen to share one wait for
each other (the sandbox's lock per user) rather than reap each other's kernel.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from autograder.batch import BatchSummary, find_submissions, print_summary
from autograder.batch_worker import LOG, Submission, Worker, grade_one, is_graded, read_json
from autograder.config import Assignment
from autograder.contract import KERNEL_USER_ENV
from autograder.gradebook import write_tables
from autograder.report import write_atomic
from autograder.sandbox.gpus import KERNEL_GPUS_ENV, slurm_kernel_gpus

__all__ = [
    "SlurmError",
    "array_chunks",
    "collect",
    "max_array_size",
    "queued_jobs",
    "run_from_args",
    "submit",
    "task_main",
]

DEFAULT_MAX_ARRAY_SIZE = 1001  # Slurm's own default for MaxArraySize
TASK_USERS = 16
SLURM_DIR = "slurm"


class SlurmError(RuntimeError):
    """A Slurm command is missing or refused the job; the message says what to do."""


def _run(command: list[str], timeout_s: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)


def max_array_size() -> tuple[int, str | None]:
    """The cluster's ``MaxArraySize`` and a note when it could not be read."""
    if shutil.which("scontrol") is None:
        return DEFAULT_MAX_ARRAY_SIZE, (
            f"scontrol was not found on PATH; assuming Slurm's default MaxArraySize "
            f"({DEFAULT_MAX_ARRAY_SIZE})."
        )
    try:
        shown = _run(["scontrol", "show", "config"]).stdout
    except (OSError, subprocess.TimeoutExpired) as error:
        return DEFAULT_MAX_ARRAY_SIZE, f"scontrol show config failed ({error}); assuming 1001."
    match = re.search(r"^\s*MaxArraySize\s*=\s*(\d+)", shown, re.MULTILINE)
    if not match:
        return DEFAULT_MAX_ARRAY_SIZE, "MaxArraySize not in `scontrol show config`; assuming 1001."
    return max(1, int(match[1])), None


def array_chunks(count: int, max_size: int) -> list[tuple[int, int]]:
    """(offset, length) of each array: task indices run 0..length-1, below ``MaxArraySize``.

    >>> array_chunks(5, 2)
    [(0, 2), (2, 2), (4, 1)]
    >>> array_chunks(0, 1001)
    []
    """
    return [(start, min(max_size, count - start)) for start in range(0, count, max_size)]


def _script(manifest: Path, assignment: str) -> str:
    """The batch script: one task grades manifest entry ``$1 + SLURM_ARRAY_TASK_ID``."""
    python = shlex.quote(sys.executable)
    return "\n".join([
        "#!/bin/bash",
        f"#SBATCH --job-name=kit-{assignment}",
        "set -euo pipefail",
        f"exec {python} -m autograder.slurm task {shlex.quote(str(manifest))} \"$1\"",
        "",
    ])  # fmt: skip


def submit(
    assignment: Assignment,
    submissions: list[Submission],
    out: Path,
    *,
    gres: str | None = None,
    partition: str | None = None,
    time_limit: str | None = None,
    extra: list[str] = (),
    root: Path | None = None,
) -> tuple[list[dict], list[str]]:
    """Submit one task per submission; returns the arrays submitted (job id, manifest, offset,
    count) and notes. Raises :class:`SlurmError` when ``sbatch`` is missing or refuses."""
    if shutil.which("sbatch") is None:
        raise SlurmError(
            "sbatch was not found on PATH: this machine is not a Slurm submit host. Run the "
            "batch on the cluster's login node, or without --backend slurm to grade here."
        )
    notes: list[str] = []
    size, note = max_array_size()
    if note:
        notes.append(note)
    slurm_dir = out / SLURM_DIR
    (slurm_dir / "logs").mkdir(parents=True, exist_ok=True)
    round_no = len(list(slurm_dir.glob("round-*.json"))) + 1
    manifest = slurm_dir / f"round-{round_no}.json"
    write_atomic(manifest, {
        "assignment": assignment.name,
        "root": str((root or assignment.root).resolve()),
        "out": str(out.resolve()),
        "device": "cuda" if gres and "gpu" in gres else "cpu",
        "submissions": [{"name": s.name, "path": str(Path(s.path).resolve()),
                         "students": s.students} for s in submissions],
    })  # fmt: skip
    script = slurm_dir / f"round-{round_no}.sh"
    script.write_text(_script(manifest.resolve(), assignment.name))
    # --output on the command line, not in the script: a path with spaces stays one argument.
    options = [f"--output={(slurm_dir / 'logs').resolve() / '%A_%a.out'}"]
    options += [f"--partition={partition}"] if partition else []
    options += [f"--time={time_limit}"] if time_limit else []
    options += [f"--gres={gres}"] if gres else []
    options += list(extra)
    arrays = []
    for offset, count in array_chunks(len(submissions), size):
        command = ["sbatch", "--parsable", f"--array=0-{count - 1}", *options, str(script),
                   str(offset)]  # fmt: skip
        try:
            done = _run(command)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SlurmError(f"`{shlex.join(command)}` could not run: {error}") from None
        if done.returncode != 0:
            raise SlurmError(
                f"sbatch refused the array (exit {done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}. Submitted so far: "
                f"{[a['job_id'] for a in arrays]}; fix the option and run with --resume."
            )
        job_id = done.stdout.strip().split(";")[0]
        arrays.append({"job_id": job_id, "manifest": str(manifest), "offset": offset,
                       "count": count})  # fmt: skip
    jobs = read_json(slurm_dir / "jobs.json") or {"arrays": []}
    jobs["arrays"] = [*jobs.get("arrays", []), *arrays]
    write_atomic(slurm_dir / "jobs.json", jobs)
    return arrays, notes


def queued_jobs(job_ids: list[str]) -> tuple[set[str] | None, str | None]:
    """Which of ``job_ids`` are still queued or running; None (and a note) when ``squeue``
    cannot tell."""
    if not job_ids:
        return set(), None
    if shutil.which("squeue") is None:
        return None, (
            "squeue was not found on PATH, so whether the jobs still run is unknown; the "
            "results written so far are collected. Run with --collect again later."
        )
    try:
        done = _run(["squeue", "--noheader", "--format=%F", f"--jobs={','.join(job_ids)}"])
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"squeue failed ({error}); the results written so far are collected."
    if done.returncode != 0:
        if "Invalid job id" in done.stderr:  # every job has left the queue
            return set(), None
        return None, f"squeue failed: {done.stderr.strip()}; collected what is written."
    return {line.strip() for line in done.stdout.splitlines() if line.strip()}, None


def task_states(arrays: list[dict]) -> tuple[dict[tuple[str, int], str], str | None]:
    """``sacct``'s final state of each task, keyed (job id, task index); empty and a note when
    ``sacct`` is missing or accounting is off."""
    if shutil.which("sacct") is None:
        return {}, "sacct was not found on PATH: tasks' final states (e.g. TIMEOUT) are unknown."
    ids = ",".join(a["job_id"] for a in arrays)
    try:
        done = _run(["sacct", "--noheader", "--parsable2", "--format=JobID,State", f"--jobs={ids}"])
    except (OSError, subprocess.TimeoutExpired) as error:
        return {}, f"sacct failed ({error}); tasks' final states are unknown."
    if done.returncode != 0:
        return {}, f"sacct gave no states ({done.stderr.strip()[:200]})."
    states = {}
    for line in done.stdout.splitlines():
        match = re.match(r"^(\d+)_(\d+)\|(\S+)", line.strip())
        if match:
            states[(match[1], int(match[2]))] = match[3]
    return states, None


def collect(out: Path, submissions: list[Submission]) -> BatchSummary:
    """Write the tables and list the submissions not graded, with the reason."""
    summary = BatchSummary(found=len(submissions), collected=True)
    jobs = read_json(out / SLURM_DIR / "jobs.json") or {"arrays": []}
    arrays = [a for a in jobs.get("arrays", []) if isinstance(a, dict)]
    where: dict[str, tuple[str, int]] = {}
    for array in arrays:
        entries = (read_json(Path(array.get("manifest", ""))) or {}).get("submissions", [])
        for i in range(int(array.get("count", 0))):
            index = int(array.get("offset", 0)) + i
            if index < len(entries) and isinstance(entries[index], dict):
                where[str(entries[index].get("name"))] = (str(array["job_id"]), i)
    states, note = task_states(arrays) if arrays else ({}, None)
    if note:
        summary.notes.append(note)
    for sub in submissions:
        folder = out / sub.name
        if is_graded(folder):
            summary.graded += 1
            continue
        status = read_json(folder / "status.json")
        task = where.get(sub.name)
        state = states.get(task) if task else None
        if status:
            reason = str(status.get("message") or f"exit code {status.get('exit_code')}")
        elif task is None:
            reason = "never submitted"
        else:
            reason = f"no result from task {task[0]}_{task[1]}"
        if state:
            reason += f" (Slurm state {state})"
        summary.failed[sub.name] = reason
    write_tables(out, submissions)
    return summary


def run_from_args(args: argparse.Namespace, assignment: Assignment) -> int:
    """``batch --backend slurm``: submit (or --resume, --collect), optionally --wait."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    submissions, notes = find_submissions(args.submissions, out)
    jobs = read_json(out / SLURM_DIR / "jobs.json") or {"arrays": []}
    job_ids = [str(a["job_id"]) for a in jobs.get("arrays", []) if isinstance(a, dict)]
    if args.gpus:
        notes.append(
            "--gpus is for a local batch; on Slurm ask for a GPU per task with --gres gpu:1."
        )
    for note in notes:
        print(f"  note: {note}")
    try:
        if not args.collect:
            if job_ids and not (args.resume or args.force):
                print(
                    f"error: {out} already holds a Slurm batch (jobs {', '.join(job_ids)}). "
                    "Use --collect to gather its results, or --resume to submit again only "
                    "what is not graded.", file=sys.stderr,
                )  # fmt: skip
                return 2
            if job_ids:
                queued, _ = queued_jobs(job_ids)
                if queued:
                    print(
                        f"error: jobs {', '.join(sorted(queued))} are still queued or "
                        "running; wait for them (or scancel them) first.",
                        file=sys.stderr,
                    )
                    return 2
            todo = [s for s in submissions if args.force or not is_graded(out / s.name)]
            if not todo:
                print(f"Every one of the {len(submissions)} submissions is graded already.")
            else:
                arrays, submit_notes = submit(
                    assignment, todo, out, gres=args.gres, partition=args.partition,
                    time_limit=args.time, extra=args.sbatch_arg, root=args.root,
                )  # fmt: skip
                for note in submit_notes:
                    print(f"  note: {note}")
                ids = [a["job_id"] for a in arrays]
                print(f"Submitted {len(todo)} tasks as job array(s) {', '.join(ids)}.")
                job_ids += ids
                if not args.wait:
                    print("Collect the results with the same command and --collect "
                          "(add --wait to wait for them now).")  # fmt: skip
                    return 0
        if args.wait:
            while True:
                queued, note = queued_jobs(job_ids)
                if note:
                    print(f"  note: {note}")
                if not queued:
                    break
                time.sleep(float(os.environ.get("KIT_SLURM_POLL_S", "15")))
    except SlurmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.collect and not args.wait:
        queued, note = queued_jobs(job_ids)
        if note:
            print(f"  note: {note}")
        elif queued:
            print(f"  note: jobs {', '.join(sorted(queued))} are still queued or running; "
                  "what they have not written yet is listed as missing.")  # fmt: skip
    summary = collect(out, submissions)
    print_summary(summary, out)
    if summary.failed:
        print("Submit those again with --resume.")
    return 0 if not summary.failed else 1


def task_main(manifest_path: Path, offset: int) -> int:
    """One array task: grade manifest entry ``offset + SLURM_ARRAY_TASK_ID``."""
    task_id = int(os.environ["SLURM_ARRAY_TASK_ID"])
    manifest = read_json(manifest_path)
    if manifest is None:
        print(f"error: the manifest {manifest_path} is missing or not JSON.", file=sys.stderr)
        return 2
    entry = manifest["submissions"][offset + task_id]
    submission = Submission(entry["name"], Path(entry["path"]), entry.get("students", ""))
    base = os.environ.get(KERNEL_USER_ENV) or "kitgrader"
    device = manifest.get("device", "cpu")
    # A GPU task keeps the CUDA_VISIBLE_DEVICES Slurm gave it (gpu=None); a CPU task hides GPUs.
    # That variable steers CUDA only: the kernel keeps only its GPUs' device nodes when they
    # are named in KIT_KERNEL_GPUS, which grade_one passes on from this environment.
    if device == "cuda" and KERNEL_GPUS_ENV not in os.environ:
        slurm_gpus = slurm_kernel_gpus(dict(os.environ))
        if slurm_gpus is not None:
            os.environ[KERNEL_GPUS_ENV] = slurm_gpus
    worker = Worker(f"{base}{task_id % TASK_USERS + 1}", None if device == "cuda" else "", device)
    outcome = grade_one(manifest["assignment"], submission, Path(manifest["out"]), worker,
                        root=Path(manifest["root"]))  # fmt: skip
    print(
        f"{submission.name}: exit code {outcome.exit_code}, score {outcome.score} "
        f"({outcome.message or 'graded'}); log: {Path(manifest['out']) / submission.name / LOG}"
    )
    return 0 if outcome.graded else 1


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "task":
        sys.exit("usage: python -m autograder.slurm task MANIFEST OFFSET (run by the batch script)")
    sys.exit(task_main(Path(sys.argv[2]), int(sys.argv[3])))
