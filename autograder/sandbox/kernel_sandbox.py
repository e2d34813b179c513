"""The sandbox of one execution: set-up, what one kernel's launch needs, and tear-down.

:class:`KernelSandbox` prepares what the kernels of one execution share (the user's lock, the
private base folder with the launch settings and the kernelspec, ``HOME``, the memory cgroup,
hidden paths) and tears it all down, each step in a ``finally`` of its own. Planning, path
policy, hiding by permissions, leftovers, launch settings, ``/proc`` accounting and reaping
live in the sibling modules; the package docstring (:mod:`autograder.sandbox`) describes the whole.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder.cgroup import MemoryCgroup, create_memory_cgroup
from autograder.disk import capped_folder, remove_tree
from autograder.sandbox import accounting, launch
from autograder.sandbox.gpus import KERNEL_GPUS_ENV, GpuPlan, no_namespace_note, plan_gpu_devices
from autograder.sandbox.hidden_by_permissions import (
    _process_start,
    hide_by_permissions,
    release_hidden_path,
)
from autograder.sandbox.isolation import LAUNCHER, Isolation, _is_root
from autograder.sandbox.kernel_stderr import _StderrTail
from autograder.sandbox.leftovers import _clear_keyrings_of, remove_leftovers_of
from autograder.sandbox.paths import (
    _check_reachable,
    _give_to_user,
    _is_under,
    _private_root_dir,
    check_hidden_paths,
)
from autograder.sandbox.reaping import (
    ReapedProcess,
    Reaper,
    _kill_every_process_of,
    become_subreaper,
)

log = logging.getLogger(__name__)

KERNEL_NAME = "kit-grader"
CONNECTION = "{connection_file}"  # filled in by jupyter_client


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for the kernel (None: no limit); the package docstring says how.

    ``memory_mb``: the kernel and its children together, and each process where no GPU is
    visible; ``max_processes``: processes and threads of the kernel user (isolated only);
    ``max_file_mb``: the largest file a kernel process may write.
    """

    memory_mb: int | None = 4096
    max_processes: int | None = 256
    max_file_mb: int | None = 4096
    #: Everything the kernel keeps in ``HOME`` together (a tmpfs of that size); None: uncapped.
    disk_mb: int | None = 1024


@dataclass
class KernelSandbox:
    """The user, folders, kernelspec and limits that the kernels of one execution share.

    Use as a context manager; inside it, :meth:`launch_kwargs` gives what the kernel manager's
    ``start_kernel`` needs, :meth:`kill_all` stops everything at once and :meth:`reap` cleans up
    after a kernel. On exit every process of the user is reaped and the private folder removed.
    """

    isolation: Isolation
    workdir: Path
    hide: Sequence[Path] = ()
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    kernel_env: dict[str, str] | None = None
    #: The folders inside ``workdir`` handed to the kernel user; the first is its working
    #: directory, and ``workdir`` itself stays the caller's. None: all of ``workdir`` (the cwd).
    writable: Sequence[Path] | None = None
    base: Path = field(init=False)
    token: str = field(init=False, default_factory=lambda: secrets.token_hex(16))
    _lock: int | None = field(init=False, default=None)
    _tails: list[_StderrTail] = field(init=False, default_factory=list)
    #: The run's memory cgroup, where the machine offers one (see :mod:`autograder.cgroup`).
    cgroup: MemoryCgroup | None = field(init=False, default=None)
    _home: contextlib.ExitStack | None = field(init=False, default=None)
    #: Hidden paths this run holds closed by permissions (no mount namespace).
    _closed: list[Path] = field(init=False, default_factory=list)
    #: Ends the kernels' processes; made with ``base``, which holds the census it reads.
    _reaper: Reaper = field(init=False)
    #: The GPUs whose device nodes the kernel keeps; None: no NVIDIA driver, or all of them.
    gpu_plan: GpuPlan | None = field(init=False, default=None)
    #: Why the kernel could reach GPUs other than its own, for the results; None when it could not.
    gpu_note: str | None = field(init=False, default=None)

    # ------------------------------------------------------------------ set-up and tear-down
    def __enter__(self) -> KernelSandbox:
        self.workdir = Path(os.path.realpath(self.workdir))
        self.writable = [Path(os.path.realpath(p)) for p in self.writable or [self.workdir]]
        self.cwd = self.writable[0]
        if not self.workdir.is_dir():
            raise FileNotFoundError(
                f"The kernel's working directory {self.workdir} does not exist; create it and put "
                "the submission's files there."
            )
        self.hidden = check_hidden_paths(self.hide)
        for hidden in self.hidden:
            if _is_under(self.workdir, hidden) and not self.isolation.namespaces:
                raise ValueError(
                    f"Cannot hide {hidden}: it holds the kernel's working directory "
                    f"{self.workdir}, and without a mount namespace the kernel could not reach it."
                )
        self.base = Path(tempfile.mkdtemp(prefix="kg-"))
        self._reaper = Reaper(self.isolation, self.token, self.base / "census")
        try:
            self._set_up()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _set_up(self) -> None:
        iso = self.isolation
        self.kernel_dir = self.base / "kernel"
        self.kernel_dir.mkdir(mode=0o700)
        if iso.enabled:
            # O_CLOEXEC (Python's default, said here because it matters): no kernel, launcher or
            # child may inherit the lock and keep it held after this grader is done.
            self._lock = os.open(
                _private_root_dir() / f"{iso.user}.lock",
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
            )
            fcntl.flock(self._lock, fcntl.LOCK_EX)  # another execution with this user: wait
            become_subreaper()
            leftovers = self.reap()  # of a grader that died mid-run: not this student's doing
            if leftovers:
                log.warning(
                    "ended processes an earlier run left: %s", ", ".join(map(str, leftovers))
                )
            _clear_keyrings_of(iso.uid, iso.gid)
            if not iso.namespaces:  # an earlier run without namespaces may have left things
                self._remove_leftovers()
            os.chmod(self.base, 0o711)
            _give_to_user(self.kernel_dir, iso.uid, iso.gid)
        self._make_home()
        if iso.namespaces:
            self._make_run_files()
        if iso.enabled:
            for folder in self.writable:
                _give_to_user(folder, iso.uid, iso.gid)
            if not iso.namespaces:
                for needed in (*self.writable, self.kernel_dir):
                    _check_reachable(needed, iso.uid, iso.gid)
                for hidden in self.hidden:
                    self._close_by_permissions(hidden)
        self._plan_gpus()
        self.connection_file = self.kernel_dir / "kernel.json"
        self.ipc_prefix = self.kernel_dir / "ipc"
        launch_json = self.base / "launch.json"
        fd = os.open(launch_json, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self._launch_settings(), f)
        self.spec_dir = self.base / "kernels"
        (self.spec_dir / KERNEL_NAME).mkdir(parents=True, mode=0o700)
        spec = {
            "argv": [sys.executable, "-I", "-S", str(LAUNCHER), str(launch_json), CONNECTION],
            "display_name": "Python 3 (kit grader)",
            "language": "python",
            "interrupt_mode": "signal",
        }
        (self.spec_dir / KERNEL_NAME / "kernel.json").write_text(json.dumps(spec))

    def _plan_gpus(self) -> None:
        """Which GPUs' device nodes the kernel keeps (:mod:`autograder.sandbox.gpus`), and
        the note for the results where that cannot hold."""
        cuda_visible = self._kernel_environment().get("CUDA_VISIBLE_DEVICES")
        self.gpu_plan = plan_gpu_devices(os.environ.get(KERNEL_GPUS_ENV), cuda_visible)
        if self.gpu_plan is not None:
            if not self.gpu_plan.restricts:
                self.gpu_note = self.gpu_plan.note
            elif not self.isolation.namespaces:
                self.gpu_note = no_namespace_note()

    def _make_home(self) -> None:
        """``HOME``: a tmpfs of ``disk_mb`` where root may mount one, else an ordinary folder."""
        home = self.kernel_dir / "home"
        iso = self.isolation
        uid, gid = (iso.uid, iso.gid) if iso.enabled else (os.getuid(), os.getgid())
        if self.limits.disk_mb is None or not _is_root():
            home.mkdir(mode=0o700)
            os.lchown(home, uid, gid)
            return
        self._home = contextlib.ExitStack()
        capped = self._home.enter_context(
            capped_folder(home, self.limits.disk_mb, mode=0o700, uid=uid, gid=gid)
        )
        if not capped.capped:
            log.warning("the kernel's HOME is not size-capped: %s", capped.reason)

    def _make_run_files(self) -> None:
        """Root-only files beside the launch settings: an empty file to bind over hidden files,
        the census the namespace's init writes, and the run's memory cgroup."""
        empty = self.base / "empty"
        os.close(os.open(empty, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444))
        census = self.base / "census"
        os.close(os.open(census, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        if self.limits.memory_mb:
            self.cgroup = create_memory_cgroup(
                f"kit-{self.isolation.user}-{self.token[:12]}", self.limits.memory_mb
            )

    def oom_kills(self) -> int:
        """Processes the kernel's OOM killer ended in the run's cgroup so far (0 without one)."""
        return self.cgroup.oom_kills() if self.cgroup is not None else 0

    def _close_by_permissions(self, path: Path) -> None:
        """Without a mount namespace: take away the "other" bits so the user cannot read it."""
        if hide_by_permissions(path, self.isolation.uid, self.isolation.gid, self._holder()):
            self._closed.append(path)

    def _holder(self) -> list:
        """This run's name in the hidden-path record: [pid, its start time, the run's token]
        (the token tells apart two sandboxes of one process; the start time, a reused pid)."""
        return [os.getpid(), _process_start(os.getpid()), self.token]

    def _remove_leftovers(self) -> None:
        """Without namespaces: what the kernel user left in shared places, except the run's own
        folders (the caller still reads the student's outputs from ``workdir``)."""
        keep = [self.workdir, *(self.writable or ()), self.base]
        remove_leftovers_of(self.isolation.uid, self.isolation.gid, keep=keep)

    def _launch_settings(self) -> dict:
        """What the launcher reads (:func:`autograder.sandbox.launch.launch_settings`)."""
        return launch.launch_settings(self, self._kernel_environment())

    def _kernel_environment(self) -> dict[str, str]:
        """The kernel's whole environment (:func:`autograder.sandbox.launch.kernel_environment`)."""
        return launch.kernel_environment(
            self.isolation, self.kernel_dir / "home", self.token, self.kernel_env
        )

    def __exit__(self, *exc_info: object) -> None:
        """Reap, clear the keyrings, give hidden paths their modes back, remove the cgroup, HOME
        and the base folder, then unlock.

        The steps are callbacks of one ExitStack, which runs every one of them even when an
        earlier one raises (a process that would not die, a folder that would not go), last
        registered first: the lock is always released, so the next grading with this user never
        waits on a run that is over.
        """
        iso = self.isolation
        with contextlib.ExitStack() as steps:
            steps.callback(self._unlock)
            steps.callback(self._remove_base)
            steps.callback(self._close_home)
            steps.callback(self._remove_cgroup)
            steps.callback(self._restore_permissions)
            if iso.enabled:
                steps.callback(_clear_keyrings_of, iso.uid, iso.gid)
                if not iso.namespaces:
                    steps.callback(self._remove_leftovers)
            steps.callback(self.reap)

    def _unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def _remove_base(self) -> None:
        remove_tree(self.base)  # logs what it could not remove; the results must still come

    def _close_home(self) -> None:
        if self._home is not None:
            self._home.close()  # unmounts the capped HOME: its files go at once
            self._home = None

    def _remove_cgroup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    def _restore_permissions(self) -> None:
        """Release this run's hold on the paths :meth:`_close_by_permissions` closed: the last
        run holding a path gives it its mode back (system files such as Fashion-MNIST's must
        stay readable), while another grader's kernel still runs it stays closed."""
        holder = self._holder()
        while self._closed:
            path = self._closed.pop()
            try:
                release_hidden_path(path, holder)
            except OSError as exc:
                log.error("could not release the hidden path %s: %s", path, exc)

    # ------------------------------------------------------------------ one kernel
    def launch_kwargs(self) -> dict:
        """Keyword arguments for ``KernelManager.start_kernel`` (cwd, env, stdout, stderr)."""
        read_fd, write_fd = os.pipe()
        tail = _StderrTail(read_fd)
        tail.start()
        self._tails.append(tail)
        self._pending_write_fd = write_fd
        return {
            "cwd": str(self.cwd),
            # The launcher's own environment; it builds the kernel's from its settings (-I).
            "env": {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
            "stdout": subprocess.DEVNULL,
            "stderr": write_fd,
        }

    def after_launch(self) -> None:
        """Close the grader's copy of the stderr pipe once the kernel process holds its own."""
        fd = getattr(self, "_pending_write_fd", None)
        if fd is not None:
            os.close(fd)
            self._pending_write_fd = None

    def kernel_stderr(self) -> str:
        """The first bytes the latest kernel process wrote to its own stderr."""
        return self._tails[-1].text() if self._tails else ""

    def kill_all(self, kernel_pgid: int | None) -> None:
        """SIGKILL the kernel's process group and, isolated, every process of the user, now."""
        if kernel_pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(kernel_pgid, signal.SIGKILL)
        if self.isolation.enabled:
            _kill_every_process_of(self.isolation.uid, self.isolation.gid)

    def memory_use_mb(self, kernel_pid: int, exact: bool = False) -> float:
        """Memory the kernel's processes hold together, in MB (what ``memory_mb`` limits).

        With a cgroup: its anonymous plus shared memory as Linux charged it (tmpfs, memfd and
        SysV pages included, whoever maps them); ``exact`` changes nothing. Without: read from
        ``/proc`` by :func:`autograder.sandbox.accounting.memory_use_mb` (``exact=True``: the
        proportional figure, pages forked processes share counted once).
        """
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                return self.cgroup.memory_mb()
        return accounting.memory_use_mb(self.isolation, kernel_pid, exact)

    def task_count(self) -> int | None:
        """Processes and threads of the kernel user (what RLIMIT_NPROC counts); None if shared.

        Read from ``/proc`` directly (under a millisecond): it is asked after every cell.
        """
        return accounting.task_count(self.isolation)

    def interrupt(self, kernel_pgid: int | None) -> None:
        """SIGINT to the kernel's process group (what Jupyter's interrupt does)."""
        if kernel_pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(kernel_pgid, signal.SIGINT)

    def reap(self, kernel_pgid: int | None = None, timeout_s: float = 10.0) -> list[ReapedProcess]:
        """End every process the kernel left; return those outside its own process group.

        See :meth:`autograder.sandbox.reaping.Reaper.reap`. Raises RuntimeError if some process
        is still alive after ``timeout_s``.
        """
        return self._reaper.reap(kernel_pgid, timeout_s)
