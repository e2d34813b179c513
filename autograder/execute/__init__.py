"""Run an assembled notebook with papermill, safely (steps 3 Execute and 4 Reap of DESIGN.md).

Public API::

    result = execute_notebook(
        notebook,                   # nbformat.NotebookNode: assembled, every cell tagged
                                    # raises-exception, one cell tagged "parameters"
        workdir=Path(...),          # the kernel's cwd, holding the student's files (handed to the
                                    # kernel user when isolated)
        writable=None,              # or folders of workdir for the kernel user, its cwd first
        parameters={"GRADING": True, "DEVICE": "cpu", "DATA_DIR": ..., "OUTPUT_DIR": ...,
                    "SEED": 0},     # injected by papermill after the "parameters" cell
        limits=Limits(cell_timeout_s=300, total_timeout_s=900, memory_mb=4096, ...),
        kernel_env={"TORCH_HOME": ...},   # added to the kernel's otherwise cleared environment
        hide=[source_dir, bundle_dir],    # paths the kernel must not be able to read
        isolate=None,               # None: isolate when root; True: require it; False: off
        output_path=Path(...),      # executed notebook, written after every kernel process is gone
        kernel_user="kitgrader",    # one user per concurrent execution (see autograder.sandbox)
    )
    result.notebook          # executed notebook (outputs capped); one cell more than the input:
                             # papermill's "injected-parameters" cell right after "parameters"
    result.failures          # {cell index: CellFailure(cell_index, ename, evalue, traceback_text)}
    result.not_run           # {cell index: CellNotRun(cell_index, reason, message)}
    result.kernel_deaths     # (KernelDeath(cell_index, cause), ...) in the order they happened
    result.notices           # plain-language sentences for the student
    result.isolation         # Isolation: enabled, user, network_off, hidden_by, reasons
    result.elapsed_s, result.kernel_start_s, result.restarts, result.reaped

Every cell index in the result refers to ``result.notebook.cells``; notices name cells by their
position in the *input* notebook (1-based, as the student counts) and their ``grade_id`` (from
``metadata.kit`` or ``metadata.nbgrader``).

How the stages work:

- **papermill** injects the parameters (:func:`papermill.parameterize.parameterize_notebook`) and
  runs the cells through its engine API (a subclass of its nbclient engine and client), so cell
  metadata, timing and the parameters cell are papermill's. ``papermill.execute_notebook`` itself
  is not called: it raises at the first error output and edits the notebook to point at it.
- **kernel**: the kernelspec runs :mod:`autograder.kernel_launcher`, which builds the sandbox of
  :mod:`autograder.sandbox` and ``exec``\\s ipykernel; the kernel manager talks to it over IPC
  sockets in a folder the kernel user owns, so the kernel needs no network at all. nbclient does not
  shut down a kernel manager it was given: ``_GraderEngine`` does, then the sandbox reaps.
- **time**: a watchdog thread, not nbclient's ``timeout``. nbclient's interrupt-on-timeout waits
  another full timeout and interrupts again, forever, when a cell ignores SIGINT. Here a cell past
  ``cell_timeout_s`` is interrupted (SIGINT to the kernel's process group), and if it has not
  finished ``interrupt_grace_s`` later the kernel is killed. At ``total_timeout_s`` (counted from
  the call, kernel starts included) everything is killed and the cells not reached are not run.
- **memory and processes**: the watchdog also sums the memory of the kernel's processes (see
  :mod:`autograder.sandbox`) and stops the kernel past ``memory_mb``; after each cell, a kernel
  user left at its process limit (a fork bomb) has its kernel stopped too: it could not start
  another thread.
- **restarts**: when the kernel dies (``os._exit``, a signal, a crash) or had to be stopped, a
  fresh kernel re-runs the notebook from the top without the cells that killed or hung the
  previous ones (they keep what they printed plus an error output saying why), so the state later
  cells need is rebuilt; at most ``max_restarts`` times, within the total time. Each cell shows
  its latest complete run.
- **output**: kept per cell up to ``max_output_chars`` of text and per notebook up to
  ``max_notebook_output_mb`` as messages arrive, in the grader; the rest is counted and cut with a
  note. The kernel sends printed text in pieces of at most 1 MiB; a single message over
  :data:`MAX_MESSAGE_BYTES` (which student code can still send) is refused before it is decoded,
  so gigabytes of output cannot exhaust the grader's memory. One frame over it is refused by
  ZeroMQ, which closes the output channel; it is reopened before the next cell, so only that
  cell's output is lost. A message of many frames, each under the cap, is counted frame by frame
  on every channel the grader reads and dropped once over it (only that output is lost). ZeroMQ
  holds such a message whole before its first frame can be read, so the watchdog also stops a
  kernel whose messages make the grader grow past ``_receive_bound_mb`` (cause ``"flood"``).

Whether a cell succeeded is the kernel's word: the ``status`` of its ``execute_reply`` (``ok``,
``error``, ``aborted``), never the absence of an ``error`` output. Student code can swallow the
error output (``set_custom_exc``, a message that cannot be encoded) but IPython still reports the
failure in the reply; a cell without a reply (the kernel died or was stopped) failed. The reply
itself can be forged by code that patches the kernel, so a cell's success alone earns nothing:
scoring also needs records that only the student's functions could have produced (see
:mod:`autograder.record`). Cells the grader stopped also get an ``error`` output
(``CellTimeoutError``, ``DeadKernelError``, ``OutOfMemoryError``, ``ProcessLimitError``) so the
notebook shows it.

One module per job (this package re-exports the public names, and the private ones tests use):

- :mod:`~autograder.execute.results`: ``ExecutionResult``, ``CellFailure``, ``CellNotRun``,
  ``KernelDeath``, ``KernelStartError``.
- :mod:`~autograder.execute.output_budget`: the message cap, the receive queue, the memory bound
  against a flooding kernel, the output kept per cell and per notebook.
- :mod:`~autograder.execute.attempt`: the state one attempt's engine and watchdog share.
- :mod:`~autograder.execute.watchdog`: time, memory and flood limits, enforced from a thread.
- :mod:`~autograder.execute._private_api`: every use of papermill's, nbclient's,
  jupyter_client's and pyzmq's internals (bounded channels, kernel client and manager, notebook
  client, engine); version bounds in pyproject.toml.
- :mod:`~autograder.execute.restarts`: one attempt in a fresh kernel, and the restart loop.
- :mod:`~autograder.execute.cells`: parameter injection and cell names as the student counts them.
- :mod:`~autograder.execute.verdicts`: the executed notebook and each cell's verdict.
- :mod:`~autograder.execute.messages`: student-facing texts.
- :mod:`~autograder.execute.run`: ``execute_notebook``.

Tests that replace a function with ``monkeypatch`` patch the module that looks it up (e.g.
``autograder.execute.restarts._run_attempt``, ``autograder.execute.run._write_private``):
those are not re-exported here, so a patch on this package fails loudly instead of missing.
"""

# The private names are re-exported for the tests and benches that import them (noqa: F401).
from autograder.execute._private_api import (  # noqa: F401
    _BoundedChannel,
    _BoundedKernelClient,
    _GraderKernelManager,
)
from autograder.execute.output_budget import (  # noqa: F401
    MAX_MESSAGE_BYTES,
    RECEIVE_QUEUE_MESSAGES,
    _OutputBudget,
    _receive_bound_mb,
)
from autograder.execute.results import (
    CellFailure,
    CellNotRun,
    ExecutionResult,
    KernelDeath,
    KernelStartError,
)
from autograder.execute.run import execute_notebook
from autograder.limits import Limits

__all__ = [
    "MAX_MESSAGE_BYTES",
    "CellFailure",
    "CellNotRun",
    "ExecutionResult",
    "KernelDeath",
    "KernelStartError",
    "Limits",
    "execute_notebook",
]
