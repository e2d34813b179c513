"""Reaping: ending every process a kernel left, and naming the ones that escaped it.

:class:`Reaper` ends the processes of one execution's kernels: with a PID namespace it reads the
census the namespace's init wrote, isolated it ends every process of the kernel user
(:func:`_kill_every_process_of`, ``kill(-1, SIGKILL)`` from a child that has become the user, so
a fork bomb cannot outrun it), and without isolation every process carrying the execution's token
(:data:`TOKEN_VARIABLE`) in its environment. It collects zombies too (the grader is the
subreaper of its kernels' orphans, :func:`become_subreaper`). A process is named in reports by
its short name, pid and state only (:class:`ReapedProcess`): its command line and environment
may hold secrets.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from autograder.sandbox.as_user import in_child_as
from autograder.sandbox.isolation import Isolation

log = logging.getLogger(__name__)

#: Environment variable carrying the execution's token: the reaper's handle when not isolated.
TOKEN_VARIABLE = "KIT_GRADER_RUN"
#: How many leftover processes a census may name, and how many bytes of it are read.
CENSUS_MAX_BYTES = 64 * 1024
PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class ReapedProcess:
    """A process that was still running after the kernel ended and had to be killed.

    Named by its short command name (``comm``, at most 15 characters) and state only, never its
    argv or environment: a student's process may carry a token it found, and reports are shown.

    >>> str(ReapedProcess(7, "python3", "S"))
    'pid 7 (python3, sleeping)'
    """

    pid: int
    name: str
    state: str = ""

    def __str__(self) -> str:
        state = _STATE_WORDS.get(self.state, self.state)
        return f"pid {self.pid} ({self.name or '?'}" + (f", {state})" if state else ")")


_STATE_WORDS = {
    "R": "running",
    "S": "sleeping",
    "D": "waiting on the disk",
    "T": "stopped",
    "t": "stopped",
    "Z": "zombie",
    psutil.STATUS_RUNNING: "running",
    psutil.STATUS_SLEEPING: "sleeping",
    psutil.STATUS_DISK_SLEEP: "waiting on the disk",
    psutil.STATUS_STOPPED: "stopped",
}


@dataclass
class Reaper:
    """Ends the processes of one execution's kernels (:meth:`reap`), run after run.

    ``census`` is the root-only file where a PID namespace's init names the processes still
    running when its kernel exited; ``token`` the execution's, in every kernel's environment.
    """

    isolation: Isolation
    token: str
    census: Path
    #: How far the census has been read, and how many begun censuses have not yet ended.
    _census_read: int = field(init=False, default=0)
    _census_open: int = field(init=False, default=0)

    def reap(self, kernel_pgid: int | None = None, timeout_s: float = 10.0) -> list[ReapedProcess]:
        """End every process the kernel left; return those outside its own process group.

        Processes in the kernel's group die with the kernel as in Jupyter; the ones returned
        escaped it (a daemon, ``setsid``, ``nohup ... &``): the student should hear about them.
        Zombies are collected too: they still count against the user's process limit, and the
        next kernel must start with its whole budget (the grader is the "subreaper" of its
        kernels' orphans, so it can collect them even where PID 1 never does).
        Raises RuntimeError if some process is still alive after ``timeout_s``.
        """
        if self.isolation.namespaces:
            # Every process of the run was in its PID namespace: init's census names them all.
            reported = self._read_census()
        else:
            live, _ = self._scan()
            reported = [
                ReapedProcess(p.pid, _printable(_safe(p.name)), _safe(p.status))
                for p in live
                if _safe(lambda p=p: os.getpgid(p.pid)) != kernel_pgid
            ]
        deadline = time.monotonic() + timeout_s
        zombie_deadline = time.monotonic() + min(timeout_s, 3.0)
        while True:
            live, zombies = self._scan()
            for zombie in zombies + self._own_root_zombies():
                if _safe(zombie.ppid, None) == os.getpid():
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(zombie.pid, os.WNOHANG)
            if not live and not zombies:
                return reported
            now = time.monotonic()
            if live:
                if now > deadline:
                    raise RuntimeError(
                        f"Could not end the kernel's processes within {timeout_s:g} s: "
                        + ", ".join(str(p.pid) for p in live)
                    )
                if self.isolation.enabled:
                    _kill_every_process_of(self.isolation.uid, self.isolation.gid)
                else:
                    for p in live:
                        with contextlib.suppress(psutil.Error):
                            p.kill()
            elif now > zombie_deadline:  # another parent holds them; it is not ours to wait
                held = sorted({_safe(z.ppid, None) for z in zombies} - {None})
                log.warning("zombie processes of the kernel user remain (parents %s)", held)
                return reported
            time.sleep(0.01)

    def _read_census(self, timeout_s: float = 3.0) -> list[ReapedProcess]:
        """Processes a namespace's init found still running when its kernel exited (not yet read).

        Each launch writes ``{"begin": true}`` before it forks init, and init ``{"end": true}``
        after its census: this waits (up to ``timeout_s``) until every begun census has ended,
        since the kernel manager sees the kernel gone before init has written. The file is
        root's (the kernel user cannot write it); its entries still describe the student's
        processes, so each is checked and cut to size, and at most ``CENSUS_MAX_BYTES`` are read
        per call.
        """
        found: list[ReapedProcess] = []
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with open(self.census, "rb") as f:
                    f.seek(self._census_read)
                    data = f.read(CENSUS_MAX_BYTES)
            except OSError:
                return found
            whole = data[: data.rfind(b"\n") + 1]
            self._census_read += len(whole)
            for line in whole.splitlines():
                try:
                    entry = json.loads(line)
                    if entry.get("begin") or entry.get("end"):
                        self._census_open += 1 if entry.get("begin") else -1
                        continue
                    pid, name, state = int(entry["pid"]), str(entry["name"]), str(entry["state"])
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
                if entry.get("escaped"):
                    found.append(ReapedProcess(pid, _printable(name), state[:1]))
            if self._census_open <= 0 or time.monotonic() > deadline:
                self._census_open = 0  # an init that was killed never writes its end
                return found
            time.sleep(0.01)

    def _own_root_zombies(self) -> list[psutil.Process]:
        """Zombie children of the grader owned by root: a namespace's init, when the launcher
        was killed with it (init is then adopted by the grader, its subreaper)."""
        if not self.isolation.namespaces:
            return []
        me = os.getpid()
        found = []
        for p in psutil.process_iter(["ppid", "status", "uids"]):
            info = p.info
            root = bool(info["uids"]) and info["uids"].real == 0
            if info["ppid"] == me and info["status"] == psutil.STATUS_ZOMBIE and root:
                found.append(p)
        return found

    def _scan(self) -> tuple[list[psutil.Process], list[psutil.Process]]:
        """(live processes, zombies) that belong to this execution's kernel."""
        live, zombies = [], []
        if self.isolation.enabled:
            uid = self.isolation.uid
            for p in psutil.process_iter(["uids", "status"]):
                uids = p.info["uids"]
                if uids and uid in (uids.real, uids.effective, uids.saved):
                    (zombies if p.info["status"] == psutil.STATUS_ZOMBIE else live).append(p)
            return live, zombies
        me = os.getpid()
        for p in psutil.process_iter(["uids", "status"]):
            if p.pid == me or (p.info["uids"] and p.info["uids"].real != os.getuid()):
                continue
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue  # not isolated: our own zombies are Popen's business
            env = _safe(p.environ, {})
            if env.get(TOKEN_VARIABLE) == self.token:
                live.append(p)
        return live, zombies


def _printable(name: str) -> str:
    """A process's short name as a report may show it: 15 printable characters at most.

    The student chooses it (``prctl(PR_SET_NAME)``): no control character or escape code
    reaches the results.

    >>> _printable("evil\\x1b[31m\\nname-longer-than-15")
    'evil?[31m?name-'
    """
    return "".join(c if c.isprintable() else "?" for c in name[:15])


def _safe(getter, default=""):
    """``getter()``, or ``default`` when the process is gone or not readable."""
    try:
        return getter()
    except (psutil.Error, OSError):
        return default


@functools.cache
def become_subreaper() -> bool:
    """Make this process adopt its descendants' orphans (``PR_SET_CHILD_SUBREAPER``), once.

    A kernel's children outlive it as orphans; adopted by the grader rather than PID 1 (which in
    a container may never collect them), they can be collected before the next kernel starts.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _kill_every_process_of(uid: int, gid: int) -> None:
    """``kill(-1, SIGKILL)`` as ``uid``: the kernel ends all of the user's processes in one step.

    Done in a forked child that becomes the user, so the signal reaches exactly that user's
    processes (and cannot miss children forked while a list is being walked).
    """

    def kill_all() -> int:
        os.kill(-1, signal.SIGKILL)  # all processes we may signal, except ourselves
        return 0

    in_child_as(uid, gid, kill_all)
