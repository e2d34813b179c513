"""The restart loop: run the notebook in a fresh kernel per attempt, without the cells that
killed or hung earlier kernels, until it runs to its end, the restarts run out or time is up.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient.exceptions import DeadKernelError

from autograder import sandbox
from autograder.execute._private_api import _GraderEngine, _GraderKernelManager
from autograder.execute.attempt import _Attempt, _ProcessLimitReachedError
from autograder.execute.output_budget import _OutputBudget
from autograder.execute.results import KernelDeath, KernelStartError
from autograder.execute.watchdog import _Watchdog
from autograder.limits import Limits
from autograder.sandbox import KernelSandbox, ReapedProcess


@dataclass
class _Runs:
    """What all attempts left: each cell's latest complete run and why the last one stopped."""

    records: dict[int, tuple[nbformat.NotebookNode, str]] = field(default_factory=dict)
    """cell index -> (the cell as it last ran, its outcome: "ran", "timed-out" or a death cause)"""
    replies: dict[int, dict] = field(default_factory=dict)  # index -> latest execute_reply content
    deaths: list[KernelDeath] = field(default_factory=list)
    timed_out: set[int] = field(default_factory=set)
    reaped: list[ReapedProcess] = field(default_factory=list)
    start_times: list[float] = field(default_factory=list)  # s from launch to a ready kernel
    language_info: dict | None = None
    stop: tuple[str, int | None] | None = None  # why the last attempt ended early


def _run_with_restarts(
    nb: nbformat.NotebookNode,
    box: KernelSandbox,
    limits: Limits,
    deadline: float,
    budget: _OutputBudget,
) -> _Runs:
    """Run ``nb`` (prepared, never modified) in ``box`` until it ends, as many kernels as needed.

    ``deadline`` is a ``time.monotonic()`` time; at most ``limits.max_restarts`` restarts.
    """
    runs = _Runs()
    records, replies, timed_out = runs.records, runs.replies, runs.timed_out
    skip: set[int] = set()
    while True:
        attempt = _Attempt(box, limits, deadline, frozenset(skip), budget)
        run_nb = copy.deepcopy(nb)
        outcome = _run_attempt(run_nb, attempt, box)
        if attempt.ready_after_s is not None:
            runs.start_times.append(attempt.ready_after_s)
        runs.reaped += box.reap(attempt.pgid)
        runs.language_info = run_nb.metadata.get("language_info", runs.language_info)
        for index in attempt.completed:
            outcome_of = "timed-out" if index in attempt.interrupted else "ran"
            records[index] = (run_nb.cells[index], outcome_of)
            replies.pop(index, None)
            if index in attempt.replies:
                replies[index] = attempt.replies[index]
            if index in attempt.interrupted:
                timed_out.add(index)
        if outcome is None:
            break
        cause, index = outcome
        if index is None:  # stopped before any cell ran (total time spent starting)
            runs.stop = (cause, None)
            break
        if cause != "total-timeout" or index not in records:
            records[index] = (run_nb.cells[index], cause)
        runs.deaths.append(KernelDeath(index, cause))
        if cause == "killed-after-timeout":
            timed_out.add(index)
        skip |= {index} | timed_out  # a cell that hung once would hang again
        if cause == "total-timeout" or len(runs.deaths) > limits.max_restarts:
            runs.stop = (cause, index)
            break
        if time.monotonic() >= deadline:
            runs.stop = ("total-timeout", index)
            break
    return runs


def _run_attempt(
    nb: nbformat.NotebookNode, attempt: _Attempt, box: KernelSandbox
) -> tuple[str, int | None] | None:
    """Run ``nb`` once in a fresh kernel: None if it ran to the end, else (cause, cell index)."""
    km = _GraderKernelManager(
        kernel_name=sandbox.KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(box.spec_dir)]),
        transport="ipc",
        ip=str(box.ipc_prefix),
        connection_file=str(box.connection_file),
        shutdown_wait_time=1.0,
    )
    km.new_client_context()
    oom_kills_before = box.oom_kills()
    watchdog = _Watchdog(attempt)
    watchdog.start()
    remaining = max(1.0, attempt.deadline - time.monotonic())
    try:
        _GraderEngine.execute_notebook(
            nb,
            sandbox.KERNEL_NAME,
            output_path=None,  # written once, after every kernel process is gone
            progress_bar=False,
            log_output=False,
            start_timeout=max(1, int(min(attempt.limits.startup_timeout_s, remaining))),
            km=km,
            attempt=attempt,
        )
        failure = None
    except Exception as exc:  # classified below; a grader bug is re-raised
        failure = exc
    finally:
        watchdog.done.set()
        watchdog.join()
    with attempt.lock:
        reason, cell = attempt.stop_reason, attempt.stop_cell
    if reason is not None:
        return reason, cell
    if failure is None:
        return None
    if isinstance(failure, _ProcessLimitReachedError):
        return "process-limit", failure.index
    if attempt.start_began is None:  # failed before starting a kernel: a bug, not the machine
        raise failure
    if attempt.ready_after_s is None:
        raise KernelStartError(
            f"The grading kernel did not start ({type(failure).__name__}: {failure}). "
            f"Isolation: {box.isolation.describe()}. The kernel process said:\n"
            + (box.kernel_stderr().strip() or "(nothing)")
        ) from failure
    if isinstance(failure, DeadKernelError) or not attempt.alive_at_end:
        cell = attempt.current[0] if attempt.current else attempt.last_started
        # Killed by the kernel's OOM killer in the run's cgroup: faster than the watchdog's poll.
        return ("memory" if box.oom_kills() > oom_kills_before else "died"), cell
    raise failure
