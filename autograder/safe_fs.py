"""Reading and removing what student code could have touched, without trusting a single path.

After a submission's cells ran, every folder the kernel user could write may hold anything: a
symbolic link to the grader's expected results or to a root-only file, a hard link, a FIFO that
blocks a reader, a file of many gigabytes, a tree thousands of levels deep. The grader runs as
root, so following any of these would read or delete what the student cannot. Everything here
therefore works through directory *handles* (file descriptors) instead of path strings:

- :meth:`Folder.open` opens a folder with ``O_DIRECTORY | O_NOFOLLOW`` and checks its owner;
  :meth:`Folder.folder` opens a sub-folder relative to that handle, so a parent that cannot be
  changed (root-owned, not writable by the kernel user) pins down every folder below it;
- :meth:`Folder.read_bytes` and :meth:`Folder.open_binary` open a file relative to the handle with
  ``O_NOFOLLOW | O_NONBLOCK`` (a link is refused by the kernel itself, a FIFO does not block), then
  ``fstat`` the open file: a regular file with one hard link and at most ``limit`` bytes, checked
  *before* a byte is read; the read itself is bounded too;
- :meth:`Folder.names` lists entries without following anything;
- :func:`remove_tree` deletes a student's tree with GNU ``rm -rf --one-file-system`` in a child
  process: it walks with ``openat``/``unlinkat`` and never follows a link, and a tree deeper than
  Python's recursion limit costs it nothing (``shutil.rmtree`` recurses in Python 3.11).

Errors are :class:`UnsafeFileError` (a ``ValueError``) with a sentence that says what was found,
never what the file holds.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import stat
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["Folder", "UnsafeFileError", "read_file", "remove_tree"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class UnsafeFileError(ValueError):
    """A path was a link, not a regular file or folder, hard-linked, or over its size limit."""


def _kind(mode: int) -> str:
    """'a folder', 'a FIFO', ... for messages."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a symbolic link"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):  # fmt: skip
        if test(mode):
            return name
    return "a regular file"


def _refusal(name: str, error: OSError, what: str) -> UnsafeFileError:
    """O_NOFOLLOW on a link fails with ELOOP (files) or ENOTDIR (folders): say it in words."""
    import errno

    if error.errno in (errno.ELOOP, errno.EMLINK):
        return UnsafeFileError(f"{name} is a symbolic link; the grader reads only {what}.")
    if error.errno == errno.ENOTDIR:
        return UnsafeFileError(f"{name} is not {what} (it may be a symbolic link).")
    if error.errno == errno.ENOENT:
        return UnsafeFileError(f"{name} does not exist.")
    return UnsafeFileError(f"{name} could not be opened ({error.strerror}).")


class Folder:
    """An open, verified folder: every name below it is resolved relative to this handle.

    Use as a context manager (or call :meth:`close`). ``path`` is for messages only; nothing is
    ever opened through it again.
    """

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    # ------------------------------------------------------------------ opening folders
    @classmethod
    def open(cls, path: Path | str, *, owner: int | None = None) -> Folder:
        """Open the folder ``path``; its last component must not be a link.

        The folders above ``path`` are the caller's to trust (e.g. a ``mkdtemp`` folder that only
        root can write). With ``owner``, the folder must belong to that uid.
        """
        path = Path(path)
        try:
            fd = os.open(path, _DIR_FLAGS)
        except OSError as error:
            raise _refusal(str(path), error, "real folders") from None
        return cls._checked(fd, path, owner)

    def folder(self, name: str, *, owner: int | None = None) -> Folder:
        """The sub-folder ``name`` (one component), opened relative to this handle."""
        _one_component(name)
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        except OSError as error:
            raise _refusal(name, error, "real folders") from None
        return self._checked(fd, self.path / name, owner)

    @classmethod
    def _checked(cls, fd: int, path: Path, owner: int | None) -> Folder:
        info = os.fstat(fd)
        if owner is not None and info.st_uid != owner:
            os.close(fd)
            raise UnsafeFileError(
                f"{path} belongs to uid {info.st_uid}, expected uid {owner}; not read."
            )
        return cls(fd, path)

    # ------------------------------------------------------------------ reading files
    def _open_regular(self, relpath: str, limit: int) -> tuple[int, os.stat_result]:
        """An fd of the regular file ``relpath`` (components separated by '/', each one opened
        without following links), checked by fstat before anything is read."""
        parts = [p for p in relpath.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise UnsafeFileError(f"{relpath!r} is not a plain relative file name.")
        dir_fd, opened = self.fd, []
        try:
            for part in parts[:-1]:
                try:
                    dir_fd = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
                except OSError as error:
                    raise _refusal(relpath, error, "files in real folders") from None
                opened.append(dir_fd)
            try:
                fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=dir_fd)
            except OSError as error:
                raise _refusal(relpath, error, "regular files") from None
        finally:
            for fd_ in opened:
                os.close(fd_)
        info = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(info.st_mode):
            problem = f"{relpath} is {_kind(info.st_mode)}, not a regular file."
        elif info.st_nlink != 1:
            problem = (
                f"{relpath} has {info.st_nlink} hard links; the grader reads only files with "
                "one (a hard link may point at a file that is not the student's)."
            )
        elif info.st_size > limit:
            problem = f"{relpath} is {info.st_size:,} bytes, over the {limit:,} byte limit."
        if problem:
            os.close(fd)
            raise UnsafeFileError(problem)
        os.set_blocking(fd, True)
        return fd, info

    def size(self, relpath: str, limit: int) -> int:
        """The size in bytes of the regular file ``relpath`` (checked like a read)."""
        fd, info = self._open_regular(relpath, limit)
        os.close(fd)
        return info.st_size

    def exists(self, name: str) -> bool:
        """Whether ``name`` (one component) is an entry of this folder, of any kind."""
        _one_component(name)
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def read_bytes(self, relpath: str, limit: int) -> bytes:
        """The whole file ``relpath``, at most ``limit`` bytes (checked before reading)."""
        with self.open_binary(relpath, limit) as f:
            data = f.read(limit + 1)
        if len(data) > limit:  # it grew after fstat: nothing may write here now, but be sure
            raise UnsafeFileError(f"{relpath} is over the {limit:,} byte limit.")
        return data

    def open_binary(self, relpath: str, limit: int) -> io.BufferedReader:
        """The file ``relpath`` open for reading (checked: regular, one link, <= ``limit`` bytes).

        The caller bounds what it reads; the file's size was at most ``limit`` when checked.
        """
        fd, _ = self._open_regular(relpath, limit)
        return io.open(fd, "rb", closefd=True)  # noqa: UP020 (an fd, not a path)

    def names(self) -> list[str]:
        """The entries' names, sorted (nothing is followed or opened)."""
        return sorted(os.listdir(self.fd))

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Folder({str(self.path)!r}, fd={self.fd})"


def read_file(path: Path | str, limit: int) -> bytes:
    """The regular file ``path``, at most ``limit`` bytes, its last component not followed.

    For a path an operator named (a submission handed to the grader): the folders above it are
    theirs, so only the file itself is checked like :meth:`Folder.read_bytes`.
    """
    path = Path(path)
    try:
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise _refusal(str(path.parent), error, "real folders") from None
    with Folder(fd, path.parent) as folder:
        return folder.read_bytes(path.name, limit)


def _one_component(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise UnsafeFileError(f"{name!r} is not a single file or folder name.")


def remove_tree(path: Path | str) -> None:
    """Delete ``path`` and everything below it, following no link, whatever its depth.

    GNU ``rm`` walks with ``openat``/``unlinkat`` (fts, physical walk) and keeps no Python frame
    per level, so a student's 10,000-level tree costs it nothing; ``--one-file-system`` skips any
    mount point below. A link at ``path`` itself is removed, never followed. It never raises:
    clean-up runs in ``finally`` blocks, after the results are safe; what could not be removed
    is logged as a warning.
    """
    path = Path(path)
    if not os.path.lexists(path):
        return
    try:
        done = subprocess.run(
            [shutil.which("rm", path="/usr/bin:/bin") or "rm", "-rf", "--one-file-system", "--",
             str(path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            check=False, timeout=600,
        )  # fmt: skip
        why = done.stderr.decode("utf-8", "replace")[-500:].strip()
    except (OSError, subprocess.SubprocessError) as error:
        why = str(error)
    if os.path.lexists(path):
        log.warning("could not remove %s: %s", path, why or "rm left it")
