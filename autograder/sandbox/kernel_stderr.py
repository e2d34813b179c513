"""The kernel process's own stderr: its first bytes kept, the rest drained and dropped.

Not the notebook's output (that comes over the kernel's channels) but file descriptor 2 of the
kernel process: tracebacks from the launcher or from ipykernel itself when the kernel cannot
start, which the start-up error quotes.
"""

from __future__ import annotations

import os
import threading

#: How much of the kernel process's own stderr is kept (start-up errors are the first lines).
STDERR_KEEP_BYTES = 64 * 1024


class _StderrTail(threading.Thread):
    """Drains the kernel process's own stderr, keeping the first bytes (start-up errors).

    The kernel's stdout and stderr as seen by Python go to the notebook; this is the process's
    file descriptor 2 (tracebacks from the launcher or from ipykernel itself). Keeping only a head
    means a process that floods it costs the grader no memory.
    """

    def __init__(self, read_fd: int) -> None:
        super().__init__(daemon=True, name="kit-grader-kernel-stderr")
        self._fd = read_fd
        self.head = bytearray()

    def run(self) -> None:
        with os.fdopen(self._fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                if len(self.head) < STDERR_KEEP_BYTES:
                    self.head += chunk[: STDERR_KEEP_BYTES - len(self.head)]

    def text(self) -> str:
        return self.head.decode("utf-8", "replace")
