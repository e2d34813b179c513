"""Isolation planning: what the sandbox can do on this machine, and the kernel's user.

:func:`plan_isolation` decides, once per execution, whether the kernel runs as an unprivileged
user (root only; the user is created when missing) and whether it gets its own network, mount,
IPC and PID namespaces (:func:`probe_namespaces` asks the launcher itself) or, where namespaces
are refused, file permissions only. The answer is an :class:`Isolation`, which reports quote.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pwd
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.contract import KERNEL_USER_ENV

#: The kernel's user; ``KIT_KERNEL_USER`` picks another, so that gradings that run at the same
#: time (batch workers, several checkouts on one machine) each reap only their own processes.
DEFAULT_KERNEL_USER = os.environ.get(KERNEL_USER_ENV) or "kitgrader"
#: The kernel's launcher, a script run by path (``python -I -S``): it stays beside the package.
LAUNCHER = Path(__file__).parents[1] / "kernel_launcher.py"


class IsolationUnavailableError(RuntimeError):
    """Isolation was required (``isolate=True``) but this machine cannot provide it."""


@dataclass(frozen=True)
class Isolation:
    """What the sandbox does on this machine, in plain words for reports.

    ``enabled`` is True when the kernel runs as ``user`` (uid ``uid``); ``network_off`` when it
    lives in an empty network namespace; ``hidden_by`` says how hidden paths are protected
    (``"mount namespace"``, ``"file permissions"`` or None: not at all); ``reasons`` say why a part
    is off.

    >>> Isolation(enabled=False, reasons=("not running as root",)).describe()
    'isolation is off: not running as root'
    """

    enabled: bool
    user: str | None = None
    uid: int | None = None
    gid: int | None = None
    network_off: bool = False
    hidden_by: str | None = None
    reasons: tuple[str, ...] = ()

    @property
    def namespaces(self) -> bool:
        return self.enabled and self.hidden_by == "mount namespace"

    def describe(self) -> str:
        """One line: what the kernel runs as and what it can reach."""
        if not self.enabled:
            return "isolation is off: " + "; ".join(self.reasons or ("not requested",))
        parts = [f"kernel runs as user {self.user!r} (uid {self.uid})"]
        parts.append("no network" if self.network_off else "network reachable")
        parts.append(f"hidden paths covered by {self.hidden_by}")
        text = "isolation is on: " + ", ".join(parts)
        return text + ("; " + "; ".join(self.reasons) if self.reasons else "")


@functools.cache
def probe_namespaces() -> tuple[bool, str | None]:
    """(can root create network and mount namespaces here?, why not). Cached per process.

    Asked of the launcher itself (``--probe``, a throw-away process), so the answer covers exactly
    what the kernel's start will try (seccomp profiles and missing CAP_SYS_ADMIN refuse it).
    """
    run = subprocess.run(
        [sys.executable, "-I", "-S", str(LAUNCHER), "--probe"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    try:
        answer = json.loads(run.stdout)
    except json.JSONDecodeError:
        return False, f"the namespace probe failed: {run.stderr.strip() or run.returncode}"
    return bool(answer["namespaces"]), answer.get("error")


def _is_root() -> bool:
    return os.geteuid() == 0


def plan_isolation(isolate: bool | None, user: str = DEFAULT_KERNEL_USER) -> Isolation:
    """Decide what isolation this execution gets; create ``user`` when needed.

    ``isolate=None`` isolates as far as the machine allows when running as root; ``True`` requires
    full isolation (user, no network, hidden paths) and raises :class:`IsolationUnavailableError`
    otherwise; ``False`` turns it off.
    """
    if isolate is False:
        return Isolation(enabled=False, reasons=("turned off by the caller (isolate=False)",))
    if not _is_root():
        if isolate:
            raise IsolationUnavailableError(
                "Isolation was required (isolate=True) but the grader is not running as root "
                f"(uid {os.geteuid()}). Run the grader as root, or pass isolate=None to grade "
                "without isolation."
            )
        return Isolation(enabled=False, reasons=("not running as root",))
    entry = _ensure_user(user)
    ok, why = probe_namespaces()
    if not ok:
        if isolate:
            raise IsolationUnavailableError(
                "Isolation was required (isolate=True) but this machine refuses new network and "
                f"mount namespaces ({why}). In a container, grant CAP_SYS_ADMIN (or run it "
                "--privileged), or pass isolate=None to isolate by user and file permissions only."
            )
        return Isolation(
            enabled=True,
            user=user,
            uid=entry.pw_uid,
            gid=entry.pw_gid,
            network_off=False,
            hidden_by="file permissions",
            reasons=(f"no network or mount namespace: {why}",),
        )
    return Isolation(
        enabled=True,
        user=user,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        network_off=True,
        hidden_by="mount namespace",
    )


def _ensure_user(name: str) -> pwd.struct_passwd:
    """The passwd entry of ``name``; created if missing (system user, own group, no home)."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    nologin = next(
        (s for s in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false") if os.path.exists(s)),
        "/bin/false",
    )
    command = ["useradd", "--system", "--user-group", "--no-create-home"]
    command += ["--home-dir", "/nonexistent", "--shell", nologin, name]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise IsolationUnavailableError(
            f"The kernel user {name!r} does not exist and `useradd` is not installed to create "
            f"it. Create it yourself (e.g. `useradd --system --user-group {name}`)."
        ) from exc
    except subprocess.CalledProcessError as exc:
        if "already exists" not in exc.stderr:  # another grader created it meanwhile
            raise IsolationUnavailableError(
                f"Could not create the kernel user {name!r}: {exc.stderr.strip()}"
            ) from exc
    return pwd.getpwnam(name)
