"""One attempt's shared state: what the engine (event-loop thread) and the watchdog (its own
thread) both read and write while one kernel runs the notebook.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from autograder.execute.output_budget import _OutputBudget
from autograder.limits import Limits
from autograder.sandbox import KernelSandbox

#: A cell after which the kernel user has fewer free process slots than this starved the kernel.
_TASK_HEADROOM = 2


@dataclass
class _Attempt:
    """State shared by the engine (event-loop thread) and the watchdog (its own thread)."""

    sandbox: KernelSandbox
    limits: Limits
    deadline: float
    skip: frozenset[int]
    budget: _OutputBudget
    current: tuple[int, float] | None = None  # (cell index, monotonic start)
    last_started: int | None = None
    completed: list[int] = field(default_factory=list)
    interrupted: dict[int, float] = field(default_factory=dict)
    stop_reason: str | None = None  # "killed-after-timeout" | "memory" | "total-timeout"
    stop_cell: int | None = None
    pgid: int | None = None
    start_began: float | None = None
    ready_after_s: float | None = None
    alive_at_end: bool = False
    memory_used_mb: float | None = None
    #: cell index -> the content of its execute_reply (status, ename, evalue, traceback)
    replies: dict[int, dict] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cell_started(self, index: int) -> None:
        self.last_started = index
        self.current = (index, time.monotonic())

    def cell_finished(self, index: int) -> None:
        self.current = None
        self.completed.append(index)


class _ProcessLimitReachedError(RuntimeError):
    """Raised inside an attempt: cell ``index`` left the kernel user at its process limit."""

    def __init__(self, index: int, tasks: int) -> None:
        super().__init__(f"cell {index} left {tasks} processes and threads running")
        self.index = index
