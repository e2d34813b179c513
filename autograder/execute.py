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
  shut down a kernel manager it was given: :class:`_GraderEngine` does, then the sandbox reaps.
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
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

import nbformat
import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine
from papermill.log import logger as papermill_logger
from papermill.parameterize import parameterize_notebook
from papermill.utils import merge_kwargs, remove_args
from traitlets import Any, Type

from autograder import sandbox
from autograder.limits import Limits
from autograder.sandbox import Isolation, KernelSandbox, ReapedProcess, SandboxLimits

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

log = logging.getLogger(__name__)

#: Largest kernel message the grader accepts, all its frames together (ZeroMQ drops the
#: connection on one bigger frame; _BoundedChannel drops a message of many frames that passes
#: it). Figures and long logs stay far below it.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
#: Messages queued in the grader per channel (ZeroMQ high-water mark, whole messages of any
#: number of frames); what a flooding kernel can make the grader hold is bounded by the watchdog
#: (see _receive_bound_mb).
RECEIVE_QUEUE_MESSAGES = 16
_WATCHDOG_TICK_S = 0.05
_MEMORY_CHECK_S = 0.2  # how often the kernel's memory is summed (a /proc scan)
#: A cell after which the kernel user has fewer free process slots than this starved the kernel.
_TASK_HEADROOM = 2
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TEXT_MIME = re.compile(r"^(text/.*|application/(json|javascript|x-latex))$")


# ---------------------------------------------------------------------------------------- API types
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
    """Everything the scoring step needs from an execution; see the module docstring."""

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


# ------------------------------------------------------------------------------- output budget
def _size(value: object) -> int:
    return len(value) if isinstance(value, str) else len(json.dumps(value))


class _OutputBudget:
    """Decides, message by message, what output the grader keeps.

    Text (streams, ``text/*`` display data, tracebacks) counts against ``per_cell_chars`` per
    cell; everything kept counts against ``total_chars`` for the notebook. A cleared output gives
    its share back, so a progress display that redraws itself keeps its latest frame.
    """

    def __init__(self, per_cell_chars: int, total_chars: int) -> None:
        self.per_cell = per_cell_chars
        self.total_cap = total_chars
        self.text = defaultdict(int)  # cell -> text chars kept since its last clear
        self.kept = defaultdict(int)  # cell -> all chars kept since its last clear
        self.total = 0
        self.cut_chars = defaultdict(int)  # cell -> text chars not kept
        self.cut_displays = defaultdict(int)  # cell -> displays (figures, ...) not kept
        self.lost: set[int] = set()  # cells whose output channel broke (an oversized message)
        self.refused: set[int] = set()  # cells that sent a message over the cap in many frames

    def cleared(self, cell: int) -> None:
        self.total -= self.kept[cell]
        self.text[cell] = self.kept[cell] = 0

    def _room(self, cell: int) -> int:
        return max(0, min(self.per_cell - self.text[cell], self.total_cap - self.total))

    def _keep(self, cell: int, text: int, other: int = 0) -> None:
        self.text[cell] += text
        self.kept[cell] += text + other
        self.total += text + other

    def admit(self, cell: int, msg: dict) -> dict | None:
        """The message to keep (maybe shortened), or None to drop it."""
        kind = msg["msg_type"]
        content = msg["content"]
        if kind == "stream":
            text = content.get("text", "")
            room = self._room(cell)
            if len(text) <= room:
                self._keep(cell, len(text))
                return msg
            self.cut_chars[cell] += len(text) - room
            if room == 0:
                return None
            self._keep(cell, room)
            return {**msg, "content": {**content, "text": text[:room]}}
        if kind == "error":  # always kept: the failure is the kernel's word; only shortened
            room = max(self._room(cell), 2000)
            evalue = str(content.get("evalue", ""))[:room]
            lines, used = [], len(evalue)
            for line in content.get("traceback", []):
                if used + len(line) > room:
                    lines.append("[... rest of the traceback cut ...]")
                    break
                lines.append(line)
                used += len(line)
            self._keep(cell, used)
            return {**msg, "content": {**content, "evalue": evalue, "traceback": lines}}
        if kind in ("display_data", "execute_result"):
            data = content.get("data", {})
            text = sum(_size(v) for k, v in data.items() if _TEXT_MIME.match(k))
            other = sum(_size(v) for k, v in data.items() if not _TEXT_MIME.match(k))
            room = self._room(cell)
            if text <= room and text + other <= self.total_cap - self.total:
                self._keep(cell, text, other)
                return msg
            # Keep a short plain-text form when there is room for some text; drop the rest.
            plain = str(data.get("text/plain", ""))
            self.cut_displays[cell] += 1
            if room == 0 or not plain:
                return None
            self.cut_chars[cell] += max(0, len(plain) - room)
            self._keep(cell, min(len(plain), room))
            return {**msg, "content": {**content, "data": {"text/plain": plain[:room]}}}
        return msg

    def note(self, cell: int) -> str | None:
        """The line appended to a cell whose output was cut, or None."""
        chars, displays = self.cut_chars.get(cell, 0), self.cut_displays.get(cell, 0)
        if cell in self.lost or cell in self.refused:
            return (
                f"\n[kit grader: this cell sent an output larger than the "
                f"{MAX_MESSAGE_BYTES / 2**20:g} MB the grader accepts in one message; "
                + (
                    "that output and the rest of the cell's output were lost.]\n"
                    if cell in self.lost
                    else "that output was not kept.]\n"
                )
            )
        if not (chars or displays):
            return None
        what = []
        if chars:
            what.append(f"{chars:,} characters of output")
        if displays:
            what.append(f"{displays} display{'s' if displays > 1 else ''} (figures, tables)")
        return (
            f"\n[kit grader: {' and '.join(what)} not kept. The grader keeps "
            f"{self.per_cell:,} characters of text per cell and "
            f"{self.total_cap / 2**20:g} MB of output per notebook.]\n"
        )


# --------------------------------------------------------------------------------- one attempt
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


class _Watchdog(threading.Thread):
    """Interrupts a cell past its time, kills a kernel that ignores it, stops at the deadline."""

    def __init__(self, attempt: _Attempt) -> None:
        super().__init__(daemon=True, name="kit-grader-watchdog")
        self.attempt = attempt
        self.done = threading.Event()
        self.next_quick = self.next_exact = 0.0

    def run(self) -> None:
        a, limits = self.attempt, self.attempt.limits
        flooded_at = _grader_rss_mb() + _receive_bound_mb(limits)
        while not self.done.wait(_WATCHDOG_TICK_S):
            now = time.monotonic()
            current = a.current
            if now >= a.deadline:
                self._halt("total-timeout", current[0] if current else None)
                return
            if a.pgid is None:
                continue
            if _grader_rss_mb() > flooded_at:  # see _receive_bound_mb
                self._halt("flood", current[0] if current else a.last_started)
                return
            if limits.memory_mb and self._over_memory(now):
                self._halt("memory", current[0] if current else a.last_started)
                return
            if current is None:
                continue
            index, started = current
            if now - started < limits.cell_timeout_s:
                continue
            if index not in a.interrupted:
                a.interrupted[index] = now
                log.info("cell %d passed its time limit: interrupting the kernel", index)
                a.sandbox.interrupt(a.pgid)
            elif now - a.interrupted[index] >= limits.interrupt_grace_s:
                self._halt("killed-after-timeout", index)
                return

    def _over_memory(self, now: float) -> bool:
        """Are the kernel's processes over the memory limit? Exact figure at most once a second."""
        a, limit = self.attempt, self.attempt.limits.memory_mb
        if now < self.next_quick:
            return False
        self.next_quick = now + _MEMORY_CHECK_S
        if a.sandbox.memory_use_mb(a.pgid) <= limit or now < self.next_exact:
            return False  # the quick figure is an upper bound: under it, all is well
        self.next_exact = now + 1.0
        a.memory_used_mb = a.sandbox.memory_use_mb(a.pgid, exact=True)
        return a.memory_used_mb > limit

    def _halt(self, reason: str, cell: int | None) -> None:
        a = self.attempt
        with a.lock:
            a.stop_reason, a.stop_cell = reason, cell
        log.info("stopping the kernel (%s, cell %s)", reason, cell)
        a.sandbox.kill_all(a.pgid)


# ------------------------------------------------------------------------------- kernel client
# The kernel is hostile: it can send anything on any of its sockets. Everything the grader reads
# from it goes through _BoundedChannel (shell, iopub, stdin, control); the private parts of
# jupyter_client and pyzmq this needs are used here and in _GraderClient only.
class _BoundedChannel(AsyncZMQSocketChannel):
    """A kernel channel that drops any message whose frames pass ``MAX_MESSAGE_BYTES`` in total.

    ZeroMQ's ``MAXMSGSIZE`` bounds one frame only and its high-water mark counts whole messages,
    so one message of many frames passes both. Here a message is received frame by frame without
    a copy (``copy=False``); once its frames pass the cap, the rest of its frames are received and
    let go, and the message is never decoded. ``dropped`` counts the messages dropped so far.
    """

    def __init__(self, socket: zmq.asyncio.Socket, session, loop=None) -> None:
        super().__init__(socket, session, loop)
        self.dropped = 0

    async def _frames(self) -> list[bytes] | None:
        """The next message's frames (identities first), or None when it was over the cap."""
        frames: list[zmq.Frame] = []
        total = 0
        while True:
            frame = await self.socket.recv(copy=False)
            total += len(frame)
            if total <= MAX_MESSAGE_BYTES:
                frames.append(frame)
            elif frames:
                frames.clear()  # from here on each frame is let go as soon as it is counted
            if not self.socket.get(zmq.RCVMORE):
                break
        if total > MAX_MESSAGE_BYTES:
            self.dropped += 1
            log.warning("dropped a kernel message of %d bytes (over %d)", total, MAX_MESSAGE_BYTES)
            return None
        return [frame.bytes for frame in frames]

    def _decode(self, frames: list[bytes]) -> dict:
        _, message = self.session.feed_identities(frames)
        return self.session.deserialize(message)

    async def _recv(self, **kwargs) -> dict:
        """The next message within the cap (a dropped one is skipped), decoded by the session."""
        while (frames := await self._frames()) is None:
            pass
        return self._decode(frames)

    async def get_msg(self, timeout: float | None = None) -> dict:
        """As jupyter_client's: a message within ``timeout`` seconds, else ``queue.Empty``;
        a dropped message does not end the wait."""
        give_up = None if timeout is None else time.monotonic() + timeout
        while True:
            left_ms = None if give_up is None else max(0, int((give_up - time.monotonic()) * 1000))
            if not await self.socket.poll(left_ms):
                raise Empty
            frames = await self._frames()
            if frames is not None:
                return self._decode(frames)

    def take_dropped(self) -> int:
        """How many messages were dropped since the last call."""
        dropped, self.dropped = self.dropped, 0
        return dropped


class _BoundedKernelClient(AsyncKernelClient):
    """jupyter_client's async kernel client with every channel it reads bounded."""

    shell_channel_class = Type(_BoundedChannel)
    iopub_channel_class = Type(_BoundedChannel)
    stdin_channel_class = Type(_BoundedChannel)
    control_channel_class = Type(_BoundedChannel)

    def take_dropped(self) -> int:
        """Messages over the cap dropped on any channel since the last call."""
        channels = (self._shell_channel, self._iopub_channel, self._stdin_channel,
                    self._control_channel)  # fmt: skip
        return sum(c.take_dropped() for c in channels if isinstance(c, _BoundedChannel))


def _grader_rss_mb() -> float:
    """The grader process's resident memory now, in MB (one read of ``/proc/self/statm``)."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _receive_bound_mb(limits: Limits) -> float:
    """Memory, in MB, a kernel may make the grader hold by sending to it: the messages ZeroMQ
    queues on a channel (``RECEIVE_QUEUE_MESSAGES`` of at most ``MAX_MESSAGE_BYTES``) plus the
    outputs kept, four times over for their decoded Python form.

    The watchdog stops a kernel that makes the grader grow past it. Nothing on the receiving side
    can: libzmq delivers a message of many frames whole (its pipe never shows an application a
    partial message), so a kernel sending one of 60 frames x 30 MB had the grader hold all
    1.8 GB before :class:`_BoundedChannel` saw its first frame. Killing the sender makes libzmq
    discard the frames it held of an unfinished message.

    >>> _receive_bound_mb(Limits())
    640.0
    """
    return RECEIVE_QUEUE_MESSAGES * MAX_MESSAGE_BYTES / 2**20 + 4 * limits.max_notebook_output_mb


class _GraderKernelManager(AsyncKernelManager):
    """A kernel manager whose clients refuse oversized messages and queue only a few."""

    client_factory = Type(_BoundedKernelClient, klass=AsyncKernelClient)

    def client(self, **kwargs):
        kwargs.setdefault("context", self.client_context)
        return super().client(**kwargs)

    def new_client_context(self) -> None:
        self.client_context = zmq.asyncio.Context()
        self.client_context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.client_context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE_MESSAGES)
        self.client_context.setsockopt(zmq.LINGER, 0)


class _GraderClient(PapermillNotebookClient):
    """papermill's notebook client, plus: sandboxed start, time tracking, skipped cells, caps."""

    attempt = Any(None)

    def __init__(self, nb_man, km=None, attempt: _Attempt | None = None, **kw) -> None:
        super().__init__(nb_man, km=km, **kw)
        self.attempt = attempt

    async def async_start_new_kernel(self, **kwargs) -> None:
        a: _Attempt = self.attempt
        kwargs.update(a.sandbox.launch_kwargs())
        a.start_began = time.monotonic()
        try:
            await super().async_start_new_kernel(**kwargs)
        finally:
            a.sandbox.after_launch()
        a.pgid = self.km.provisioner.pgid or self.km.provisioner.pid

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        self.attempt.ready_after_s = time.monotonic() - self.attempt.start_began
        self._watch_iopub()
        return kc

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        done = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if self.kc.take_dropped():  # a message of many frames, over the cap in total
            self.attempt.budget.refused.add(cell_index)
        if await self._iopub_dropped():
            self.attempt.budget.lost.add(cell_index)
            await self._reopen_iopub()
        return done

    async def _check_raise_for_error(self, cell, cell_index, exec_reply) -> None:
        # nbclient calls this with every execute_reply: keep the kernel's verdict for the cell.
        if exec_reply is not None:
            self.attempt.replies[cell_index] = dict(exec_reply.get("content") or {})
        await super()._check_raise_for_error(cell, cell_index, exec_reply)

    # nbclient binds its synchronous names to its own coroutines: re-bind them to ours.
    start_new_kernel = run_sync(async_start_new_kernel)
    start_new_kernel_client = run_sync(async_start_new_kernel_client)
    execute_cell = run_sync(async_execute_cell)

    # An oversized message (over MAX_MESSAGE_BYTES) makes ZeroMQ close the output channel for good
    # (a protocol error, which it does not reconnect after). The cell that sent it loses the rest
    # of its output; the next cell must not: after each cell, a closed channel is opened anew.
    def _watch_iopub(self) -> None:
        self._iopub_events = self.kc.iopub_channel.socket.get_monitor_socket(
            zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED
        )

    async def _iopub_dropped(self) -> bool:
        dropped = False
        while True:
            try:
                await self._iopub_events.recv_multipart(zmq.NOBLOCK)
                dropped = True
            except zmq.Again:
                return dropped

    async def _reopen_iopub(self) -> None:
        log.warning("the kernel's output channel was closed (oversized message); reopening it")
        self.kc.iopub_channel.socket.disable_monitor()
        self._iopub_events.close(linger=0)
        self.kc.iopub_channel.close()
        self.kc._iopub_channel = None  # the property makes a new, connected channel
        self.kc.iopub_channel.start()
        self._watch_iopub()
        # A new subscriber misses what is published before its subscription arrives: wait until
        # the kernel's answer to a request shows up on the new channel.
        give_up = time.monotonic() + 5
        while time.monotonic() < give_up:
            msg_id = self.kc.kernel_info()
            try:
                while True:
                    msg = await self.kc.iopub_channel.get_msg(timeout=0.25)
                    if msg["parent_header"].get("msg_id") == msg_id:
                        return
            except Empty:
                continue

    def papermill_execute_cells(self) -> None:
        """papermill's loop, minus the cells a previous kernel died in, plus time tracking."""
        a: _Attempt = self.attempt
        for index, cell in enumerate(self.nb.cells):
            if index in a.skip:
                continue
            self.nb_man.cell_start(cell, index)
            a.cell_started(index)
            try:
                self.execute_cell(cell, index)
            finally:
                self.nb_man.cell_complete(self.nb.cells[index], cell_index=index)
            if a.limits.max_processes is not None:
                tasks = a.sandbox.task_count()
                if tasks is not None and tasks >= a.limits.max_processes - _TASK_HEADROOM:
                    # The cell left the user at its process limit (a fork bomb, a runaway pool):
                    # the kernel cannot start a thread any more, so no later cell could run.
                    raise _ProcessLimitReachedError(index, tasks)
            a.cell_finished(index)

    def output(self, outs, msg, display_id, cell_index):
        if self.clear_before_next_output:  # the parent is about to clear this cell's outputs
            self.attempt.budget.cleared(cell_index)
        kept = self.attempt.budget.admit(cell_index, msg)
        if kept is None:
            return None
        return super().output(outs, kept, display_id, cell_index)

    def clear_output(self, outs, msg, cell_index) -> None:
        super().clear_output(outs, msg, cell_index)
        if not msg["content"].get("wait"):
            self.attempt.budget.cleared(cell_index)

    def _update_display_id(self, display_id, msg) -> None:
        data = msg["content"].get("data", {})
        if sum(_size(v) for v in data.values()) <= self.attempt.budget.per_cell:
            super()._update_display_id(display_id, msg)


class _GraderEngine(NBClientEngine):
    """papermill's nbclient engine with :class:`_GraderClient`, shutting the kernel down itself."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        log_output=False,
        stdout_file=None,
        stderr_file=None,
        start_timeout=60,
        execution_timeout=None,
        **kwargs,
    ):
        # As papermill's NBClientEngine.execute_managed_notebook, with our client class.
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=None,  # the watchdog keeps time (see the module docstring)
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=papermill_logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        client = _GraderClient(
            nb_man,
            allow_errors=True,  # every cell runs, tagged raises-exception or not
            raise_on_iopub_timeout=False,  # lost output must not stop the notebook
            shell_timeout_interval=1,
            **final_kwargs,
        )
        try:
            return client.execute()
        finally:
            # nbclient leaves a kernel manager it was given running: shut it down here.
            run_sync(_shutdown)(client)


async def _shutdown(client: _GraderClient) -> None:
    km, kc = client.km, client.kc
    if km is not None and km.has_kernel:
        client.attempt.alive_at_end = bool(await km.is_alive())
    if kc is not None:
        kc.stop_channels()
        client.kc = None
    if km is not None and km.has_kernel:
        try:
            await km.shutdown_kernel(now=True)
        except RuntimeError as exc:  # already gone
            log.debug("kernel shutdown: %s", exc)
    if km is not None:
        km.client_context.destroy(linger=0)


# ------------------------------------------------------------------------------------ the call
def _prepare(notebook: nbformat.NotebookNode, parameters: Mapping[str, object]):
    """A parameterised deep copy (papermill's injection) and its map to input positions."""
    nb = nbformat.from_dict(copy.deepcopy(dict(notebook)))
    nb = nbformat.v4.upgrade(nb)
    nb.metadata.setdefault("papermill", {"parameters": {}, "environment_variables": {}})
    nb.metadata.setdefault("kernelspec", {"name": sandbox.KERNEL_NAME, "language": "python"})
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
        cell.metadata.setdefault("papermill", {})
    if parameters:
        values = {
            key: os.fspath(v) if isinstance(v, os.PathLike) else v for key, v in parameters.items()
        }
        nb = parameterize_notebook(nb, values, language="python", kernel_name="python3")
    positions: list[int | None] = []
    seen = 0
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            positions.append(None)
        else:
            seen += 1
            positions.append(seen)
    return nb, positions


class _Labeller:
    """Names cells the way a student finds them: position in their notebook and grade_id."""

    def __init__(self, nb: nbformat.NotebookNode, positions: list[int | None]) -> None:
        self.nb, self.positions = nb, positions

    def __call__(self, index: int, capital: bool = False) -> str:
        position = self.positions[index]
        name = "the parameters cell" if position is None else f"cell {position}"
        meta = self.nb.cells[index].metadata
        grade_id = meta.get("kit", {}).get("grade_id") or meta.get("nbgrader", {}).get("grade_id")
        if grade_id:
            name += f" ({grade_id!r})"
        return name[0].upper() + name[1:] if capital else name


def _error_output(ename: str, evalue: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


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
    """Run ``notebook`` in a sandboxed kernel with papermill; see the module docstring.

    Raises :class:`autograder.sandbox.IsolationUnavailableError` when ``isolate=True`` cannot be
    met, :class:`KernelStartError` when the kernel cannot start (a set-up problem; the message
    holds the kernel's own error output), ValueError for a ``hide`` path the kernel needs.
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
    records: dict[int, tuple[nbformat.NotebookNode, str]] = {}  # index -> (cell, outcome)
    replies: dict[int, dict] = {}  # index -> its latest execute_reply content
    deaths: list[KernelDeath] = []
    timed_out: set[int] = set()
    reaped: list[ReapedProcess] = []
    start_times: list[float] = []
    language_info = None
    stop: tuple[str, int | None] | None = None  # why the last attempt ended early
    with box:
        skip: set[int] = set()
        while True:
            attempt = _Attempt(box, limits, deadline, frozenset(skip), budget)
            run_nb = copy.deepcopy(nb)
            outcome = _run_attempt(run_nb, attempt, box)
            if attempt.ready_after_s is not None:
                start_times.append(attempt.ready_after_s)
            reaped += box.reap(attempt.pgid)
            language_info = run_nb.metadata.get("language_info", language_info)
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
                stop = (cause, None)
                break
            if cause != "total-timeout" or index not in records:
                records[index] = (run_nb.cells[index], cause)
            deaths.append(KernelDeath(index, cause))
            if cause == "killed-after-timeout":
                timed_out.add(index)
            skip |= {index} | timed_out  # a cell that hung once would hang again
            if cause == "total-timeout" or len(deaths) > limits.max_restarts:
                stop = (cause, index)
                break
            if time.monotonic() >= deadline:
                stop = ("total-timeout", index)
                break
    elapsed = time.monotonic() - began
    final, failures, not_run, notices = _assemble(nb, records, replies, stop, budget, limits, label)
    if language_info is not None:
        final.metadata["language_info"] = language_info
    if reaped:
        notices.append(
            "A background process started by your notebook was still running after the notebook "
            f"ended and was stopped: {', '.join(map(str, reaped[:5]))}"
            + (f" and {len(reaped) - 5} more." if len(reaped) > 5 else ".")
        )
    if output_path is not None:
        _write_private(final, Path(output_path))
    return ExecutionResult(
        notebook=final,
        failures=failures,
        not_run=not_run,
        kernel_deaths=tuple(deaths),
        timed_out_cells=frozenset(timed_out),
        truncated_cells=frozenset(i for i in range(len(final.cells)) if budget.note(i)),
        notices=tuple(notices),
        isolation=isolation,
        elapsed_s=elapsed,
        kernel_start_s=tuple(start_times),
        restarts=max(0, len(start_times) - 1),
        reaped=tuple(reaped),
    )


def _assemble(
    nb: nbformat.NotebookNode,
    records: Mapping[int, tuple[nbformat.NotebookNode, str]],
    replies: Mapping[int, dict],
    stop: tuple[str, int | None] | None,
    budget: _OutputBudget,
    limits: Limits,
    label: _Labeller,
) -> tuple[nbformat.NotebookNode, dict[int, CellFailure], dict[int, CellNotRun], list[str]]:
    """The executed notebook from each cell's latest record; failures, cells not run, notices."""
    final = copy.deepcopy(nb)
    failures: dict[int, CellFailure] = {}
    not_run: dict[int, CellNotRun] = {}
    notices: list[str] = []
    for index in range(len(final.cells)):
        if final.cells[index].cell_type != "code":
            continue
        if index not in records:
            if final.cells[index].source.strip():
                total = stop is None or stop[0] == "total-timeout"
                reason = "total-timeout" if total else "restart-limit"
                not_run[index] = CellNotRun(index, reason, _not_run_message(reason, limits))
            continue
        cell, outcome = records[index]
        final.cells[index] = cell
        stopped = _stopped_by_grader(index, outcome, stop, limits, label)
        if stopped is not None:
            ename, evalue, notice = stopped
            cell.outputs.append(_error_output(ename, evalue))
            failures[index] = CellFailure(index, ename, evalue, "")
            notices.append(notice)
        note = budget.note(index)
        if note:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=note))
            name = label(index, capital=True)
            too_big = (
                f"{name} sent an output larger than the {MAX_MESSAGE_BYTES / 2**20:g} MB the "
                "grader accepts in one message; "
            )
            notices.append(
                too_big + "the rest of that cell's output was lost (the next cells ran normally)."
                if index in budget.lost
                else too_big + "that output was not kept (the rest was). Save large results to "
                "a file instead of printing or displaying them."
                if index in budget.refused
                else f"{name} printed more output than the grader keeps; the rest was cut."
            )
        if index in failures:
            continue
        failure = _verdict(index, cell, replies.get(index))
        if failure is not None:
            failures[index] = failure
            notices += _notice_for_error(failure, label, limits)
    if not_run:
        first = min(not_run)
        notices.append(
            f"{len(not_run)} cell{'s' if len(not_run) > 1 else ''} from {label(first)} on "
            f"did not run: {not_run[first].message}"
        )
    return final, failures, not_run, notices


def _verdict(index: int, cell: nbformat.NotebookNode, reply: Mapping | None) -> CellFailure | None:
    """The kernel's word on a cell that ran to its end: None when its execute_reply says ``ok``.

    The reply decides, not the outputs: an exception swallowed by ``set_custom_exc`` or one whose
    message cannot be encoded leaves no ``error`` output, but its reply still says ``error``.
    An error output gives the details when the reply lacks them.

    >>> ok = _verdict(3, nbformat.v4.new_code_cell("x = 1"), {"status": "ok"})
    >>> ok is None
    True
    >>> str(_verdict(3, nbformat.v4.new_code_cell("x = 1"), {"status": "error", "ename": "E",
    ...                                                     "evalue": "bad"}))
    'cell 3: E: bad'
    """
    if not cell.source.strip():
        return None  # nothing to run: nbclient sends no request, so there is no reply
    status = reply.get("status") if reply is not None else None
    if status == "ok":
        return None
    output = next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)
    if status == "error":
        ename = reply.get("ename") or (output.ename if output else "") or "Error"
        evalue = reply.get("evalue") or (output.evalue if output else "")
        traceback = reply.get("traceback") or (output.traceback if output else [])
        if not isinstance(traceback, list):
            traceback = [str(traceback)]
        return CellFailure(
            index, _plain(str(ename)), _plain(str(evalue)), _plain("\n".join(map(str, traceback)))
        )
    if status == "aborted":
        return CellFailure(index, "ExecutionAborted", "the kernel aborted the cell", "")
    evalue = (
        "the kernel did not say whether the cell succeeded"
        if reply is None
        else f"the kernel answered with the unknown status {status!r}"
    )
    return CellFailure(index, "NoExecuteReply", evalue, "")


def _stopped_by_grader(
    index: int, outcome: str, stop: tuple[str, int | None] | None, limits: Limits, label: _Labeller
) -> tuple[str, str, str] | None:
    """(ename, evalue, notice) for a cell the grader stopped or lost its kernel in; else None."""
    name, cell_limit = label(index, capital=True), f"{limits.cell_timeout_s:g} s limit"
    if outcome == "timed-out":
        evalue = f"{name} ran longer than the {cell_limit} and was stopped."
        return "CellTimeoutError", evalue, evalue
    if outcome == "killed-after-timeout":
        evalue = (
            f"{name} ran longer than the {cell_limit} and did not stop when interrupted, so its "
            "kernel was shut down."
        )
        return "CellTimeoutError", evalue, evalue + _after_death(index, stop, limits)
    if outcome == "process-limit":
        evalue = (
            f"{name} started processes or threads until the kernel user reached its limit of "
            f"{limits.max_processes}, so the kernel could not go on and was shut down."
        )
        return "ProcessLimitError", evalue, evalue + _after_death(index, stop, limits)
    if outcome == "memory":
        evalue = (
            f"{name} used more than the {limits.memory_mb} MB memory limit (the kernel and the "
            "processes it started, together), so its kernel was shut down."
        )
        return "OutOfMemoryError", evalue, evalue + _after_death(index, stop, limits)
    if outcome == "died":
        evalue = (
            f"The kernel died while running {label(index)} (it may have run out of memory, "
            "crashed, killed itself or called os._exit())."
        )
        return "DeadKernelError", evalue, evalue + _after_death(index, stop, limits)
    if outcome == "flood":
        evalue = (
            f"{name} sent the grader more than {_receive_bound_mb(limits):g} MB of output at once "
            "(one message in many parts), so its kernel was shut down. Save large results to a "
            "file instead of sending them as output."
        )
        return "OutputFloodError", evalue, evalue + _after_death(index, stop, limits)
    if outcome == "total-timeout":
        evalue = (
            f"The notebook reached its {limits.total_timeout_s:g} s total time limit while "
            f"running {label(index)}, which was stopped."
        )
        return "CellTimeoutError", evalue, evalue
    return None


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
