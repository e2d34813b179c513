"""The execution step's results: what ``execute_notebook`` returns and the error it raises.

Every cell index refers to ``ExecutionResult.notebook.cells`` (see :mod:`autograder.execute`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import nbformat

from autograder.sandbox import Isolation, ReapedProcess


@dataclass(frozen=True)
class CellFailure:
    """Why a cell failed, like papermill's ``PapermillExecutionError`` (ANSI codes stripped).

    >>> str(CellFailure(3, "ValueError", "bad shape", "Traceback ..."))
    'cell 3: ValueError: bad shape'
    """

    cell_index: int
    ename: str
    evalue: str
    traceback_text: str

    def __str__(self) -> str:
        return f"cell {self.cell_index}: {self.ename}: {self.evalue}"


@dataclass(frozen=True)
class CellNotRun:
    """A code cell that never ran: ``reason`` is ``"total-timeout"`` or ``"restart-limit"``."""

    cell_index: int
    reason: str
    message: str


@dataclass(frozen=True)
class KernelDeath:
    """A kernel that ended while running ``cell_index``.

    ``cause``: ``"died"`` (exited or was killed by something other than the grader: ``os._exit``,
    a signal, a crash), ``"killed-after-timeout"`` (ignored the interrupt), ``"memory"`` (its
    processes together passed ``Limits.memory_mb``), ``"process-limit"``
    (left the kernel user at its process limit, e.g. a fork bomb: no later cell could start a
    thread), ``"flood"`` (sent messages that made the grader itself hold more than
    ``_receive_bound_mb``) or ``"total-timeout"``.
    """

    cell_index: int
    cause: str


@dataclass(frozen=True)
class ExecutionResult:
    """Everything the scoring step needs from an execution; see :mod:`autograder.execute`."""

    notebook: nbformat.NotebookNode
    failures: Mapping[int, CellFailure]
    not_run: Mapping[int, CellNotRun]
    kernel_deaths: tuple[KernelDeath, ...]
    timed_out_cells: frozenset[int]
    truncated_cells: frozenset[int]
    notices: tuple[str, ...]
    isolation: Isolation
    elapsed_s: float
    kernel_start_s: tuple[float, ...]
    restarts: int
    reaped: tuple[ReapedProcess, ...]

    @property
    def kernel_died(self) -> bool:
        return bool(self.kernel_deaths)


class KernelStartError(RuntimeError):
    """The kernel did not start: a problem of the grading machine, not of the submission."""
