"""A memory cgroup per grading run: the kernel's memory counted and limited as Linux counts it.

Summing the resident memory of the kernel's processes misses memory no process maps: files in a
tmpfs (``/dev/shm``, ``/tmp``), ``memfd_create`` files whose mappings were dropped, SysV shared
memory nobody attached. The kernel's memory controller charges every such page to the cgroup of
the process that wrote it, so a cgroup counts them all and stops the run at its limit.

:func:`create_memory_cgroup` makes a child of the grader's own memory cgroup with a hard limit:

- cgroup v2 (``memory.max``) where the grader's cgroup is on a v2 hierarchy whose memory
  controller is enabled for children (``cgroup.subtree_control``);
- otherwise cgroup v1 (``memory.limit_in_bytes``, and ``memory.memsw.limit_in_bytes`` where swap
  accounting is on, so that swap is no way around it), under the grader's own memory cgroup;
- None where neither is writable (Gradescope-style containers often mount ``/sys`` read-only):
  the executor's watcher then counts shared memory itself (see
  :meth:`autograder.sandbox.KernelSandbox.memory_use_mb`).

The kernel's launcher joins the cgroup before it creates any namespace or runs student code
(``cgroup.procs``), so every process of the run is born in it. Nothing here imports what the
student produced; the files read are the kernel's own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["MemoryCgroup", "create_memory_cgroup"]

MB = 1024 * 1024
#: Above the watched limit, the cgroup's hard limit leaves this much room (MB), so that the
#: watcher (every 0.2 s) stops a growing kernel with its plain message before the kernel's OOM
#: killer has to; the hard limit still bounds a faster allocation.
HARD_LIMIT_HEADROOM_MB = 64


def _own_cgroup(version: str) -> str | None:
    """The grader's cgroup path on the ``"v2"`` or ``"v1"`` memory hierarchy, from /proc."""
    with open("/proc/self/cgroup", encoding="ascii") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if version == "v2" and controllers == "":
                return path
            if version == "v1" and "memory" in controllers.split(","):
                return path
    return None


def _mounts(fstype: str) -> list[tuple[str, str, set[str]]]:
    """(mount point, root inside the hierarchy, super options) of each mount of ``fstype``."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fields, (kind, _source, options) = left.split(), right.split()[:3]
            if kind == fstype:
                found.append((fields[4], fields[3], set(options.split(","))))
    return found


def _locate(version: str) -> Path | None:
    """The folder of the grader's own cgroup on the ``version`` memory hierarchy, if mounted."""
    own = _own_cgroup(version)
    if own is None:
        return None
    for point, root, options in _mounts("cgroup2" if version == "v2" else "cgroup"):
        if version == "v1" and "memory" not in options:
            continue
        if own == root or own.startswith(root.rstrip("/") + "/"):
            folder = Path(point) / own[len(root) :].lstrip("/")
            if folder.is_dir():
                return folder
    return None


@dataclass
class MemoryCgroup:
    """One run's memory cgroup: ``path`` is its folder, ``version`` ``"v1"`` or ``"v2"``."""

    path: Path
    version: str

    @property
    def procs_file(self) -> Path:
        """Write a pid here to move that process in (the launcher does, for itself)."""
        return self.path / "cgroup.procs"

    def _read(self, name: str) -> str:
        return (self.path / name).read_text(encoding="ascii")

    def _keyed(self, name: str) -> dict[str, int]:
        """A ``key value`` file (``memory.stat``, ``memory.events``) as a dict."""
        pairs = (line.split() for line in self._read(name).splitlines())
        return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}

    def memory_mb(self) -> float:
        """Anonymous plus shared memory (tmpfs, memfd, SysV) charged to the run, in MB.

        Page cache of files merely read is left out: the kernel reclaims it before it would
        kill anything, so it is no memory the student holds.
        """
        stat = self._keyed("memory.stat")
        if self.version == "v2":
            return (stat.get("anon", 0) + stat.get("shmem", 0)) / MB
        return (stat.get("total_rss", 0) + stat.get("total_shmem", 0)) / MB

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer ended in this cgroup so far."""
        with contextlib.suppress(OSError):
            name = "memory.events" if self.version == "v2" else "memory.oom_control"
            return self._keyed(name).get("oom_kill", 0)
        return 0

    def remove(self, timeout_s: float = 5.0) -> None:
        """Delete the cgroup once its processes are gone (they are reaped before this)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError as exc:  # EBUSY: a process of the run is still exiting
                if time.monotonic() > deadline:
                    log.warning("could not remove the memory cgroup %s: %s", self.path, exc)
                    return
                time.sleep(0.02)


def create_memory_cgroup(name: str, limit_mb: int) -> MemoryCgroup | None:
    """A new cgroup ``name`` under the grader's own, limited to ``limit_mb`` plus headroom (MB).

    None (with the reason logged) where this machine offers no writable memory cgroup.
    """
    limit = (limit_mb + HARD_LIMIT_HEADROOM_MB) * MB
    for version in ("v2", "v1"):
        try:
            parent = _locate(version)
            if parent is None:
                continue
            if version == "v2":
                enabled = (parent / "cgroup.subtree_control").read_text(encoding="ascii").split()
                if "memory" not in enabled:
                    continue
            folder = parent / name
            folder.mkdir(mode=0o755)
        except OSError as exc:
            log.info("no %s memory cgroup: %s", version, exc)
            continue
        group = MemoryCgroup(folder, version)
        try:
            if version == "v2":
                (folder / "memory.max").write_text(str(limit))
                with contextlib.suppress(OSError):  # no swap: the file may not exist
                    (folder / "memory.swap.max").write_text("0")
            else:
                (folder / "memory.limit_in_bytes").write_text(str(limit))
                with contextlib.suppress(OSError):  # swap accounting off: no such file
                    (folder / "memory.memsw.limit_in_bytes").write_text(str(limit))
        except OSError as exc:
            log.info("could not limit the %s memory cgroup %s: %s", version, folder, exc)
            group.remove()
            continue
        return group
    return None
