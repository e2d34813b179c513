"""What the kernel user leaves behind that outlives its processes: keyrings and shared places.

Linux keeps a user's keyrings per uid across runs (:func:`_clear_keyrings_of` empties them
around each run). Without namespaces, SysV IPC objects and files in world-writable folders would
reach the next submission too: :func:`remove_leftovers_of` removes them before and after a run.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from autograder.sandbox.as_user import in_child_as
from autograder.sandbox.paths import PRIVATE_TMP, world_writable_folders

log = logging.getLogger(__name__)

#: SysV IPC kinds: (``/proc/sysvipc`` file, its id column, libc function that removes one).
_SYSV_KINDS = (("shm", "shmid", "shmctl"), ("msg", "msqid", "msgctl"), ("sem", "semid", "semctl"))
IPC_RMID = 0
#: The user's keyrings that Linux keeps per uid (include/uapi/linux/keyctl.h), cleared around runs.
KEY_SPEC_USER_KEYRING = -4
KEY_SPEC_USER_SESSION_KEYRING = -5
KEYCTL_CLEAR = 7
_KEYCTL_SYSCALL = {"x86_64": 250, "aarch64": 219}


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

    def clear() -> int:
        keyrings = (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING)
        failed = [k for k in keyrings if libc.syscall(ctypes.c_long(number), KEYCTL_CLEAR, k)]
        return 2 if failed else 0

    code = in_child_as(uid, gid, clear)
    if code != 0:
        log.warning("could not clear the keyrings of uid %d (exit code %d)", uid, code)
