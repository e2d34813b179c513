"""One step run as the kernel user: a forked child that becomes the user, acts and exits.

Some calls act on the caller's own identity: ``kill(-1, sig)`` signals every process the
caller may signal, ``keyctl`` on the special keyring ids resolves to the caller's own keyrings.
Done from a child that has become the kernel user, they reach exactly that user's processes
and keyrings, and the grader itself never changes identity.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def in_child_as(uid: int, gid: int, action: Callable[[], int]) -> int:
    """Run ``action`` in a forked child that has become ``uid``/``gid`` for good (no
    supplementary groups; real, effective and saved ids all set); return the child's exit code:
    what ``action`` returned, or 1 where becoming the user or the action raised.

    The child ends in ``os._exit`` whatever happens: it never returns into the grader's code.
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process, ends in os._exit
        code = 1
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            code = action()
        except BaseException:
            pass
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
