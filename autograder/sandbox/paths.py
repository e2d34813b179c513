"""Path policy: what the kernel needs, what may be hidden from it, and where it may write.

:func:`check_hidden_paths` refuses to hide what the kernel needs to start
(:func:`_paths_the_kernel_needs`); :func:`world_writable_folders` finds the folders anyone may
write to, which the isolated kernel gets fresh (:data:`PRIVATE_TMP` and those). Without a mount
namespace, :func:`_give_to_user` and :func:`_check_reachable` hand the run's folders to the kernel
user and check it can walk down to them; :func:`_private_root_dir` is root's own folder for lock
files and the record of hidden paths.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path

from autograder.sandbox.isolation import IsolationUnavailableError

#: Paths the kernel always needs; hiding one of them (or a folder above) is refused.
_SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/dev")
#: Folders the isolated kernel gets fresh and empty (a tmpfs each), with every other
#: world-writable folder :func:`world_writable_folders` finds.
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue")
#: Where world-writable folders are looked for: the root file system and the usual separate
#: mounts under it (``find -xdev`` stays on each one's file system).
_WRITABLE_SEARCH_ROOTS = ("/", "/dev", "/run", "/var", "/home", "/opt", "/srv")


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
    # The autograder package (this file's grandparent): autograder.record, which test cells import.
    needed.append(Path(__file__).resolve().parents[1])
    # The folders the kernel imports from besides: PYTHONPATH (passed on to the kernel: e.g. a
    # Gradescope container's kit/) and other site-packages a .pth file adds (a venv reaching
    # another's). Under a folder the sandbox covers (/tmp) each is bound back whole, so Python's
    # import system can list it; the folders above it are only traversable. Not the working
    # directory nor the kit's root: binding those back would bring hidden folders with them.
    pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    site_dirs = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    needed += [Path(p) for p in [*pythonpath, *site_dirs] if os.path.isabs(p) and os.path.isdir(p)]
    return list(dict.fromkeys(Path(os.path.realpath(p)) for p in needed))


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
