"""``execute_notebook``: one notebook through the sandbox and the restart loop to an
:class:`~autograder.execute.results.ExecutionResult`, and the executed notebook written privately.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat

from autograder import sandbox
from autograder.execute.cells import _Labeller, _prepare
from autograder.execute.messages import _reaped_notice
from autograder.execute.output_budget import _OutputBudget
from autograder.execute.restarts import _run_with_restarts
from autograder.execute.results import ExecutionResult
from autograder.execute.verdicts import _assemble
from autograder.limits import Limits
from autograder.sandbox import KernelSandbox, SandboxLimits

log = logging.getLogger(__name__)


def execute_notebook(
    notebook: nbformat.NotebookNode,
    *,
    workdir: Path,
    parameters: Mapping[str, object],
    limits: Limits | None = None,
    kernel_env: Mapping[str, str] | None = None,
    hide: Sequence[Path] = (),
    isolate: bool | None = None,
    output_path: Path | None = None,
    kernel_user: str | None = None,
    writable: Sequence[Path] | None = None,
) -> ExecutionResult:
    """Run ``notebook`` in a sandboxed kernel with papermill; see :mod:`autograder.execute`.

    Raises :class:`autograder.sandbox.IsolationUnavailableError` when ``isolate=True`` cannot be
    met, :class:`~autograder.execute.results.KernelStartError` when the kernel cannot start (a
    set-up problem; the message holds the kernel's own error output), ValueError for a ``hide``
    path the kernel needs.
    """
    began = time.monotonic()
    limits = limits or Limits()
    deadline = began + limits.total_timeout_s
    isolation = sandbox.plan_isolation(isolate, kernel_user or sandbox.DEFAULT_KERNEL_USER)
    if not isolation.enabled:
        log.warning("kit grader: %s", isolation.describe())
    nb, positions = _prepare(notebook, parameters)
    label = _Labeller(nb, positions)
    hidden = list(hide)
    if output_path is not None and isolation.namespaces:
        try:  # the executed notebook's folder too, where that does not hide what the kernel needs
            sandbox.check_hidden_paths([Path(output_path).parent])
            hidden.append(Path(output_path).parent)
        except ValueError:
            pass
    box = KernelSandbox(
        isolation,
        workdir=Path(workdir),
        hide=hidden,
        limits=SandboxLimits(
            limits.memory_mb, limits.max_processes, limits.max_file_mb, limits.disk_mb
        ),
        kernel_env=dict(kernel_env or {}),
        writable=writable,  # folders of workdir the kernel may write, its cwd first (sandbox)
    )
    budget = _OutputBudget(limits.max_output_chars, int(limits.max_notebook_output_mb * 2**20))
    with box:
        runs = _run_with_restarts(nb, box, limits, deadline, budget)
    elapsed = time.monotonic() - began
    final, failures, not_run, notices = _assemble(
        nb, runs.records, runs.replies, runs.stop, budget, limits, label
    )
    if runs.language_info is not None:
        final.metadata["language_info"] = runs.language_info
    if runs.reaped:
        notices.append(_reaped_notice(runs.reaped))
    if box.gpu_note:
        notices.append(f"Grader: {box.gpu_note}.")
    if output_path is not None:
        _write_private(final, Path(output_path))
    return ExecutionResult(
        notebook=final,
        failures=failures,
        not_run=not_run,
        kernel_deaths=tuple(runs.deaths),
        timed_out_cells=frozenset(runs.timed_out),
        truncated_cells=frozenset(i for i in range(len(final.cells)) if budget.note(i)),
        notices=tuple(notices),
        isolation=isolation,
        elapsed_s=elapsed,
        kernel_start_s=tuple(runs.start_times),
        restarts=max(0, len(runs.start_times) - 1),
        reaped=tuple(runs.reaped),
    )


def _write_private(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write ``nb`` atomically, readable by the grader's user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
