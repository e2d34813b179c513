"""The peak memory of a whole grading run: the grader and the kernel it starts, together.

Memory is the proportional set size (PSS) from ``/proc/<pid>/smaps_rollup`` through psutil:
each process's private pages plus its share of pages it shares (libraries loaded by both the
grader and the kernel count once in the sum, not twice as resident sizes would). It is what a
container's memory limit comes closest to charging for what processes map; page cache of files
merely read is left out, since the kernel reclaims it before it would kill anything.

A run is sampled every ``interval_s`` (0.05 s): the command's process, every descendant, and
every process of the kernel's user (the sandbox's kernel may be re-parented out of the tree).
A spike shorter than the interval can be missed, so the figure is a lower bound of the true
peak; ``autograder.package`` adds headroom before it names a container size.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import psutil

__all__ = ["PeakMemory", "run_measured"]

MB = 1024 * 1024


@dataclass
class PeakMemory:
    """Peaks seen over one run, in MB (PSS), and how many processes were counted at most."""

    total_mb: float = 0.0  # grader + kernel + every other process of the run, summed
    focus_mb: float = 0.0  # the largest process whose command line holds ``focus`` (the grader)
    processes: int = 0
    samples: int = 0
    users: set[str] = field(default_factory=set)


def _pss(process: psutil.Process) -> float:
    try:
        return process.memory_full_info().pss / MB
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return 0.0


def _holds(process: psutil.Process, words: Sequence[str]) -> bool:
    """Whether ``process``'s command line holds every one of ``words`` as an argument."""
    try:
        argv = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return all(w in argv for w in words)


def _run_processes(root: psutil.Process, users: Sequence[str]) -> list[psutil.Process]:
    """The command's process, its descendants and the processes of ``users``."""
    found = {root.pid: root}
    with contextlib.suppress(psutil.NoSuchProcess):
        found.update({p.pid: p for p in root.children(recursive=True)})
    if users:
        for p in psutil.process_iter(["username"]):
            if p.info["username"] in users:
                found.setdefault(p.pid, p)
    return list(found.values())


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    users: Sequence[str] = (),
    interval_s: float = 0.05,
    timeout_s: float | None = None,
    focus: Sequence[str] = (),
) -> tuple[subprocess.CompletedProcess, PeakMemory]:
    """Run ``command`` and sample its memory until it ends.

    Args:
        command: the program and its arguments.
        env: its environment (default: this process's).
        users: users whose every process counts as part of the run (the kernel's user).
        interval_s: seconds between samples.
        timeout_s: stop (kill) the command after this many seconds.
        focus: words whose process's own peak is reported too (``PeakMemory.focus_mb``), e.g.
            ``("autograder", "grade")`` for the grader below ``run_autograder``; empty: the
            command's own process.

    Returns:
        The finished process (stdout and stderr captured as text) and the peaks.

    >>> code = "import time; x = b'x' * (64 * 2**20); time.sleep(0.5); print(len(x))"
    >>> done, peak = run_measured(["python3", "-c", code])
    >>> done.stdout.strip(), 60 < peak.total_mb < 200
    ('67108864', True)
    """
    peak = PeakMemory()
    child = subprocess.Popen(
        list(command), env=dict(env) if env is not None else None,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    root = psutil.Process(child.pid)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            processes = _run_processes(root, users)
            sizes = {p.pid: _pss(p) for p in processes}
            peak.total_mb = max(peak.total_mb, sum(sizes.values()))
            for p in processes:
                if p.pid == root.pid if not focus else _holds(p, focus):
                    peak.focus_mb = max(peak.focus_mb, sizes[p.pid])
            peak.processes = max(peak.processes, sum(1 for s in sizes.values() if s > 0))
            peak.samples += 1
            stop.wait(interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        stdout, stderr = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        stdout, stderr = child.communicate()
    finally:
        stop.set()
        sampler.join()
    peak.users = set(users)
    done = subprocess.CompletedProcess(list(command), child.returncode, stdout, stderr)
    done.elapsed_s = time.monotonic() - started  # type: ignore[attr-defined]
    return done, peak
