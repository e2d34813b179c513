"""Process accounting from ``/proc``: the memory a kernel's processes hold, and their task count.

Where no memory cgroup counts the run's pages, :func:`memory_use_mb` sums over the kernel's
processes (:func:`kernel_pids`) their resident anonymous memory and the larger of their mapped
shared memory and the shared-memory files they hold (:func:`shared_files_mb`): memfds found
through ``/proc/PID/fd``, and the run's private tmpfs mounts (:func:`private_tmpfs_bytes`).
:func:`task_count` counts what RLIMIT_NPROC counts. Each is read from ``/proc`` directly,
cheaply enough to be polled every 0.2 s and after every cell.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import psutil

from autograder.sandbox.isolation import Isolation
from autograder.sandbox.paths import PRIVATE_TMP, world_writable_folders


def memory_use_mb(isolation: Isolation, kernel_pid: int, exact: bool = False) -> float:
    """Memory the kernel's processes hold together, in MB, read from ``/proc``.

    Over the kernel's processes, resident anonymous memory plus the larger of mapped shared
    memory and the shared-memory files they hold (:func:`shared_files_mb`). ``exact=False``
    reads RssAnon/RssShmem from ``/proc/PID/status`` (microseconds; pages forked processes share
    count once per process: an upper bound); ``exact=True`` Pss_Anon/Pss_Shmem from
    ``/proc/PID/smaps_rollup`` (shared pages split between their users; about 10 ms per GB).
    """
    name, anon_field, shmem_field = (
        ("smaps_rollup", "Pss_Anon:", "Pss_Shmem:")
        if exact
        else ("status", "RssAnon:", "RssShmem:")
    )
    anon_kb = shmem_kb = 0
    pids = kernel_pids(isolation, kernel_pid)
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
    return anon_kb / 1024 + max(shmem_kb / 1024, shared_files_mb(pids, isolation.namespaces))


def shared_files_mb(pids: Sequence[int], namespaces: bool) -> float:
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
        if namespaces and pid == pids[0]:
            total += private_tmpfs_bytes(pid, seen_mounts)
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


def private_tmpfs_bytes(pid: int, seen_mounts: set[int]) -> int:
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


def kernel_pids(isolation: Isolation, kernel_pid: int) -> list[int]:
    """The kernel and its descendants: isolated, every process of the kernel user."""
    if isolation.enabled:
        return user_pids(isolation.uid)
    try:
        kernel = psutil.Process(kernel_pid)
        return [kernel_pid] + [p.pid for p in kernel.children(recursive=True)]
    except psutil.Error:
        return []


def user_pids(uid: int | None) -> list[int]:
    """Processes of the kernel user, from ``/proc`` directly (under a millisecond)."""
    pids = []
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                try:
                    if entry.stat(follow_symlinks=False).st_uid == uid:
                        pids.append(int(entry.name))
                except OSError:  # ended meanwhile
                    pass
    return pids


def task_count(isolation: Isolation) -> int | None:
    """Processes and threads of the kernel user (what RLIMIT_NPROC counts); None if shared.

    Read from ``/proc`` directly (under a millisecond): it is asked after every cell.
    """
    if not isolation.enabled:
        return None
    count = 0
    for pid in user_pids(isolation.uid):
        with contextlib.suppress(OSError):  # ended meanwhile
            count += len(os.listdir(f"/proc/{pid}/task"))
    return count
