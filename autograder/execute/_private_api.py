"""Every use of papermill's, nbclient's, jupyter_client's and pyzmq's internals, in one module.

The kernel is hostile: it can send anything on any of its sockets, so the grader reads it through
its own channel, client, kernel manager, notebook client and engine. They rely on these APIs,
which are not public and may change in any release (pyproject.toml bounds the versions):

- jupyter_client: ``AsyncZMQSocketChannel`` (its ``socket``, ``session``, ``_recv``, ``get_msg``,
  constructor ``(socket, session, loop)``); ``AsyncKernelClient``'s ``*_channel_class`` traits and
  ``_shell_channel``/``_iopub_channel``/``_stdin_channel``/``_control_channel`` attributes (an
  ``_iopub_channel`` set to None is made anew by the ``iopub_channel`` property);
  ``AsyncKernelManager``'s ``client_factory``, ``client_context``, ``provisioner.pgid``/``pid``.
- nbclient (through papermill's client): ``async_start_new_kernel``,
  ``async_start_new_kernel_client``, ``async_execute_cell``, ``_check_raise_for_error`` (called
  with every execute_reply), ``output``, ``clear_output``, ``clear_before_next_output``,
  ``_update_display_id``, and that its synchronous names are ``run_sync`` bindings; it does not
  shut down a kernel manager it was given.
- papermill: ``PapermillNotebookClient.papermill_execute_cells`` and ``nb_man``,
  ``NBClientEngine.execute_managed_notebook``'s signature, ``papermill.utils.merge_kwargs`` and
  ``remove_args``, ``papermill.log.logger``.
- pyzmq: zero-copy ``recv(copy=False)`` frames, ``RCVMORE``, ``get_monitor_socket`` /
  ``disable_monitor`` events, context options ``MAXMSGSIZE``, ``RCVHWM``, ``LINGER``.

The rest of :mod:`autograder.execute` uses their public APIs only (``KernelSpecManager``,
``DeadKernelError``, ``parameterize_notebook``, the engine's ``execute_notebook`` class method).
"""

from __future__ import annotations

import logging
import time
from queue import Empty

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine
from papermill.log import logger as papermill_logger
from papermill.utils import merge_kwargs, remove_args
from traitlets import Any, Type

from autograder.execute.attempt import _TASK_HEADROOM, _Attempt, _ProcessLimitReachedError
from autograder.execute.output_budget import MAX_MESSAGE_BYTES, RECEIVE_QUEUE_MESSAGES, _size

log = logging.getLogger(__name__)


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
            timeout=None,  # the watchdog keeps time (see autograder.execute)
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
