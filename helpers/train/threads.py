"""How many CPU threads torch trains with: few enough to stay fast on a shared machine.

torch's default is one thread per physical core. When other processes keep those cores busy,
its threads wait for each other at every operation and training collapses: BaseNet's 3 epochs
took 6.9 s on an idle 2-core machine and 183-244 s on a busy one, where one thread was 4x faster
than two (``python bench/threads.py`` measures it). So the first ``fit``, ``evaluate`` or
``predict`` on the CPU picks a count from the cores this process may use and the load average,
says so in one line, and keeps it.
"""

from __future__ import annotations

import math
import os
import sys

import torch

# torch's own choice when this module was imported: a different count at ``fit`` time means the
# user called ``torch.set_num_threads`` and their choice stands.
_TORCH_DEFAULT_THREADS = torch.get_num_threads()
# Environment variables that already fixed torch's thread count when torch started.
_USER_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
# The kit's own override: KIT_NUM_THREADS=n trains with n threads whatever the load.
KIT_THREADS_VARIABLE = "KIT_NUM_THREADS"

_chosen: int | None = None


def _available_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's or Slurm's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def _physical_cores() -> int | None:
    """Physical cores of the machine; None where psutil (not in the student wheel) is missing."""
    try:
        import psutil
    except ImportError:
        return None
    return psutil.cpu_count(logical=False)


def _load_average() -> float | None:
    """The 1-minute load average (runnable processes, machine-wide); None where unknown."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def pick_cpu_threads(
    *,
    available: int | None = None,
    physical: int | None = None,
    logical: int | None = None,
    load: float | None = None,
) -> int:
    """The number of torch threads that stays fast here: at most one per physical core this
    process may use, and no more than the machine's idle cores (logical cores minus the 1-minute
    load average, rounded), but at least 1. Arguments default to what this machine reports.

    >>> pick_cpu_threads(available=2, physical=2, logical=2, load=0.3)  # idle 2-core machine
    2
    >>> pick_cpu_threads(available=2, physical=2, logical=2, load=5.6)  # busy: threads would wait
    1
    >>> pick_cpu_threads(available=16, physical=8, logical=16, load=10.0)
    6
    """
    available = _available_cores() if available is None else available
    physical = _physical_cores() if physical is None else physical
    logical = (os.cpu_count() or available) if logical is None else logical
    load = _load_average() if load is None else load
    threads = min(available, physical or available)
    if load is not None:
        idle = math.floor(logical - load + 0.5)
        threads = min(threads, idle)
    return max(1, threads)


def configure_cpu_threads(device: torch.device) -> int | None:
    """Before the first ``fit``, ``evaluate`` or ``predict`` on the CPU: set torch's thread
    count (``pick_cpu_threads``, or ``$KIT_NUM_THREADS``) and print one line saying so (on
    stderr). Later calls, other devices, and a count the user fixed (``OMP_NUM_THREADS``,
    ``MKL_NUM_THREADS``, ``torch.set_num_threads``) change nothing. Returns the count this call
    set, or None."""
    global _chosen
    if _chosen is not None or device.type != "cpu":
        return None
    requested = os.environ.get(KIT_THREADS_VARIABLE, "").strip()
    user_fixed = torch.get_num_threads() != _TORCH_DEFAULT_THREADS or any(
        os.environ.get(name) for name in _USER_THREAD_VARIABLES
    )
    if user_fixed and not requested:
        _chosen = torch.get_num_threads()
        return None
    if requested:
        if not requested.isdigit() or int(requested) < 1:
            raise ValueError(
                f"{KIT_THREADS_VARIABLE}={requested!r} is not a thread count. "
                f"Set it to a whole number such as 1 or 2, or unset it to let the kit choose."
            )
        threads, why = int(requested), f"as {KIT_THREADS_VARIABLE} asks"
    else:
        threads = pick_cpu_threads()
        load = _load_average()
        why = f"{_available_cores()} cores available" + (
            "" if load is None else f", load average {load:.1f}"
        )
    torch.set_num_threads(threads)
    _chosen = threads
    print(
        f"helpers.train: running on the CPU with {threads} torch thread"
        f"{'' if threads == 1 else 's'} ({why}); "
        f"set {KIT_THREADS_VARIABLE}=n or call torch.set_num_threads(n) to choose another.",
        file=sys.stderr,
    )
    return threads
