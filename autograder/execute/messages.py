"""Student-facing texts of the execution step: why the grader stopped a cell, what happened to
the cells after it, cells not run, common errors; plus the error output a stopped cell gets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import nbformat

from autograder.execute.cells import _Labeller
from autograder.execute.output_budget import _receive_bound_mb
from autograder.execute.results import CellFailure
from autograder.limits import Limits
from autograder.sandbox import ReapedProcess

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _error_output(ename: str, evalue: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


#: Why the grader stopped a cell or lost its kernel -> (the exception name the cell shows, the
#: sentence, whether the kernel was lost: then the notice also says what became of the cells
#: after it). Fields: {Cell}/{cell} the cell's label, {cell_limit}, {max_processes},
#: {memory_mb}, {receive_mb} and {total_s} from the limits.
_STOPPED: dict[str, tuple[str, str, bool]] = {
    "timed-out": (
        "CellTimeoutError",
        "{Cell} ran longer than the {cell_limit} and was stopped.",
        False,
    ),
    "killed-after-timeout": (
        "CellTimeoutError",
        "{Cell} ran longer than the {cell_limit} and did not stop when interrupted, so its "
        "kernel was shut down.",
        True,
    ),
    "process-limit": (
        "ProcessLimitError",
        "{Cell} started processes or threads until the kernel user reached its limit of "
        "{max_processes}, so the kernel could not go on and was shut down.",
        True,
    ),
    "memory": (
        "OutOfMemoryError",
        "{Cell} used more than the {memory_mb} MB memory limit (the kernel and the processes it "
        "started, together), so its kernel was shut down.",
        True,
    ),
    "died": (
        "DeadKernelError",
        "The kernel died while running {cell} (it may have run out of memory, crashed, killed "
        "itself or called os._exit()).",
        True,
    ),
    "flood": (
        "OutputFloodError",
        "{Cell} sent the grader more than {receive_mb:g} MB of output at once (one message in "
        "many parts), so its kernel was shut down. Save large results to a file instead of "
        "sending them as output.",
        True,
    ),
    "total-timeout": (
        "CellTimeoutError",
        "The notebook reached its {total_s:g} s total time limit while running {cell}, which "
        "was stopped.",
        False,
    ),
}


def _stopped_by_grader(
    index: int, outcome: str, stop: tuple[str, int | None] | None, limits: Limits, label: _Labeller
) -> tuple[str, str, str] | None:
    """(ename, evalue, notice) for a cell the grader stopped or lost its kernel in; else None."""
    if outcome not in _STOPPED:
        return None
    ename, sentence, kernel_lost = _STOPPED[outcome]
    evalue = sentence.format(
        Cell=label(index, capital=True),
        cell=label(index),
        cell_limit=f"{limits.cell_timeout_s:g} s limit",
        max_processes=limits.max_processes,
        memory_mb=limits.memory_mb,
        receive_mb=_receive_bound_mb(limits),
        total_s=limits.total_timeout_s,
    )
    return ename, evalue, evalue + (_after_death(index, stop, limits) if kernel_lost else "")


def _after_death(index: int, stop: tuple[str, int | None] | None, limits: Limits) -> str:
    """How a notice about a dead kernel ends: what happened to the cells after it."""
    if stop is not None and stop[1] == index:
        if stop[0] == "total-timeout":
            return " The total time limit was reached, so the cells after it did not run."
        return (
            f" The kernel had already been restarted {limits.max_restarts} times, so the cells "
            "after it did not run."
        )
    return " The cells after it were run in a fresh kernel."


def _not_run_message(reason: str, limits: Limits) -> str:
    if reason == "restart-limit":
        return (
            f"the kernel died or was shut down {limits.max_restarts + 1} times, and the grader "
            f"restarts it at most {limits.max_restarts} times."
        )
    return f"the notebook reached its {limits.total_timeout_s:g} s total time limit."


def _notice_for_error(failure: CellFailure, label: _Labeller, limits: Limits) -> list[str]:
    name = label(failure.cell_index, capital=True)
    if failure.ename == "MemoryError" and limits.memory_mb:
        return [f"{name} ran out of memory (the limit is {limits.memory_mb} MB per process)."]
    if failure.ename == "SystemExit":
        return [f"{name} called sys.exit() or exit(); that cell stopped there, the next ones ran."]
    return []


def _plain(text: str) -> str:
    """Without ANSI colour codes.

    >>> _plain("\\x1b[0;31mValueError\\x1b[0m: bad")
    'ValueError: bad'
    """
    return _ANSI.sub("", text)


def _reaped_notice(reaped: Sequence[ReapedProcess]) -> str:
    """The notice for background processes still running after the notebook ended (not empty)."""
    return (
        "A background process started by your notebook was still running after the notebook "
        f"ended and was stopped: {', '.join(map(str, reaped[:5]))}"
        + (f" and {len(reaped) - 5} more." if len(reaped) > 5 else ".")
    )
