"""What the kernel's launcher is told: its settings (user, limits, mounts) and its environment.

:func:`launch_settings` writes down, for :mod:`autograder.kernel_launcher`, everything it needs
to build the kernel's sandbox: resource limits (RLIMIT_DATA only where no GPU is in sight,
:func:`_gpu_visible`), hidden paths, the folders it may write, the private tmpfs mounts and the
GPUs whose device nodes it keeps (:mod:`autograder.sandbox.gpus`).
:func:`kernel_environment` is the kernel's whole environment, built afresh.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.sandbox.gpus import gpu_root
from autograder.sandbox.isolation import Isolation
from autograder.sandbox.paths import (
    PRIVATE_TMP,
    _is_under,
    _paths_the_kernel_needs,
    world_writable_folders,
)
from autograder.sandbox.reaping import TOKEN_VARIABLE

if TYPE_CHECKING:
    from autograder.sandbox.kernel_sandbox import KernelSandbox


def _gpu_visible(env: dict[str, str]) -> bool:
    """Would a kernel with this (whole) environment see an NVIDIA GPU?

    >>> _gpu_visible({"CUDA_VISIBLE_DEVICES": ""})
    False
    """
    if env.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return False
    return (gpu_root() / "dev" / "nvidiactl").exists()


def launch_settings(box: KernelSandbox, env: dict[str, str]) -> dict:
    """The settings the launcher reads (JSON): who the kernel runs as, its limits, mounts,
    hidden paths and its whole environment ``env``, for the sandbox ``box`` set up so far."""
    iso = box.isolation
    gpu = box.gpu_plan
    restrict_gpus = gpu is not None and gpu.restricts and iso.namespaces
    if restrict_gpus:  # its UUIDs name the kept GPUs however CUDA numbers what it can open
        env["CUDA_VISIBLE_DEVICES"] = gpu.cuda_visible_devices()
    mb = 1024 * 1024
    lim = box.limits
    data = lim.memory_mb * mb if lim.memory_mb and not _gpu_visible(env) else None
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
        "cwd": str(box.cwd),
        "env": env,
        "hide": [str(p) for p in box.hidden],
        # Writable for the kernel; the rest of the tree is read-only in its mount namespace.
        "keep": [str(box.workdir), str(box.kernel_dir)],
        "keep_read_only": _needed_under(private),
        "private_tmp": private,
        "tmp_size_mb": max(64, lim.memory_mb // 2) if lim.memory_mb else None,
        "read_only_root": True,
        "empty_file": str(box.base / "empty") if iso.namespaces else None,
        "census": str(box.base / "census") if iso.namespaces else None,
        "cgroup_procs": str(box.cgroup.procs_file) if box.cgroup is not None else None,
        "rlimits": rlimits,
        # Only the kept GPUs' device nodes in the kernel's /dev (see autograder.sandbox.gpus).
        "gpu_devices": gpu.launcher_settings() if restrict_gpus else None,
    }


def _needed_under(folders: Sequence[str]) -> list[str]:
    """What the kernel needs (its venv, the kit's packages) that lies in a folder the sandbox
    covers with a private tmpfs, e.g. a checkout under /tmp: bound back in, like workdir."""
    needed = {str(p) for p in _paths_the_kernel_needs() if p.is_dir()}
    return sorted(p for p in needed if any(_is_under(Path(p), Path(f)) for f in folders))


def kernel_environment(
    isolation: Isolation, home: Path, token: str, kernel_env: dict[str, str] | None
) -> dict[str, str]:
    """The kernel's whole environment: the grader's is not passed on (it may hold secrets).

    ``home`` is the kernel's ``HOME``, ``token`` the execution's (the reaper's handle without
    isolation), ``kernel_env`` what the caller adds last.
    """
    env = {
        "PATH": os.pathsep.join(
            [os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp" if isolation.namespaces else str(home),
        TOKEN_VARIABLE: token,
    }
    if not isolation.namespaces:
        # ipykernel exits if the grader dies. In a PID namespace its parent is init (pid 1),
        # which ipykernel would take for "parent gone": there init dies with the grader.
        env["JPY_PARENT_PID"] = str(os.getpid())
    if isolation.enabled:
        env["USER"] = env["LOGNAME"] = str(isolation.user)
    for passed_on in ("PYTHONPATH", "CUDA_VISIBLE_DEVICES", "TORCH_HOME"):
        if passed_on in os.environ:
            env[passed_on] = os.environ[passed_on]
    if env.get("PYTHONPATH"):
        # Relative entries would name the kernel's cwd, the student's folder: a submitted
        # zmq.py would then shadow the kernel's own modules. Make them the grader's paths.
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p
        )
    env.update(kernel_env or {})
    return env
