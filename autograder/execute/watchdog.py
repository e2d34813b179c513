"""The watchdog thread: a cell's time limit (interrupt, then kill), the total deadline, the
kernel's memory, and the grader's own memory against a flooding kernel.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from autograder.execute.attempt import _Attempt
from autograder.execute.output_budget import _receive_bound_mb

log = logging.getLogger(__name__)

_WATCHDOG_TICK_S = 0.05
_MEMORY_CHECK_S = 0.2  # how often the kernel's memory is summed (a /proc scan)


class _Watchdog(threading.Thread):
    """Interrupts a cell past its time, kills a kernel that ignores it, stops at the deadline."""

    def __init__(self, attempt: _Attempt) -> None:
        super().__init__(daemon=True, name="kit-grader-watchdog")
        self.attempt = attempt
        self.done = threading.Event()
        self.next_quick = self.next_exact = 0.0
        # OOM kills the run's memory cgroup made before this attempt (an earlier attempt's).
        self.oom_kills_before = attempt.sandbox.oom_kills()

    def run(self) -> None:
        a, limits = self.attempt, self.attempt.limits
        flooded_at = _grader_rss_mb() + _receive_bound_mb(limits)
        while not self.done.wait(_WATCHDOG_TICK_S):
            now = time.monotonic()
            current = a.current
            if now >= a.deadline:
                self._halt("total-timeout", current[0] if current else None)
                return
            if a.pgid is None:
                continue
            if _grader_rss_mb() > flooded_at:  # see _receive_bound_mb
                self._halt("flood", current[0] if current else a.last_started)
                return
            if limits.memory_mb and self._over_memory(now):
                self._halt("memory", current[0] if current else a.last_started)
                return
            if current is None:
                continue
            index, started = current
            if now - started < limits.cell_timeout_s:
                continue
            if index not in a.interrupted:
                a.interrupted[index] = now
                log.info("cell %d passed its time limit: interrupting the kernel", index)
                a.sandbox.interrupt(a.pgid)
            elif now - a.interrupted[index] >= limits.interrupt_grace_s:
                self._halt("killed-after-timeout", index)
                return

    def _over_memory(self, now: float) -> bool:
        """Are the kernel's processes over the memory limit? Exact figure at most once a second.

        Where the run has a memory cgroup, the kernel's own OOM killer may strike first (its hard
        limit sits a little above the watched one) and end one of the kernel's children rather
        than the kernel: that is the limit reached too, and the kernel is stopped the same way,
        so the outcome does not depend on which of the two saw it first.
        """
        a, limit = self.attempt, self.attempt.limits.memory_mb
        if now < self.next_quick:
            return False
        self.next_quick = now + _MEMORY_CHECK_S
        if a.sandbox.oom_kills() > self.oom_kills_before:
            return True
        if a.sandbox.memory_use_mb(a.pgid) <= limit or now < self.next_exact:
            return False  # the quick figure is an upper bound: under it, all is well
        self.next_exact = now + 1.0
        a.memory_used_mb = a.sandbox.memory_use_mb(a.pgid, exact=True)
        return a.memory_used_mb > limit

    def _halt(self, reason: str, cell: int | None) -> None:
        a = self.attempt
        with a.lock:
            a.stop_reason, a.stop_cell = reason, cell
        log.info("stopping the kernel (%s, cell %s)", reason, cell)
        a.sandbox.kill_all(a.pgid)


def _grader_rss_mb() -> float:
    """The grader process's resident memory now, in MB (one read of ``/proc/self/statm``)."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
