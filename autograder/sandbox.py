"""The grading kernel's sandbox: who it runs as, what it can see, what it may use, and the clean-up.

:class:`KernelSandbox` prepares everything the kernels of one execution share and tears it down:

- **the user.** As root, the kernel runs as an unprivileged user (``kitgrader`` by default, created
  with ``useradd --system`` when missing: no login shell, no home). Executions that run at the same
  time need one user each (``kitgrader1``, ``kitgrader2``, ...): the reaper ends *every* process of
  its user, and RLIMIT_NPROC counts them all. A lock file per user makes a second execution with the
  same user wait instead of killing the first one's kernel.
- **the folders.** A private base folder (``mkdtemp``, root, 0711) holds the launch settings and
  the kernelspec (root only) and ``kernel/``, owned by the user (0700): its connection file, its IPC
  sockets and a fresh ``HOME``, so nothing one submission leaves in ``HOME`` reaches the next. The
  working directory (the student's files) is handed to the user (``lchown``, never following links).
- **what it sees.** With root and namespaces (see :func:`probe_namespaces`), the kernel lives in
  its own network (no interface but loopback: no network), mount, IPC and PID namespaces, with a
  fresh ``/proc`` that shows only the run's own processes (never another process's command
  line). In its mount namespace the whole tree is read-only, every hidden path is covered, and
  every world-writable place (``/tmp``, ``/var/tmp``, ``/run/lock``, ``/dev/shm``, and any other
  folder with the "other" write bit on the root file system, :func:`world_writable_folders`) is
  a fresh size-bounded tmpfs; SysV IPC and POSIX message queues live and die with the run. Where
  namespaces are refused (a container without CAP_SYS_ADMIN), hidden paths are protected by file
  permissions only: the "other" permission bits are removed from each hidden path, counted across
  every grader on the machine (:func:`hide_by_permissions`: the first run to hide a path closes
  it, the last to finish gives it back its mode), and what the kernel user leaves in shared places
  is removed before and after each run (:func:`remove_leftovers_of`: SysV IPC, its files in every
  world-writable folder); it may not create POSIX message queues at all (RLIMIT_MSGQUEUE 0).
- **keyrings.** The kernel gets a fresh session keyring; the user's own keyrings (user and
  user-session, which Linux keeps per uid across runs) are cleared before and after each run.
- **disk.** ``HOME`` is a tmpfs of ``disk_mb`` (:func:`autograder.disk.capped_folder`): a student
  who fills it gets ``ENOSPC`` there, never on the grader's file system.
- **limits.** RLIMIT_NPROC (processes and threads of the user), RLIMIT_FSIZE, no core files.
- **memory**, in two layers (both at ``memory_mb``):

  1. where the machine offers a writable memory cgroup (:mod:`autograder.cgroup`), the run's
     processes are born in one whose hard limit sits a little above ``memory_mb``: Linux counts
     every page the run holds there, tmpfs files, memfds and SysV shared memory included. The
     executor polls its anonymous + shared memory every 0.2 s (:meth:`KernelSandbox.memory_use_mb`)
     and stops the kernel past ``memory_mb`` with the out-of-memory message; an OOM kill inside
     the cgroup (an allocation faster than the poll) reads as the same message. The launcher and
     the namespace's init (two small Python processes, about 22 MB together) count there too.
     Without a cgroup, the executor sums over the kernel's processes their resident anonymous
     memory and the larger of their mapped shared memory and the shared-memory files they hold
     (memfds found through ``/proc/PID/fd``, the run's private tmpfs mounts): ``/proc/PID/status``
     every 0.2 s; past the limit, the exact proportional figure from ``smaps_rollup`` decides, so
     pages that forked workers share count once. SysV segments nobody has attached are not seen
     there (they die with the run's IPC namespace). Either way it bounds the kernel *and its
     children* and never looks at address space, so CUDA's reservations do not count.
  2. **RLIMIT_DATA** per process, only where the kernel sees no NVIDIA GPU. It makes most
     oversized allocations fail at once as ``MemoryError`` (NumPy, PyTorch CPU tensors, Python),
     the kernel survives and the next cells run. RLIMIT_DATA counts private writable mappings:
     importing torch, torchvision and matplotlib alone takes about 1 GB of it here. RLIMIT_AS
     would count CUDA's huge ``PROT_NONE`` address reservations and break ``torch.cuda``; whether
     the NVIDIA driver's own private mappings stay under RLIMIT_DATA could not be tested here (no
     GPU), so with a GPU in sight only layer 1 applies.

  The private tmpfs mounts are each ``memory_mb / 2`` in size, so none can hold more than the
  memory limit on its own.
- **the reaper.** With a PID namespace, every process of the run dies with the kernel (the
  namespace's init exits; see :mod:`autograder.kernel_launcher`), which first writes down the
  ones still running. :meth:`KernelSandbox.reap` also ends every process of the user
  (``kill(-1, SIGKILL)`` from a child that has become that user, so a fork bomb cannot outrun it)
  and waits until none is left; without isolation it ends the kernel's process tree and every
  process carrying the execution's token in its environment. A process is named in reports by its
  short name, pid and state only: its command line and environment may hold secrets.
- **clean-up** steps each run in a ``finally`` of their own, and the user's lock is released
  last, whatever failed before; folders the student wrote into are removed without recursion in
  Python (:func:`autograder.disk.remove_tree`).

Nothing here imports or unpickles what the student produced.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import importlib.util
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from autograder.cgroup import MemoryCgroup, create_memory_cgroup
from autograder.disk import capped_folder, remove_tree

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_KERNEL_USER",
    "Isolation",
    "IsolationUnavailableError",
    "KernelSandbox",
    "ReapedProcess",
    "SandboxLimits",
    "plan_isolation",
    "probe_namespaces",
    "world_writable_folders",
]

#: The kernel's user; ``KIT_KERNEL_USER`` picks another, so that gradings that run at the same
#: time (batch workers, several checkouts on one machine) each reap only their own processes.
DEFAULT_KERNEL_USER = os.environ.get("KIT_KERNEL_USER") or "kitgrader"
LAUNCHER = Path(__file__).with_name("kernel_launcher.py")
KERNEL_NAME = "kit-grader"
CONNECTION = "{connection_file}"  # filled in by jupyter_client
#: Environment variable carrying the execution's token: the reaper's handle when not isolated.
TOKEN_VARIABLE = "KIT_GRADER_RUN"
#: Paths the kernel always needs; hiding one of them (or a folder above) is refused.
_SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/dev")
#: How much of the kernel process's own stderr is kept (start-up errors are the first lines).
STDERR_KEEP_BYTES = 64 * 1024
PR_SET_CHILD_SUBREAPER = 36


#: Folders the isolated kernel gets fresh and empty (a tmpfs each), with every other
#: world-writable folder :func:`world_writable_folders` finds.
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue")
#: Where world-writable folders are looked for: the root file system and the usual separate
#: mounts under it (``find -xdev`` stays on each one's file system).
_WRITABLE_SEARCH_ROOTS = ("/", "/dev", "/run", "/var", "/home", "/opt", "/srv")
#: How many leftover processes a census may name, and how many bytes of it are read.
CENSUS_MAX_BYTES = 64 * 1024
#: Root's record of the paths hidden by file permissions (in :func:`_private_root_dir`), shared
#: by every grader on the machine, and the lock file that guards it.
HIDDEN_STATE_FILE = "hidden.json"
HIDDEN_STATE_LOCK = "hidden.lock"
#: SysV IPC kinds: (``/proc/sysvipc`` file, its id column, libc function that removes one).
_SYSV_KINDS = (("shm", "shmid", "shmctl"), ("msg", "msqid", "msgctl"), ("sem", "semid", "semctl"))
IPC_RMID = 0
#: The user's keyrings that Linux keeps per uid (include/uapi/linux/keyctl.h), cleared around runs.
KEY_SPEC_USER_KEYRING = -4
KEY_SPEC_USER_SESSION_KEYRING = -5
KEYCTL_CLEAR = 7
_KEYCTL_SYSCALL = {"x86_64": 250, "aarch64": 219}


class IsolationUnavailableError(RuntimeError):
    """Isolation was required (``isolate=True``) but this machine cannot provide it."""


@dataclass(frozen=True)
class Isolation:
    """What the sandbox does on this machine, in plain words for reports.

    ``enabled`` is True when the kernel runs as ``user`` (uid ``uid``); ``network_off`` when it
    lives in an empty network namespace; ``hidden_by`` says how hidden paths are protected
    (``"mount namespace"``, ``"file permissions"`` or None: not at all); ``reasons`` say why a part
    is off.

    >>> Isolation(enabled=False, reasons=("not running as root",)).describe()
    'isolation is off: not running as root'
    """

    enabled: bool
    user: str | None = None
    uid: int | None = None
    gid: int | None = None
    network_off: bool = False
    hidden_by: str | None = None
    reasons: tuple[str, ...] = ()

    @property
    def namespaces(self) -> bool:
        return self.enabled and self.hidden_by == "mount namespace"

    def describe(self) -> str:
        """One line: what the kernel runs as and what it can reach."""
        if not self.enabled:
            return "isolation is off: " + "; ".join(self.reasons or ("not requested",))
        parts = [f"kernel runs as user {self.user!r} (uid {self.uid})"]
        parts.append("no network" if self.network_off else "network reachable")
        parts.append(f"hidden paths covered by {self.hidden_by}")
        text = "isolation is on: " + ", ".join(parts)
        return text + ("; " + "; ".join(self.reasons) if self.reasons else "")


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for the kernel (None: no limit); see the module docstring for how.

    ``memory_mb``: the kernel and its children together, and each process where no GPU is
    visible; ``max_processes``: processes and threads of the kernel user (isolated only);
    ``max_file_mb``: the largest file a kernel process may write.
    """

    memory_mb: int | None = 4096
    max_processes: int | None = 256
    max_file_mb: int | None = 4096
    #: Everything the kernel keeps in ``HOME`` together (a tmpfs of that size); None: uncapped.
    disk_mb: int | None = 1024


@dataclass(frozen=True)
class ReapedProcess:
    """A process that was still running after the kernel ended and had to be killed.

    Named by its short command name (``comm``, at most 15 characters) and state only, never its
    argv or environment: a student's process may carry a token it found, and reports are shown.

    >>> str(ReapedProcess(7, "python3", "S"))
    'pid 7 (python3, sleeping)'
    """

    pid: int
    name: str
    state: str = ""

    def __str__(self) -> str:
        state = _STATE_WORDS.get(self.state, self.state)
        return f"pid {self.pid} ({self.name or '?'}" + (f", {state})" if state else ")")


_STATE_WORDS = {
    "R": "running",
    "S": "sleeping",
    "D": "waiting on the disk",
    "T": "stopped",
    "t": "stopped",
    "Z": "zombie",
    psutil.STATUS_RUNNING: "running",
    psutil.STATUS_SLEEPING: "sleeping",
    psutil.STATUS_DISK_SLEEP: "waiting on the disk",
    psutil.STATUS_STOPPED: "stopped",
}


@functools.cache
def world_writable_folders() -> tuple[str, ...]:
    """Folders that anyone may write to, besides :data:`PRIVATE_TMP`; found once per process.

    ``find -xdev -perm -0002 -prune`` over the root file system and the usual separate mounts
    (about 0.5 s here): a folder in this list is covered by a private tmpfs for the kernel, so
    nothing one submission leaves there is read by the next. Sub-folders of one found are not
    listed (``-prune``): the tmpfs covers them.
    """
    root_dev = os.stat("/").st_dev
    # "/" and each separate mount among the others: one on the root file system is walked once.
    roots = ["/"] + [
        r
        for r in _WRITABLE_SEARCH_ROOTS[1:]
        if os.path.isdir(r) and not os.path.islink(r) and os.stat(r).st_dev != root_dev
    ]
    find = shutil.which("find", path="/usr/bin:/bin")
    if find is None:  # pragma: no cover - every Linux has it
        return ()
    run = subprocess.run(
        [find, *roots, "-xdev", "-type", "d", "-perm", "-0002", "-prune", "-print"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = {line for line in run.stdout.splitlines() if line.startswith("/")}
    skip = ("/proc", "/sys")
    return tuple(sorted(p for p in found if not any(_is_under(Path(p), Path(s)) for s in skip)))


@functools.cache
def probe_namespaces() -> tuple[bool, str | None]:
    """(can root create network and mount namespaces here?, why not). Cached per process.

    Asked of the launcher itself (``--probe``, a throw-away process), so the answer covers exactly
    what the kernel's start will try (seccomp profiles and missing CAP_SYS_ADMIN refuse it).
    """
    run = subprocess.run(
        [sys.executable, "-I", "-S", str(LAUNCHER), "--probe"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    try:
        answer = json.loads(run.stdout)
    except json.JSONDecodeError:
        return False, f"the namespace probe failed: {run.stderr.strip() or run.returncode}"
    return bool(answer["namespaces"]), answer.get("error")


def _is_root() -> bool:
    return os.geteuid() == 0


def plan_isolation(isolate: bool | None, user: str = DEFAULT_KERNEL_USER) -> Isolation:
    """Decide what isolation this execution gets; create ``user`` when needed.

    ``isolate=None`` isolates as far as the machine allows when running as root; ``True`` requires
    full isolation (user, no network, hidden paths) and raises :class:`IsolationUnavailableError`
    otherwise; ``False`` turns it off.
    """
    if isolate is False:
        return Isolation(enabled=False, reasons=("turned off by the caller (isolate=False)",))
    if not _is_root():
        if isolate:
            raise IsolationUnavailableError(
                "Isolation was required (isolate=True) but the grader is not running as root "
                f"(uid {os.geteuid()}). Run the grader as root, or pass isolate=None to grade "
                "without isolation."
            )
        return Isolation(enabled=False, reasons=("not running as root",))
    entry = _ensure_user(user)
    ok, why = probe_namespaces()
    if not ok:
        if isolate:
            raise IsolationUnavailableError(
                "Isolation was required (isolate=True) but this machine refuses new network and "
                f"mount namespaces ({why}). In a container, grant CAP_SYS_ADMIN (or run it "
                "--privileged), or pass isolate=None to isolate by user and file permissions only."
            )
        return Isolation(
            enabled=True,
            user=user,
            uid=entry.pw_uid,
            gid=entry.pw_gid,
            network_off=False,
            hidden_by="file permissions",
            reasons=(f"no network or mount namespace: {why}",),
        )
    return Isolation(
        enabled=True,
        user=user,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        network_off=True,
        hidden_by="mount namespace",
    )


def _ensure_user(name: str) -> pwd.struct_passwd:
    """The passwd entry of ``name``; created if missing (system user, own group, no home)."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    nologin = next(
        (s for s in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false") if os.path.exists(s)),
        "/bin/false",
    )
    command = ["useradd", "--system", "--user-group", "--no-create-home"]
    command += ["--home-dir", "/nonexistent", "--shell", nologin, name]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise IsolationUnavailableError(
            f"The kernel user {name!r} does not exist and `useradd` is not installed to create "
            f"it. Create it yourself (e.g. `useradd --system --user-group {name}`)."
        ) from exc
    except subprocess.CalledProcessError as exc:
        if "already exists" not in exc.stderr:  # another grader created it meanwhile
            raise IsolationUnavailableError(
                f"Could not create the kernel user {name!r}: {exc.stderr.strip()}"
            ) from exc
    return pwd.getpwnam(name)


def _is_under(path: Path, folder: Path) -> bool:
    """True if ``path`` is ``folder`` or inside it.

    >>> _is_under(Path("/a/b/c"), Path("/a/b")), _is_under(Path("/a/bc"), Path("/a/b"))
    (True, False)
    """
    return path == folder or folder in path.parents


def _paths_the_kernel_needs() -> list[Path]:
    """Interpreter, standard library, site-packages and the kit's own packages."""
    needed = [Path(p) for p in _SYSTEM_PATHS]
    needed += [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent]
    needed += [Path(os.path.realpath(sys.executable)).parent, Path(sysconfig.get_path("stdlib"))]
    needed += [Path(p) for p in site.getsitepackages()]
    spec = importlib.util.find_spec("helpers")  # the package students import
    if spec is not None and spec.submodule_search_locations:
        needed += [Path(p) for p in spec.submodule_search_locations]
    needed.append(Path(__file__).resolve().parent)  # autograder.record, which test cells import
    return [Path(os.path.realpath(p)) for p in needed]


def check_hidden_paths(hide: Sequence[Path]) -> list[Path]:
    """Resolved hidden paths; refuses one that would hide what the kernel needs to start.

    >>> check_hidden_paths([Path("/usr")])
    Traceback (most recent call last):
    ...
    ValueError: Cannot hide /usr: the kernel needs /usr (...). Hide a narrower path.
    """
    resolved = []
    for raw in hide:
        path = Path(os.path.realpath(raw))
        for needed in _paths_the_kernel_needs():
            if _is_under(needed, path):
                raise ValueError(
                    f"Cannot hide {path}: the kernel needs {needed} (its Python, libraries or "
                    "the system). Hide a narrower path."
                )
        resolved.append(path)
    return resolved


def _gpu_visible(kernel_env: dict[str, str] | None) -> bool:
    """Would a kernel with this environment see an NVIDIA GPU?

    >>> _gpu_visible({"CUDA_VISIBLE_DEVICES": ""})
    False
    """
    env = {**os.environ, **(kernel_env or {})}
    if env.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return False
    return os.path.exists("/dev/nvidiactl")


def _give_to_user(folder: Path, uid: int, gid: int) -> None:
    """``chown -R`` without following symbolic links (a link's target keeps its owner)."""
    os.lchown(folder, uid, gid)
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def _check_reachable(folder: Path, uid: int, gid: int) -> None:
    """Without a mount namespace the kernel user must be able to walk down to ``folder``."""
    for step in reversed(folder.parents):
        info = step.stat()
        if info.st_uid == uid:
            ok = info.st_mode & 0o100
        elif info.st_gid == gid:
            ok = info.st_mode & 0o010
        else:
            ok = info.st_mode & 0o001
        if not ok:
            raise IsolationUnavailableError(
                f"The kernel user cannot reach {folder}: {step} (mode "
                f"{stat.S_IMODE(info.st_mode):o}) does not let others through, and this machine "
                "has no mount namespace to bind it elsewhere. Put the working directory under a "
                "folder with mode 755 (e.g. make it with tempfile.mkdtemp(dir='/var/tmp'))."
            )


def _private_root_dir() -> Path:
    """A folder only root can enter (for lock files), created safely if missing."""
    for candidate in (Path("/run/kit-grader"), Path(tempfile.gettempdir()) / "kit-grader-root"):
        try:
            candidate.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            continue
        info = candidate.lstat()
        if candidate.is_dir() and not candidate.is_symlink() and info.st_uid == 0:
            os.chmod(candidate, 0o700)
            return candidate
    raise IsolationUnavailableError("Found no root-owned folder for the kernel user's lock file.")


# ------------------------------------------------------------------ hidden by permissions
def _process_start(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/PID/stat`` field 22);
    None when it is gone. With the pid it names one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The name (field 2) may hold spaces and parentheses: count fields after its last ")".
    fields = data[data.rfind(b")") + 2 :].split()
    return int(fields[19]) if len(fields) > 19 else None


def _holder_alive(holder: object) -> bool:
    """Is the grader that recorded ``holder`` ([pid, start time, token]) still running?"""
    if not isinstance(holder, list) or len(holder) != 3 or not isinstance(holder[0], int):
        return False
    return _process_start(holder[0]) == holder[1]


@contextlib.contextmanager
def _hidden_paths_record() -> Iterator[dict]:
    """The machine's record of paths hidden by permissions, locked for the ``with`` block.

    ``{path: {"mode": original mode, "holders": [[pid, start, token], ...]}}``, in a root-only
    file guarded by ``flock`` (graders in other processes: batch workers). Holds of graders that
    died are released on every read: once none is left, the path gets its mode back. Written
    back (atomically) only when the block ends without an exception.
    """
    folder = _private_root_dir()
    lock = os.open(
        folder / HIDDEN_STATE_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / HIDDEN_STATE_FILE
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            record = {}
        except (OSError, ValueError) as exc:
            log.error("the record of hidden paths %s is unreadable (%s): starts afresh", path, exc)
            record = {}
        if not isinstance(record, dict):
            record = {}
        for name in list(record):
            entry = record[name]
            if not isinstance(entry, dict) or not isinstance(entry.get("mode"), int):
                log.error("dropped a malformed entry for %s in %s", name, path)
                del record[name]
                continue
            holders = entry.get("holders")
            holders = holders if isinstance(holders, list) else []
            entry["holders"] = [h for h in holders if _holder_alive(h)]
            if not entry["holders"]:  # every grader that hid it died: give its mode back
                _give_mode_back(Path(name), entry["mode"])
                del record[name]
        yield record
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".hidden-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(temporary, path)
    finally:
        os.close(lock)


def _give_mode_back(path: Path, mode: int) -> None:
    try:
        os.chmod(path, mode)
    except FileNotFoundError:
        pass  # removed meanwhile: nothing left to open
    except OSError as exc:
        log.error("could not give %s its mode %o back: %s", path, mode, exc)


def hide_by_permissions(path: Path, uid: int, gid: int, holder: list) -> bool:
    """Take the "other" bits from ``path`` for the run ``holder`` ([pid, start time, token]);
    False when ``path`` does not exist.

    Counted across graders: the first to hide a path records its mode, later ones add their
    hold; the mode closed is always the recorded one less the "other" bits (never a mode another
    run already closed). Raises :class:`IsolationUnavailableError` for a path of the kernel user
    (``uid``/``gid``), which permissions cannot keep from it.
    """
    with _hidden_paths_record() as record:
        if not path.exists():
            return False
        info = path.stat()
        if info.st_uid == uid or info.st_gid == gid:
            raise IsolationUnavailableError(
                f"Cannot hide {path}: it belongs to the kernel user, and without a mount "
                "namespace only file permissions protect it."
            )
        entry = record.setdefault(str(path), {"mode": stat.S_IMODE(info.st_mode), "holders": []})
        entry["holders"].append(holder)
        os.chmod(path, entry["mode"] & ~0o007)
    return True


def release_hidden_path(path: Path, holder: list) -> None:
    """Drop ``holder``'s hold on ``path``; the last hold's release gives ``path`` its mode."""
    with _hidden_paths_record() as record:
        entry = record.get(str(path))
        if entry is None or holder not in entry["holders"]:
            log.error("%s was not recorded as hidden by this run; its mode is left as it is", path)
            return
        entry["holders"].remove(holder)
        if not entry["holders"]:
            _give_mode_back(path, entry["mode"])
            del record[str(path)]


# ------------------------------------------------------------------ leftovers in shared places
def remove_leftovers_of(uid: int, gid: int, keep: Sequence[Path] = ()) -> None:
    """Remove what user ``uid`` left where every user may write (runs without namespaces).

    Its SysV shared memory segments, message queues and semaphore sets (owned or created by it),
    and every entry it owns in :data:`PRIVATE_TMP` and :func:`world_writable_folders` (POSIX
    message queues too, where ``/dev/mqueue`` is mounted), except under ``keep``. Call it only
    once every process of the user is reaped. Failures are logged: the results must still come.
    """
    _remove_sysv_ipc_of(uid)
    _remove_files_of(uid, gid, keep)


def _remove_sysv_ipc_of(uid: int) -> None:
    """IPC_RMID every SysV object whose owner or creator is ``uid`` (``/proc/sysvipc``).

    The creator counts too: the owner can hand an object to another uid (IPC_SET).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    for kind, id_column, remover in _SYSV_KINDS:
        try:
            with open(f"/proc/sysvipc/{kind}", encoding="ascii") as f:
                header, *rows = f.read().splitlines()
        except (OSError, ValueError):
            continue
        columns = header.split()
        where = {name: columns.index(name) for name in (id_column, "uid", "cuid")}
        for row in rows:
            cells = row.split()
            try:
                ident = int(cells[where[id_column]])
                owners = {int(cells[where["uid"]]), int(cells[where["cuid"]])}
            except (IndexError, ValueError):
                continue
            if uid not in owners:
                continue
            args = (ident, 0, IPC_RMID) if kind == "sem" else (ident, IPC_RMID, None)
            if getattr(libc, remover)(*args) != 0:
                error = ctypes.get_errno()
                if error != 22:  # EINVAL: removed meanwhile
                    log.warning("could not remove SysV %s %d: %s", kind, ident, os.strerror(error))


def _find_pattern(path: Path) -> str:
    """``path`` as a literal ``find -path`` pattern (glob characters escaped).

    >>> _find_pattern(Path("/tmp/a*[b]"))
    '/tmp/a\\\\*\\\\[b]'
    """
    return "".join("\\" + c if c in "\\*?[" else c for c in str(path))


def _remove_files_of(uid: int, gid: int, keep: Sequence[Path]) -> None:
    """``find FOLDERS -xdev -user UID -delete`` as user ``uid``, sparing ``keep``.

    GNU find deletes depth-first through directory handles and never follows a link (a link is
    removed, its target is not): no recursion in Python and no race with a planted link. Run as
    the kernel user it can remove nothing that user could not remove itself.
    """
    find = shutil.which("find", path="/usr/bin:/bin")
    folders = sorted(
        {
            str(Path(p))
            for p in (*PRIVATE_TMP, *world_writable_folders())
            if os.path.isdir(p) and not os.path.islink(p)
        }
    )
    if find is None or not folders:  # pragma: no cover - every Linux has find and /tmp
        return
    spare: list[str] = []
    for path in keep:
        pattern = _find_pattern(Path(os.path.realpath(path)))
        spare += ["!", "-path", pattern, "!", "-path", pattern + "/*"]
    command = [find, *folders, "-xdev", "-mindepth", "1", "-user", str(uid), *spare, "-delete"]
    try:
        done = subprocess.run(
            command,
            user=uid,
            group=gid,
            extra_groups=[],
            cwd="/",
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.error("could not remove the files uid %d left in shared folders: %s", uid, exc)
        return
    # Folders of other users it may not enter give "Permission denied" (nothing of its is
    # there); entries other graders remove while find walks give "No such file or directory".
    expected = ("Permission denied", "No such file or directory")
    trouble = [line for line in done.stderr.splitlines() if line and not line.endswith(expected)]
    if trouble:
        log.warning("files uid %d left in shared folders: %s", uid, "; ".join(trouble[:5]))


class _StderrTail(threading.Thread):
    """Drains the kernel process's own stderr, keeping the first bytes (start-up errors).

    The kernel's stdout and stderr as seen by Python go to the notebook; this is the process's
    file descriptor 2 (tracebacks from the launcher or from ipykernel itself). Keeping only a head
    means a process that floods it costs the grader no memory.
    """

    def __init__(self, read_fd: int) -> None:
        super().__init__(daemon=True, name="kit-grader-kernel-stderr")
        self._fd = read_fd
        self.head = bytearray()

    def run(self) -> None:
        with os.fdopen(self._fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                if len(self.head) < STDERR_KEEP_BYTES:
                    self.head += chunk[: STDERR_KEEP_BYTES - len(self.head)]

    def text(self) -> str:
        return self.head.decode("utf-8", "replace")


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
    _census_read: int = field(init=False, default=0)
    _census_open: int = field(init=False, default=0)

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
        iso = self.isolation
        mb = 1024 * 1024
        lim = self.limits
        data = lim.memory_mb * mb if lim.memory_mb and not _gpu_visible(self.kernel_env) else None
        rlimits: dict[str, int | None] = {
            "DATA": data,
            "FSIZE": lim.max_file_mb * mb if lim.max_file_mb else None,
            "CORE": 0,
        }
        if iso.enabled:  # RLIMIT_NPROC counts every process of the uid: the grader's too if shared
            rlimits["NPROC"] = lim.max_processes
        if iso.enabled and not iso.namespaces:
            # Without an IPC namespace a POSIX message queue would outlive the run, and where
            # no mqueue file system is mounted nothing can list it to remove it: none may be
            # made (Linux counts the bytes of every queue against this limit, per user).
            rlimits["MSGQUEUE"] = 0
        private = sorted({*PRIVATE_TMP, *world_writable_folders()}) if iso.namespaces else []
        return {
            "isolate": iso.enabled,
            "namespaces": iso.namespaces,
            "user": iso.user,
            "uid": iso.uid,
            "gid": iso.gid,
            "python": sys.executable,
            "cwd": str(self.cwd),
            "env": self._kernel_environment(),
            "hide": [str(p) for p in self.hidden],
            # Writable for the kernel; the rest of the tree is read-only in its mount namespace.
            "keep": [str(self.workdir), str(self.kernel_dir)],
            "keep_read_only": self._needed_under(private),
            "private_tmp": private,
            "tmp_size_mb": max(64, lim.memory_mb // 2) if lim.memory_mb else None,
            "read_only_root": True,
            "empty_file": str(self.base / "empty") if iso.namespaces else None,
            "census": str(self.base / "census") if iso.namespaces else None,
            "cgroup_procs": str(self.cgroup.procs_file) if self.cgroup is not None else None,
            "rlimits": rlimits,
        }

    @staticmethod
    def _needed_under(folders: Sequence[str]) -> list[str]:
        """What the kernel needs (its venv, the kit's packages) that lies in a folder the sandbox
        covers with a private tmpfs, e.g. a checkout under /tmp: bound back in, like workdir."""
        needed = {str(p) for p in _paths_the_kernel_needs() if p.is_dir()}
        return sorted(p for p in needed if any(_is_under(Path(p), Path(f)) for f in folders))

    def _kernel_environment(self) -> dict[str, str]:
        """The kernel's whole environment: the grader's is not passed on (it may hold secrets)."""
        home = self.kernel_dir / "home"
        env = {
            "PATH": os.pathsep.join(
                [os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]
            ),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "TMPDIR": "/tmp" if self.isolation.namespaces else str(home),
            TOKEN_VARIABLE: self.token,
        }
        if not self.isolation.namespaces:
            # ipykernel exits if the grader dies. In a PID namespace its parent is init (pid 1),
            # which ipykernel would take for "parent gone": there init dies with the grader.
            env["JPY_PARENT_PID"] = str(os.getpid())
        if self.isolation.enabled:
            env["USER"] = env["LOGNAME"] = str(self.isolation.user)
        for passed_on in ("PYTHONPATH", "CUDA_VISIBLE_DEVICES", "TORCH_HOME"):
            if passed_on in os.environ:
                env[passed_on] = os.environ[passed_on]
        if env.get("PYTHONPATH"):
            # Relative entries would name the kernel's cwd, the student's folder: a submitted
            # zmq.py would then shadow the kernel's own modules. Make them the grader's paths.
            env["PYTHONPATH"] = os.pathsep.join(
                os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p
            )
        env.update(self.kernel_env or {})
        return env

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
        SysV pages included, whoever maps them); ``exact`` changes nothing. Without: over the
        kernel's processes, resident anonymous memory plus the larger of mapped shared memory
        and the shared-memory files they hold (:meth:`_shared_files_mb`). ``exact=False`` reads
        RssAnon/RssShmem from ``/proc/PID/status`` (microseconds; pages forked processes share
        count once per process: an upper bound); ``exact=True`` Pss_Anon/Pss_Shmem from
        ``/proc/PID/smaps_rollup`` (shared pages split between their users; about 10 ms per GB).
        """
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                return self.cgroup.memory_mb()
        name, anon_field, shmem_field = (
            ("smaps_rollup", "Pss_Anon:", "Pss_Shmem:")
            if exact
            else ("status", "RssAnon:", "RssShmem:")
        )
        anon_kb = shmem_kb = 0
        pids = self._kernel_pids(kernel_pid)
        for pid in pids:
            try:
                with open(f"/proc/{pid}/{name}", encoding="ascii") as f:
                    text = f.read()
            except OSError:  # ended meanwhile
                continue
            lines = text.splitlines()
            anon = [int(x.split()[1]) for x in lines if x.startswith(anon_field)]
            if exact and not anon:  # kernels before 5.x: no Pss_Anon, only the total Pss
                anon = [int(x.split()[1]) for x in lines if x.startswith("Pss:")]
            anon_kb += sum(anon)
            shmem_kb += sum(int(x.split()[1]) for x in lines if x.startswith(shmem_field))
        return anon_kb / 1024 + max(shmem_kb / 1024, self._shared_files_mb(pids))

    def _shared_files_mb(self, pids: Sequence[int]) -> float:
        """Shared-memory files the kernel's processes hold, whether mapped or not, in MB.

        Each memfd or tmpfs file open in one of ``pids`` (``/proc/PID/fd``), counted once by
        inode at its allocated size, and, with namespaces, what the run's private tmpfs mounts
        hold (seen through ``/proc/PID/root``), counted once per file system. Used only where
        no cgroup counts them. Files merely mapped and SysV segments are in RssShmem already.
        """
        seen_files: set[tuple[int, int]] = set()
        seen_mounts: set[int] = set()
        total = 0
        for pid in pids:
            if self.isolation.namespaces and pid == pids[0]:
                total += self._private_tmpfs_bytes(pid, seen_mounts)
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if not target.startswith(("/memfd:", "/dev/shm/", "/tmp/")):
                        continue
                    info = os.stat(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                key = (info.st_dev, info.st_ino)
                if key in seen_files or info.st_dev in seen_mounts:
                    continue
                seen_files.add(key)
                total += info.st_blocks * 512
        return total / 2**20

    @staticmethod
    def _private_tmpfs_bytes(pid: int, seen_mounts: set[int]) -> int:
        """Bytes held in the run's private tmpfs mounts, as process ``pid`` of the run sees them.

        The mounts are taken from the process's own ``mountinfo`` (real mount points, tmpfs
        only), never by resolving a path: a link there would lead back into the host's tree.
        """
        private = {*PRIVATE_TMP, *world_writable_folders()}
        total = 0
        try:
            with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return 0
        for line in lines:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if len(fields) < 5 or not right.startswith("tmpfs ") or fields[4] not in private:
                continue
            try:
                where = f"/proc/{pid}/root{fields[4]}"
                dev = os.stat(where, follow_symlinks=False).st_dev
                if dev in seen_mounts:
                    continue
                seen_mounts.add(dev)
                fs = os.statvfs(where)
                total += (fs.f_blocks - fs.f_bfree) * fs.f_frsize
            except OSError:
                continue
        return total

    def _kernel_pids(self, kernel_pid: int) -> list[int]:
        if self.isolation.enabled:
            return self._user_pids()
        try:
            kernel = psutil.Process(kernel_pid)
            return [kernel_pid] + [p.pid for p in kernel.children(recursive=True)]
        except psutil.Error:
            return []

    def _user_pids(self) -> list[int]:
        """Processes of the kernel user, from ``/proc`` directly (under a millisecond)."""
        pids = []
        with os.scandir("/proc") as entries:
            for entry in entries:
                if entry.name.isdigit():
                    try:
                        if entry.stat(follow_symlinks=False).st_uid == self.isolation.uid:
                            pids.append(int(entry.name))
                    except OSError:  # ended meanwhile
                        pass
        return pids

    def task_count(self) -> int | None:
        """Processes and threads of the kernel user (what RLIMIT_NPROC counts); None if shared.

        Read from ``/proc`` directly (under a millisecond): it is asked after every cell.
        """
        if not self.isolation.enabled:
            return None
        count = 0
        for pid in self._user_pids():
            with contextlib.suppress(OSError):  # ended meanwhile
                count += len(os.listdir(f"/proc/{pid}/task"))
        return count

    def interrupt(self, kernel_pgid: int | None) -> None:
        """SIGINT to the kernel's process group (what Jupyter's interrupt does)."""
        if kernel_pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(kernel_pgid, signal.SIGINT)

    def reap(self, kernel_pgid: int | None = None, timeout_s: float = 10.0) -> list[ReapedProcess]:
        """End every process the kernel left; return those outside its own process group.

        Processes in the kernel's group die with the kernel as in Jupyter; the ones returned
        escaped it (a daemon, ``setsid``, ``nohup ... &``): the student should hear about them.
        Zombies are collected too: they still count against the user's process limit, and the
        next kernel must start with its whole budget (the grader is the "subreaper" of its
        kernels' orphans, so it can collect them even where PID 1 never does).
        Raises RuntimeError if some process is still alive after ``timeout_s``.
        """
        if self.isolation.namespaces:
            # Every process of the run was in its PID namespace: init's census names them all.
            reported = self._read_census()
        else:
            live, _ = self._scan()
            reported = [
                ReapedProcess(p.pid, _printable(_safe(p.name)), _safe(p.status))
                for p in live
                if _safe(lambda p=p: os.getpgid(p.pid)) != kernel_pgid
            ]
        deadline = time.monotonic() + timeout_s
        zombie_deadline = time.monotonic() + min(timeout_s, 3.0)
        while True:
            live, zombies = self._scan()
            for zombie in zombies + self._own_root_zombies():
                if _safe(zombie.ppid, None) == os.getpid():
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(zombie.pid, os.WNOHANG)
            if not live and not zombies:
                return reported
            now = time.monotonic()
            if live:
                if now > deadline:
                    raise RuntimeError(
                        f"Could not end the kernel's processes within {timeout_s:g} s: "
                        + ", ".join(str(p.pid) for p in live)
                    )
                if self.isolation.enabled:
                    _kill_every_process_of(self.isolation.uid, self.isolation.gid)
                else:
                    for p in live:
                        with contextlib.suppress(psutil.Error):
                            p.kill()
            elif now > zombie_deadline:  # another parent holds them; it is not ours to wait
                held = sorted({_safe(z.ppid, None) for z in zombies} - {None})
                log.warning("zombie processes of the kernel user remain (parents %s)", held)
                return reported
            time.sleep(0.01)

    def _read_census(self, timeout_s: float = 3.0) -> list[ReapedProcess]:
        """Processes a namespace's init found still running when its kernel exited (not yet read).

        Each launch writes ``{"begin": true}`` before it forks init, and init ``{"end": true}``
        after its census: this waits (up to ``timeout_s``) until every begun census has ended,
        since the kernel manager sees the kernel gone before init has written. The file is
        root's (the kernel user cannot write it); its entries still describe the student's
        processes, so each is checked and cut to size, and at most ``CENSUS_MAX_BYTES`` are read
        per call.
        """
        found: list[ReapedProcess] = []
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with open(self.base / "census", "rb") as f:
                    f.seek(self._census_read)
                    data = f.read(CENSUS_MAX_BYTES)
            except OSError:
                return found
            whole = data[: data.rfind(b"\n") + 1]
            self._census_read += len(whole)
            for line in whole.splitlines():
                try:
                    entry = json.loads(line)
                    if entry.get("begin") or entry.get("end"):
                        self._census_open += 1 if entry.get("begin") else -1
                        continue
                    pid, name, state = int(entry["pid"]), str(entry["name"]), str(entry["state"])
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
                if entry.get("escaped"):
                    found.append(ReapedProcess(pid, _printable(name), state[:1]))
            if self._census_open <= 0 or time.monotonic() > deadline:
                self._census_open = 0  # an init that was killed never writes its end
                return found
            time.sleep(0.01)

    def _own_root_zombies(self) -> list[psutil.Process]:
        """Zombie children of the grader owned by root: a namespace's init, when the launcher
        was killed with it (init is then adopted by the grader, its subreaper)."""
        if not self.isolation.namespaces:
            return []
        me = os.getpid()
        found = []
        for p in psutil.process_iter(["ppid", "status", "uids"]):
            info = p.info
            root = bool(info["uids"]) and info["uids"].real == 0
            if info["ppid"] == me and info["status"] == psutil.STATUS_ZOMBIE and root:
                found.append(p)
        return found

    def _scan(self) -> tuple[list[psutil.Process], list[psutil.Process]]:
        """(live processes, zombies) that belong to this execution's kernel."""
        live, zombies = [], []
        if self.isolation.enabled:
            uid = self.isolation.uid
            for p in psutil.process_iter(["uids", "status"]):
                uids = p.info["uids"]
                if uids and uid in (uids.real, uids.effective, uids.saved):
                    (zombies if p.info["status"] == psutil.STATUS_ZOMBIE else live).append(p)
            return live, zombies
        me = os.getpid()
        for p in psutil.process_iter(["uids", "status"]):
            if p.pid == me or (p.info["uids"] and p.info["uids"].real != os.getuid()):
                continue
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue  # not isolated: our own zombies are Popen's business
            env = _safe(p.environ, {})
            if env.get(TOKEN_VARIABLE) == self.token:
                live.append(p)
        return live, zombies


def _printable(name: str) -> str:
    """A process's short name as a report may show it: 15 printable characters at most.

    The student chooses it (``prctl(PR_SET_NAME)``): no control character or escape code
    reaches the results.

    >>> _printable("evil\\x1b[31m\\nname-longer-than-15")
    'evil?[31m?name-'
    """
    return "".join(c if c.isprintable() else "?" for c in name[:15])


def _safe(getter, default=""):
    """``getter()``, or ``default`` when the process is gone or not readable."""
    try:
        return getter()
    except (psutil.Error, OSError):
        return default


@functools.cache
def become_subreaper() -> bool:
    """Make this process adopt its descendants' orphans (``PR_SET_CHILD_SUBREAPER``), once.

    A kernel's children outlive it as orphans; adopted by the grader rather than PID 1 (which in
    a container may never collect them), they can be collected before the next kernel starts.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _clear_keyrings_of(uid: int, gid: int) -> None:
    """Empty ``uid``'s user and user-session keyrings, which Linux keeps across that user's runs.

    Done in a forked child that becomes the user (``keyctl(KEYCTL_CLEAR)`` on the special ids
    resolves to the caller's own keyrings), so a key one submission planted is gone before the
    next starts. Logged, not raised, where keyrings are not available.
    """
    number = _KEYCTL_SYSCALL.get(os.uname().machine)
    if number is None:
        log.warning("cannot clear keyrings on %s: unknown keyctl number", os.uname().machine)
        return
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process, ends in os._exit
        code = 1
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            code = 0
            for keyring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
                if libc.syscall(ctypes.c_long(number), KEYCTL_CLEAR, keyring) != 0:
                    code = 2
        except BaseException:
            pass
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        log.warning("could not clear the keyrings of uid %d (status %#x)", uid, status)


def _kill_every_process_of(uid: int, gid: int) -> None:
    """``kill(-1, SIGKILL)`` as ``uid``: the kernel ends all of the user's processes in one step.

    Done in a forked child that becomes the user, so the signal reaches exactly that user's
    processes (and cannot miss children forked while a list is being walked).
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process, ends in os._exit
        code = 1
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)  # all processes we may signal, except ourselves
            code = 0
        except BaseException:
            pass
        finally:
            os._exit(code)
    os.waitpid(pid, 0)
