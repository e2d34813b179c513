"""Start a grading kernel inside its sandbox; the kernelspec's ``argv`` runs this file.

``python -I -S kernel_launcher.py LAUNCH_JSON CONNECTION_FILE`` reads the launch settings that
:mod:`autograder.sandbox` wrote (as root, before any student code runs), builds the sandbox in
this very process and then starts the IPython kernel (``execve``). The kernel stays in the process
group that the kernel manager started: its interrupt (SIGINT to the group) and kill reach it, and
the process the manager watches ends exactly when the kernel does.

Steps, in order, when the settings ask for isolation (the grader runs as root):

1. the run's memory cgroup joined (``cgroup.procs``), while ``/sys`` is still writable: every
   process started from here on is counted and limited by the kernel's memory controller;
2. new network, mount, IPC and PID namespaces (``unshare``): the kernel sees only a loopback
   interface (brought up here); SysV shared memory, message queues, semaphores and POSIX
   message queues are private to the run and destroyed with it; mounts below are private;
3. the whole tree made read-only, recursively (``mount_setattr``), then a fresh size-bounded
   tmpfs over every world-writable place (``/tmp``, ``/var/tmp``, ``/run/lock``, ``/dev/shm``,
   any other the grader found): nothing one submission leaves there reaches the next;
4. the paths the kernel needs bound back in place from a descriptor opened before the mounts:
   its working directory and run directory writable, the rest (its Python) read-only;
5. with a GPU in the machine and the kernel given some or none of them, ``/dev`` rebuilt
   without the other GPUs' device nodes (:func:`rebuild_devices`);
6. every hidden directory covered by an empty tmpfs (mode 0711, owned by root: listing it fails,
   and files under it do not exist), every hidden file by a read-only bind of an empty file.
   After the binds of step 4, which would otherwise bring back what was covered inside a kept
   folder; only a hidden folder that holds a kept one is covered before them;
7. a ``fork``: the child is process 1 of the new PID namespace (``init`` below). It mounts a
   fresh ``/proc`` (``hidepid=2``: the kernel sees only its own user's processes of this run,
   never the host's command lines; ``driver/nvidia/gpus`` lists only the kernel's GPUs), and
   forks the kernel: resource limits, ``no_new_privs``, the switch to the unprivileged user, a
   fresh session keyring, and ``execve``.

Process layout of an isolated kernel, and why::

    grader ── launcher (root; the pid the kernel manager knows) ── init (root, PID 1) ── kernel
                                                                                         └─ ...

The kernel manager's pid and process group are the launcher's: the interrupt (``SIGINT`` to the
group) reaches the kernel, which shares the group; the launcher and init ignore it. The kernel is
not PID 1 itself because PID 1 gets no signal it has no handler for and must reap every orphan:
``init`` does that, and when the kernel exits it writes down which other processes were still
running (pid as the notebook saw it, short name, state: never the argv) for the grader's report,
then exits, which ends every process of the namespace at once. The launcher exits with the
kernel's status, so the kernel manager sees the kernel die; it also ends init if the grader dies
(init has ``PR_SET_PDEATHSIG``), so nothing outlives the grader.

Without namespaces (a container without CAP_SYS_ADMIN) steps 2 to 7 reduce to: resource limits,
the switch to the user, a fresh session keyring and ``execve`` in this very process. Without
isolation only the resource limits that do not count the grader's own processes (memory, file
size, core files), the working directory and the cleared environment apply.

This file is a script, not part of the grader's import graph: it imports the standard library only
(``-S`` skips site-packages, so it starts in a few milliseconds) and has no effect on import.
``--probe`` answers, as JSON on stdout, whether this machine lets root create the namespaces.

Why one file of about 650 lines, above the kit's ~400: ``python -I -S`` puts neither this
file's folder nor site-packages on ``sys.path``, so the launcher cannot import a sibling module
(nor the :mod:`autograder.sandbox` package); a split would need path set-up in the one process
that must start with nothing of the grader's in reach.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import resource
import select
import signal
import socket
import stat
import struct
import sys

# Linux constants (include/uapi/linux/sched.h, mount.h, prctl.h, sockios.h, if.h, keyctl.h) and
# x86-64/arm64 system call numbers of calls the standard library does not wrap.
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
KEYCTL_JOIN_SESSION_KEYRING = 1
_SYSCALLS = {  # machine -> (keyctl, mount_setattr)
    "x86_64": (250, 442),
    "aarch64": (219, 442),
}
#: NVIDIA's character devices (the driver's NV_MAJOR_DEVICE_NUMBER): ``/dev/nvidia<minor>`` per
#: GPU, minors 254 and 255 its control nodes (``nvidia-modeset``, ``nvidiactl``).
NVIDIA_MAJOR = 195
NVIDIA_CONTROL_MINORS = 254
#: At most this many leftover processes are written down when the kernel exits.
CENSUS_MAX = 50

#: What the kernel process runs once the sandbox is built. ``-P`` keeps the working directory off
#: ``sys.path`` while the kernel's own modules are imported (a submitted ``zmq.py`` or ``code.py``
#: must not break the start, as ``ipykernel_launcher`` also ensures); the working directory is then
#: put back where IPython puts it (after the standard library, before site-packages) so that a
#: notebook can import its own modules.
#: Printed text is sent in messages of at most 1 MiB: one ``print`` of a 500 MB string would
#: otherwise be one message larger than the grader accepts (ipykernel sends what was written in
#: 0.2 s as one message). Student code can undo this; the grader does not rely on it.
KERNEL_ENTRY = """\
import sys
from ipykernel import iostream, kernelapp

def _in_pieces(self, _whole=iostream.OutStream._flush_buffers, _piece=1 << 20):
    for parent, data in _whole(self):
        for start in range(0, len(data), _piece):
            yield parent, data[start:start + _piece]

iostream.OutStream._flush_buffers = _in_pieces
i = next((i for i, p in enumerate(sys.path)
          if p.rstrip('/').endswith(('site-packages', 'dist-packages'))), len(sys.path))
sys.path.insert(i, '')
del _in_pieces, i
kernelapp.launch_new_instance()
"""

_RLIMITS = {
    "NPROC": resource.RLIMIT_NPROC,
    "DATA": resource.RLIMIT_DATA,
    "FSIZE": resource.RLIMIT_FSIZE,
    "CORE": resource.RLIMIT_CORE,
    "MSGQUEUE": resource.RLIMIT_MSGQUEUE,
}


class LaunchError(RuntimeError):
    """A sandbox step failed; the message names the step."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise LaunchError(f"{what}: {os.strerror(err)} (errno {errno.errorcode.get(err, err)})")


def unshare(flags: int) -> None:
    """Move this process into new namespaces (``unshare(2)``; root only)."""
    _check(_libc().unshare(flags), f"unshare({flags:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None):
    """``mount(2)`` with Python strings."""
    enc = [None if s is None else os.fsencode(s) for s in (source, target, fstype, data)]
    _check(
        _libc().mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]),
        f"mount {source or fstype} on {target}",
    )


def bring_loopback_up() -> None:
    """Set IFF_UP on ``lo`` in the new network namespace (local-only sockets keep working)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)  # struct ifreq: name, flags, padding to 40
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def _is_under(path: str, folder: str) -> bool:
    """True if ``path`` is ``folder`` or lies inside it (both absolute and normalised).

    >>> _is_under("/a/b/c", "/a/b"), _is_under("/a/bc", "/a/b"), _is_under("/a", "/")
    (True, False, True)
    """
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _syscall_number(index: int) -> int | None:
    return _SYSCALLS.get(os.uname().machine, (None, None))[index]


class _MountAttr(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("attr_set", "attr_clr", "propagation", "userns")]


def set_read_only(path: str, read_only: bool) -> None:
    """Make the mount at ``path`` and every mount below it read-only (or writable again).

    ``mount_setattr(2)`` with ``AT_RECURSIVE`` (Linux 5.12): one call for the whole tree, where a
    plain remount would change one mount at a time and miss those mounted later underneath.
    """
    number = _syscall_number(1)
    if number is None:
        raise LaunchError(f"mount_setattr: unknown system call number on {os.uname().machine}")
    attr = _MountAttr(MOUNT_ATTR_RDONLY if read_only else 0, 0 if read_only else MOUNT_ATTR_RDONLY)
    libc = _libc()
    result = libc.syscall(
        ctypes.c_long(number),
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.c_uint(AT_RECURSIVE),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    _check(result, f"mount_setattr {path} read-only={read_only}")


def join_new_session_keyring() -> None:
    """A fresh, empty session keyring for this process and its children (``keyctl(2)``).

    Without it the kernel would share the session keyring the grader's login started with.
    """
    number = _syscall_number(0)
    if number is None:
        raise LaunchError(f"keyctl: unknown system call number on {os.uname().machine}")
    result = _libc().syscall(
        ctypes.c_long(number), ctypes.c_int(KEYCTL_JOIN_SESSION_KEYRING), ctypes.c_char_p(None)
    )
    if result < 0:
        _check(-1, "keyctl(KEYCTL_JOIN_SESSION_KEYRING)")


def join_cgroup(procs_file: str) -> None:
    """Move this process into the run's memory cgroup; its children are born there."""
    with open(procs_file, "w", encoding="ascii") as f:
        f.write(str(os.getpid()))


def hide(path: str, empty_fd: int | None) -> None:
    """Cover one hidden path: a folder by an empty root-only tmpfs (listing it fails, files under
    it do not exist), a file by a read-only bind of the empty file ``empty_fd`` (reads as
    empty, writes fail). A path that no longer exists lies under a folder already covered."""
    if os.path.isdir(path) and not os.path.islink(path):
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0711,size=64k")
    elif os.path.lexists(path) and not os.path.isdir(path):
        empty = "/dev/null" if empty_fd is None else f"/proc/self/fd/{empty_fd}"
        mount(empty, path, None, MS_BIND, None)
        mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)


def bind_back(path: str, fd: int, *, writable: bool, root_read_only: bool) -> None:
    """Put a kept folder (``fd``, opened before any mount) back at ``path`` and close ``fd``.

    A writable one is always bound (the rest of the tree is read-only); a read-only one only
    where a cover made it vanish.
    """
    try:
        seen, wanted = os.stat(path), os.fstat(fd)
        reachable = (seen.st_dev, seen.st_ino) == (wanted.st_dev, wanted.st_ino)
    except OSError:
        reachable = False
    if not reachable:
        # Rebuild the way down inside the covering tmpfs; 0711: traversable, not listable.
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            step = "/" + "/".join(parts[:depth])
            if not os.path.isdir(step):
                os.mkdir(step, 0o711)
    if not reachable or writable:
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
    if writable and root_read_only:
        set_read_only(path, False)
    os.close(fd)


def _withheld(rel: str, info: os.stat_result, gpu: dict) -> bool:
    """Is the device-folder entry ``rel`` (its path under the folder) one the kernel must not
    have (see :func:`rebuild_devices`)?

    >>> gpu = {"keep_minors": [1], "withhold_paths": ["dri/card0"]}
    >>> _withheld("null", os.stat("/dev/null"), gpu), _withheld("dri/card0", os.stat("/"), gpu)
    (False, True)
    >>> _withheld("nvidia-uvm", os.stat("/"), gpu), _withheld("nvidia-uvm", os.stat("/"), {})
    (False, True)
    """
    keep_minors = gpu.get("keep_minors", [])
    if rel in gpu.get("withhold_paths", []):  # other GPUs' DRM nodes, named by the grader
        return True
    if stat.S_ISCHR(info.st_mode) and os.major(info.st_rdev) == NVIDIA_MAJOR:
        minor = os.minor(info.st_rdev)
        return minor not in keep_minors if minor < NVIDIA_CONTROL_MINORS else not keep_minors
    # With no GPU kept: the control nodes of other majors too (nvidia-uvm, nvidia-uvm-tools)
    # and the MIG capability nodes (the folder nvidia-caps).
    return not keep_minors and rel.rpartition("/")[2].startswith("nvidia")


def _copy_device_folder(old: int, path: str, old_dev: int, gpu: dict, rel: str = "") -> None:
    """Fill the fresh folder ``path`` with the entries of ``old`` (a descriptor of the folder
    it covers; ``rel`` its path under the device folder), leaving out what :func:`_withheld`
    names: device nodes made anew (same number, owner and mode), links copied, sub-folders
    walked, and folders that are mount points of their own (``pts``, the private ``shm``,
    ``mqueue``), files, sockets and pipes bound."""
    for name in sorted(os.listdir(old)):
        try:
            info = os.stat(name, dir_fd=old, follow_symlinks=False)
        except OSError:  # gone meanwhile
            continue
        below = f"{rel}/{name}" if rel else name
        if _withheld(below, info, gpu):
            continue
        target = os.path.join(path, name)
        source = f"/proc/self/fd/{old}/{name}"
        kind = stat.S_IFMT(info.st_mode)
        if kind == stat.S_IFDIR and (info.st_dev != old_dev or below.count("/") >= 8):
            os.mkdir(target)  # bound: it keeps its own owner, mode and mount flags
            mount(source, target, None, MS_BIND | MS_REC, None)
            continue
        if kind not in (stat.S_IFLNK, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFDIR):
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            mount(source, target, None, MS_BIND, None)  # a file, socket or pipe: bound
            continue
        if kind == stat.S_IFLNK:
            os.symlink(os.readlink(name, dir_fd=old), target)
        elif kind == stat.S_IFDIR:
            os.mkdir(target)
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=old)
            try:
                _copy_device_folder(sub, target, old_dev, gpu, below)
            finally:
                os.close(sub)
        else:
            os.mknod(target, info.st_mode, info.st_rdev)
        if kind != stat.S_IFLNK:
            os.chmod(target, stat.S_IMODE(info.st_mode))
        os.chown(target, info.st_uid, info.st_gid, follow_symlinks=False)


def rebuild_devices(gpu: dict) -> None:
    """Step 5: the device folder again, without the GPUs that are not the kernel's.

    ``gpu["dev_root"]`` (``/dev``; a fake folder in tests) is covered by a fresh tmpfs holding
    everything the old one held except the device nodes of NVIDIA GPUs (major 195, minors
    below 254) whose minor is not in ``gpu["keep_minors"]`` and the other GPUs' DRM nodes
    (``gpu["withhold_paths"]``, e.g. ``dri/renderD129``); with no GPU kept, NVIDIA's control
    nodes go too. A node that does not exist cannot be opened, whatever
    ``CUDA_VISIBLE_DEVICES`` says, and the kernel user can make none (no ``CAP_MKNOD``; the
    folder is read-only). The new folder is read-only; mounts below it keep their own flags.
    """
    root = gpu["dev_root"]
    if not os.path.isdir(root):  # not in the kernel's tree (a fake one under /tmp): nothing to do
        return
    old = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        info = os.fstat(old)
        mode = stat.S_IMODE(info.st_mode)
        mount("tmpfs", root, "tmpfs", MS_NOSUID, f"mode={mode:o},size=1m")
        _copy_device_folder(old, root, info.st_dev, gpu)
        os.chown(root, info.st_uid, info.st_gid)
        mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, None)
    finally:
        os.close(old)


def mask_gpu_information(gpu: dict) -> None:
    """In the namespace's fresh ``/proc``: ``driver/nvidia/gpus`` lists the kept GPUs only.

    The driver shows a folder per GPU there (model, UUID, bus address); the other GPUs' folders
    are left out of a read-only tmpfs over it, as NVIDIA's container runtime does.
    """
    path = gpu.get("proc_gpus")
    if not path or not os.path.isdir(path):
        return
    old = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        present = set(os.listdir(old))
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555,size=64k")
        for bus in gpu.get("keep_buses", []):
            if bus in present and "/" not in bus:
                os.mkdir(os.path.join(path, bus))
                mount(f"/proc/self/fd/{old}/{bus}", os.path.join(path, bus), None, MS_BIND, None)
        mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    finally:
        os.close(old)


def build_mounts(settings: dict) -> int | None:
    """Steps 3 to 6 of the module docstring, inside a fresh mount namespace.

    Returns a descriptor open for appending to the census file (see :func:`census`), or None.
    """
    # Mounts made from here on must not propagate back to the grader's namespace.
    mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    writable = [os.path.realpath(p) for p in settings.get("keep", [])]
    read_only = [os.path.realpath(p) for p in settings.get("keep_read_only", [])]
    keep_fds = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in writable + read_only}
    # Opened now: the grader's folder holding it may lie under a place covered below (/tmp).
    empty_file = settings.get("empty_file")
    empty_fd = os.open(empty_file, os.O_PATH) if empty_file else None
    census_fd = None
    root_read_only = False
    if settings.get("read_only_root", True):
        try:  # refused (EBUSY) while this process holds a file open to write; ENOSYS before 5.12
            set_read_only("/", True)
            root_read_only = True
        except LaunchError as exc:  # the private tmpfs mounts below still cover every
            # world-writable folder the grader found; only this second layer is missing
            print(f"kit-grader launcher: the tree stays writable: {exc}", file=sys.stderr)
    if settings.get("census"):  # root-only file beside the launch settings; not inherited
        census = settings["census"]
        if root_read_only:  # this one file stays writable, for root
            mount(census, census, None, MS_BIND, None)
            set_read_only(census, False)
        census_fd = os.open(census, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    tmp_size = settings.get("tmp_size_mb")
    size = f",size={int(tmp_size)}m" if tmp_size else ""
    for tmp in settings.get("private_tmp", []):
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777{size}")
    if os.path.isdir("/dev/mqueue"):  # POSIX message queues of the new IPC namespace only
        mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    # A bind brings a kept folder back as it was before any cover was made in it, so hidden
    # paths are covered after the binds, in the tree as the kernel will see it; only a hidden
    # folder that holds a kept one is covered before (the way down is then rebuilt in it).
    hidden = settings.get("hide", [])
    holding = [h for h in hidden if any(_is_under(k, h) for k in keep_fds)]
    for path in holding:
        hide(path, empty_fd)
    os.umask(0o022)
    for path, fd in keep_fds.items():
        bind_back(path, fd, writable=path in writable, root_read_only=root_read_only)
    if settings.get("gpu_devices"):
        rebuild_devices(settings["gpu_devices"])
    for path in hidden:
        if path not in holding:
            hide(path, empty_fd)
    if empty_fd is not None:
        os.close(empty_fd)
    return census_fd


def set_limits(limits: dict[str, int | None]) -> None:
    """Hard and soft resource limits; ``None`` leaves a limit as it is."""
    for name, value in limits.items():
        if value is not None:
            resource.setrlimit(_RLIMITS[name], (int(value), int(value)))


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good, with no supplementary groups and no way back up."""
    _check(_libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def become_kernel(settings: dict, connection_file: str) -> None:
    """Limits, the user, a fresh keyring, the working directory, then the kernel (no return)."""
    isolate = settings.get("isolate", False)
    set_limits(settings.get("rlimits", {}))
    if isolate:
        uid, gid = int(settings["uid"]), int(settings["gid"])
        os.chown(connection_file, uid, gid)
        drop_privileges(uid, gid)
        try:
            join_new_session_keyring()
        except LaunchError as exc:  # no keyrings in this kernel: nothing to share either
            print(f"kit-grader launcher: {exc}", file=sys.stderr)
    os.chdir(settings["cwd"])
    python = settings["python"]
    argv = [python, "-P", "-c", KERNEL_ENTRY, "-f", connection_file, *settings.get("args", [])]
    try:
        os.execve(python, argv, settings["env"])
    except OSError as exc:
        who = f"user {settings.get('user')!r}" if isolate else "the grader"
        raise LaunchError(
            f"{who} cannot run the kernel's Python {python}: {exc}. That interpreter (and every "
            "folder above it) must be executable by that user: a virtual environment made from "
            "/usr/bin/python3 works, one made from a Python under /root (mode 700) does not."
        ) from exc


def _exit_status(status: int) -> int:
    """A ``waitpid`` status as a shell would report it (128 + signal for a killed process)."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def census(kernel: int) -> list[dict[str, object]]:
    """Processes of this PID namespace still running, other than init and ``kernel``.

    Read from this namespace's own ``/proc``: the pid as the notebook saw it, the short command
    name (``comm``, at most 15 characters) and the state; never the argv or environment, which
    may hold secrets. ``escaped`` is True for a process outside the kernel's process group (a
    ``setsid`` daemon); members of the group would have died with the kernel in Jupyter.
    """
    found: list[dict[str, object]] = []
    for name in sorted(os.listdir("/proc"), key=lambda n: (len(n), n)):
        if not name.isdigit() or int(name) in (1, kernel):
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:  # ended meanwhile
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        if state == "Z":
            continue
        # The kernel's group lies outside this namespace: its id reads as 0 from in here.
        found.append({"pid": int(name), "name": comm, "state": state, "escaped": pgrp != "0"})
        if len(found) >= CENSUS_MAX:
            break
    return found


def run_init(
    settings: dict, connection_file: str, census_fd: int | None, grader_fd: int | None
) -> None:
    """Process 1 of the new PID namespace: mount its ``/proc``, start the kernel, reap, report.

    Init leaves the kernel's process group once the kernel is forked, so the kernel manager's
    ``SIGKILL`` to that group ends the kernel and the launcher but not init: init then writes
    the census (see :func:`census`) and exits, which ends the rest of the namespace. It also
    exits, without a census, when the grader (``grader_fd``, a pidfd) is gone. Meanwhile it
    collects every orphan that exits (zombies would count against the user's process limit).
    Never returns.
    """
    # hidepid=2: a process of the kernel user cannot even see that init (root) exists.
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
    if settings.get("gpu_devices"):
        mask_gpu_information(settings["gpu_devices"])
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_write)  # SIGCHLD wakes the select below
    signal.signal(signal.SIGCHLD, lambda *_: None)
    if grader_fd is None:  # no pidfd (Linux < 5.3): die with the launcher instead
        _check(_libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    kernel = os.fork()
    if kernel == 0:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # ipykernel installs its own handler
        become_kernel(settings, connection_file)
    if grader_fd is not None:
        os.setpgid(0, 0)
    status = None
    watched = [wake_read] + ([grader_fd] if grader_fd is not None else [])
    while status is None:
        ready, _, _ = select.select(watched, [], [], 1.0)
        if grader_fd in ready:
            os._exit(137)  # the grader is gone: end the namespace now
        while True:  # drain the wake-up pipe, then collect every exited child
            try:
                if not os.read(wake_read, 512):
                    break
            except BlockingIOError:
                break
        while True:
            try:
                pid, code = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                status = status if status is not None else 0
                break
            if pid == 0:
                break
            if pid == kernel:
                status = code
    if census_fd is not None:
        try:
            lines = "".join(json.dumps(p) + "\n" for p in census(kernel))
            os.write(census_fd, (lines + '{"end": true}\n').encode("utf-8"))
        except OSError as exc:
            print(f"kit-grader launcher: census not written: {exc}", file=sys.stderr)
    os._exit(_exit_status(status))  # as PID 1: ends every process left in the namespace


def watch_init(init: int) -> int:
    """The launcher's last job: wait for init and exit with its status; end it if the grader dies.

    Waits on two process file descriptors (no polling): init's, and the grader's (this process's
    parent), which a grader killed with SIGKILL closes too.
    """
    grader = os.getppid()
    try:
        watched = [os.pidfd_open(init), os.pidfd_open(grader)]
    except (AttributeError, OSError):  # Linux < 5.3: init's PR_SET_PDEATHSIG still holds
        return _exit_status(os.waitpid(init, 0)[1])
    while True:
        ready, _, _ = select.select(watched, [], [])
        if watched[1] in ready and watched[0] not in ready:
            os.kill(init, signal.SIGKILL)
        return _exit_status(os.waitpid(init, 0)[1])


def launch(settings: dict, connection_file: str) -> int:
    """Build the sandbox that ``settings`` describes and run the kernel in it.

    Returns the kernel's exit status where it ran in a PID namespace; otherwise this process
    becomes the kernel and never returns.
    """
    isolate = settings.get("isolate", False)
    if not (isolate and settings.get("namespaces", False)):
        become_kernel(settings, connection_file)
    if settings.get("cgroup_procs"):
        join_cgroup(settings["cgroup_procs"])
    unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID)
    try:
        bring_loopback_up()
    except OSError as exc:  # local sockets only; the kernel itself talks over IPC sockets
        print(f"kit-grader launcher: loopback stays down: {exc}", file=sys.stderr)
    census_fd = build_mounts(settings)
    try:  # opened here, where the grader's pid is visible; init inherits it
        grader_fd = os.pidfd_open(os.getppid())
    except (AttributeError, OSError):
        grader_fd = None
    if census_fd is not None:  # the grader waits for as many ends as there were begins
        os.write(census_fd, b'{"begin": true}\n')
    # Ignored before the fork, so an interrupt never reaches init's Python as KeyboardInterrupt;
    # the kernel's process puts the default back before it starts ipykernel.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    init = os.fork()
    if init == 0:
        try:
            run_init(settings, connection_file, census_fd, grader_fd)
        except BaseException as exc:  # whatever happened: say it, then exit
            print(f"kit-grader launcher: {exc}", file=sys.stderr)
        finally:
            os._exit(70)
    if census_fd is not None:
        os.close(census_fd)
    return watch_init(init)


def probe() -> dict[str, object]:
    """Can this process create the kernel's namespaces? (Run as its own process.)"""
    try:
        unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID)
    except LaunchError as exc:
        return {"namespaces": False, "error": str(exc)}
    return {"namespaces": True, "error": None}


def main(argv: list[str]) -> int:
    if argv[1:] == ["--probe"]:
        print(json.dumps(probe()))
        return 0
    if len(argv) != 3:
        print("usage: kernel_launcher.py LAUNCH_JSON CONNECTION_FILE | --probe", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        settings = json.load(f)
    try:
        return launch(settings, argv[2])
    except (LaunchError, OSError) as exc:
        print(f"kit-grader launcher: {exc}", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main(sys.argv))
