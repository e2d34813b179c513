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
- **GPUs.** A kernel given one GPU (``batch --gpus``) or none (a CPU worker on a GPU machine)
  gets a ``/dev`` without the other GPUs' device nodes and a ``/proc/driver/nvidia/gpus``
  without their folders, so resetting ``CUDA_VISIBLE_DEVICES`` reaches nothing
  (:mod:`~autograder.sandbox.gpus`). Without a mount namespace that cannot be done, and the
  results say so.
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

The package is cut by job, one module each (this file only re-exports their public names):

- :mod:`~autograder.sandbox.isolation`: what isolation this machine allows, and the kernel user;
- :mod:`~autograder.sandbox.paths`: what the kernel needs, what may be hidden, where anyone
  may write;
- :mod:`~autograder.sandbox.hidden_by_permissions`: hiding without namespaces, counted across
  graders;
- :mod:`~autograder.sandbox.gpus`: which GPUs' device nodes the kernel keeps;
- :mod:`~autograder.sandbox.as_user`: one step run as the kernel user, in a forked child;
- :mod:`~autograder.sandbox.leftovers`: keyrings, SysV IPC and files the kernel user leaves;
- :mod:`~autograder.sandbox.accounting`: memory and task counts from ``/proc``;
- :mod:`~autograder.sandbox.reaping`: ending every process a kernel left;
- :mod:`~autograder.sandbox.launch`: the launcher's settings and the kernel's environment;
- :mod:`~autograder.sandbox.kernel_stderr`: the first bytes of the kernel process's own stderr;
- :mod:`~autograder.sandbox.kernel_sandbox`: :class:`KernelSandbox`, set-up and tear-down.

Names with a leading underscore are private to the package (its modules import them from one
another). A test that replaces a function patches the module that looks it up, e.g.
``autograder.sandbox.isolation.probe_namespaces``: a patch of this package's re-export would not
reach the code.
"""

from __future__ import annotations

from autograder.sandbox.isolation import (
    DEFAULT_KERNEL_USER,
    Isolation,
    IsolationUnavailableError,
    plan_isolation,
    probe_namespaces,
)
from autograder.sandbox.kernel_sandbox import KERNEL_NAME, KernelSandbox, SandboxLimits
from autograder.sandbox.paths import check_hidden_paths, world_writable_folders
from autograder.sandbox.reaping import ReapedProcess

__all__ = [
    "DEFAULT_KERNEL_USER",
    "KERNEL_NAME",
    "Isolation",
    "IsolationUnavailableError",
    "KernelSandbox",
    "ReapedProcess",
    "SandboxLimits",
    "check_hidden_paths",
    "plan_isolation",
    "probe_namespaces",
    "world_writable_folders",
]
