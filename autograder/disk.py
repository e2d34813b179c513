"""What the student may write, bounded as a whole, and removed without trusting its shape.

- :func:`capped_folder` mounts a tmpfs of a fixed size at a folder, so a submission that fills
  it gets ``ENOSPC`` there while the grader's own files (results, the executed notebook) live on
  another file system it cannot fill. A per-file limit (RLIMIT_FSIZE) does not bound a folder:
  many files do. tmpfs pages are memory: the run's memory cgroup counts them too.
- :func:`remove_tree` (from :mod:`autograder.safe_fs`, re-exported here) deletes a folder the
  student could have shaped, however deep, without following a link.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder.safe_fs import remove_tree

log = logging.getLogger(__name__)

__all__ = ["CappedFolder", "capped_folder", "remove_tree"]

MNT_DETACH = 2
MS_NOSUID = 0x2
MS_NODEV = 0x4


@dataclass(frozen=True)
class CappedFolder:
    """A folder from :func:`capped_folder`; ``capped`` is False where mounting was refused."""

    path: Path
    size_mb: int
    capped: bool
    reason: str | None = None


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _mount_tmpfs(path: Path, size_mb: int, mode: int, uid: int, gid: int) -> None:
    options = f"size={int(size_mb)}m,mode={mode:o},uid={uid},gid={gid}".encode()
    flags = ctypes.c_ulong(MS_NOSUID | MS_NODEV)
    if _libc().mount(b"tmpfs", os.fsencode(path), b"tmpfs", flags, options) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs on {path}: {os.strerror(err)}")


def _unmount(path: Path) -> None:
    # MNT_DETACH: a process still holding a file there cannot keep the folder from going.
    if _libc().umount2(os.fsencode(path), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount {path}: {os.strerror(err)}")


@contextlib.contextmanager
def capped_folder(
    path: Path, size_mb: int, *, mode: int = 0o700, uid: int = 0, gid: int = 0
) -> Iterator[CappedFolder]:
    """An empty folder at ``path`` holding at most ``size_mb`` MB in all (a tmpfs), then gone.

    ``path`` is created (it must not exist) and belongs to ``uid``/``gid`` with ``mode``. On exit
    the tmpfs is unmounted (its files vanish with it, whatever their number or depth) and the
    folder removed. Where mounting is refused (not root, no CAP_SYS_ADMIN), the folder is an
    ordinary one: ``capped`` is False, ``reason`` says why and a warning is logged; the caller
    decides whether that is acceptable. Use::

        with capped_folder(work / "student", limits.disk_mb, uid=uid, gid=gid) as folder:
            ...  # the kernel writes under folder.path; ENOSPC past disk_mb
    """
    if size_mb <= 0:
        raise ValueError(f"capped_folder: size_mb must be a positive number of MB, got {size_mb}.")
    path = Path(path)
    path.mkdir(mode=mode)
    os.lchown(path, uid, gid)
    mounted = False
    reason = None
    try:
        try:
            _mount_tmpfs(path, size_mb, mode, uid, gid)
            mounted = True
        except OSError as exc:
            reason = exc.strerror or str(exc)
            log.warning(
                "could not cap %s at %d MB (%s); it is an ordinary folder, bounded per file only",
                path,
                size_mb,
                reason,
            )
        yield CappedFolder(path, size_mb, mounted, reason)
    finally:
        try:
            if mounted:
                _unmount(path)
        finally:
            remove_tree(path)
