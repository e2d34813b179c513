"""Start a grading kernel inside its sandbox; the kernelspec's ``argv`` runs this file.

``python -I -S kernel_launcher.py LAUNCH_JSON CONNECTION_FILE`` reads the launch settings that
:mod:`autograder.sandbox` wrote (as root, before any student code runs), builds the sandbox in
this very process and then ``execve``\\s the IPython kernel. Because it ends in ``execve`` and never
forks, the kernel keeps the process id (and process group) that the kernel manager started: its
interrupt (SIGINT to the group), kill and liveness check reach the kernel itself.

Steps, in order, when the settings ask for isolation (the grader runs as root):

1. new network and mount namespaces (``unshare(CLONE_NEWNET | CLONE_NEWNS)``): the kernel sees
   only a loopback interface (brought up here), and mounts made below are private to it;
2. fresh tmpfs over ``/tmp``, ``/var/tmp`` and ``/dev/shm``, so one submission cannot leave files
   that the next one reads;
3. every hidden directory covered by an empty tmpfs (mode 0711, owned by root: listing it fails,
   and files under it do not exist), every hidden file covered by a bind mount of ``/dev/null``;
4. the paths the kernel needs (its working directory, its run directory), when a mount above
   covered them, bound back in place from a descriptor opened before the mounts;
5. resource limits (hard and soft) as the grader chose them: process count (RLIMIT_NPROC),
   memory per process (RLIMIT_DATA, left out where a GPU is visible), file size (RLIMIT_FSIZE),
   no core files;
6. ``no_new_privs``, then the switch to the unprivileged user (groups, gid, uid), the connection
   file handed to that user, the working directory, a cleared environment, and ``execve``.

Without isolation only the resource limits that do not count the grader's own processes (memory,
file size, core files), the working directory and the cleared environment apply.

This file is a script, not part of the grader's import graph: it imports the standard library only
(``-S`` skips site-packages, so it starts in a few milliseconds) and has no effect on import.
``--probe`` answers, as JSON on stdout, whether this machine lets root create the namespaces.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import resource
import socket
import struct
import sys

# Linux constants (include/uapi/linux/sched.h, mount.h, prctl.h, sockios.h, if.h).
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_NO_NEW_PRIVS = 38
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

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


def build_mounts(settings: dict) -> None:
    """Steps 2 to 4 of the module docstring, inside a fresh mount namespace."""
    # Mounts made from here on must not propagate back to the grader's namespace.
    mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    keep = [os.path.realpath(p) for p in settings.get("keep", [])]
    keep_fds = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in keep}
    tmp_size = settings.get("tmp_size_mb")
    size = f",size={int(tmp_size)}m" if tmp_size else ""
    for tmp in settings.get("private_tmp", []):
        if os.path.isdir(tmp):
            mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777{size}")
    for hidden in settings.get("hide", []):
        if os.path.isdir(hidden) and not os.path.islink(hidden):
            mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0711,size=64k")
        elif os.path.lexists(hidden) and not os.path.isdir(hidden):
            mount("/dev/null", hidden, None, MS_BIND, None)
        # A path that no longer exists lies under a folder already covered above.
    os.umask(0o022)
    for path, fd in keep_fds.items():
        wanted = os.fstat(fd)
        try:
            seen = os.stat(path)
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
            mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
        os.close(fd)


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


def launch(settings: dict, connection_file: str) -> None:
    """Build the sandbox that ``settings`` describes, then become the kernel (never returns)."""
    isolate = settings.get("isolate", False)
    if isolate and settings.get("namespaces", False):
        unshare(CLONE_NEWNS | CLONE_NEWNET)
        try:
            bring_loopback_up()
        except OSError as exc:  # local sockets only; the kernel itself talks over IPC sockets
            print(f"kit-grader launcher: loopback stays down: {exc}", file=sys.stderr)
        build_mounts(settings)
    set_limits(settings.get("rlimits", {}))
    if isolate:
        uid, gid = int(settings["uid"]), int(settings["gid"])
        os.chown(connection_file, uid, gid)
        drop_privileges(uid, gid)
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


def probe() -> dict[str, object]:
    """Can this process create network and mount namespaces? (Run as its own process.)"""
    try:
        unshare(CLONE_NEWNS | CLONE_NEWNET)
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
        launch(settings, argv[2])
    except (LaunchError, OSError) as exc:
        print(f"kit-grader launcher: {exc}", file=sys.stderr)
        return 70
    return 0  # pragma: no cover - launch() never returns on success


if __name__ == "__main__":
    sys.exit(main(sys.argv))
