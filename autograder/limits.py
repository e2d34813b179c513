"""Resource limits for one submission's kernel (``[limits]`` in ``assignment.toml``).

Kept apart from ``autograder.execute`` so that reading a configuration does not import the
execution machinery (papermill, ZeroMQ).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """What one execution may use. Times in seconds, sizes in MB (2**20 bytes).

    >>> Limits(cell_timeout_s=0)
    Traceback (most recent call last):
    ...
    ValueError: Limits.cell_timeout_s must be a positive number of seconds, got 0.
    """

    cell_timeout_s: float = 300.0
    total_timeout_s: float = 900.0
    #: The kernel and its child processes together (resident memory, watched), and each process
    #: (RLIMIT_DATA, where no GPU is visible); see autograder.sandbox. None: no limit.
    memory_mb: int | None = 4096
    #: Processes and threads of the kernel user together (RLIMIT_NPROC); only when isolated.
    max_processes: int | None = 256
    #: Text kept per cell (stdout, stderr, text/* of displays, tracebacks); the rest is cut.
    max_output_chars: int = 100_000
    #: Everything kept in the notebook's outputs together (figures included).
    max_notebook_output_mb: float = 32.0
    #: Largest file the kernel may write (RLIMIT_FSIZE); None: no limit.
    max_file_mb: int | None = 4096
    #: Everything the kernel writes to its HOME together (a tmpfs of that size, see
    #: autograder.disk.capped_folder); None: bounded per file only.
    disk_mb: int | None = 1024
    #: Largest file of the submission the grader copies for the kernel (e.g. trained weights);
    #: a larger one is refused with a note before a byte of it is read.
    max_submitted_file_mb: int = 256
    #: Fresh kernels started after a kernel died or had to be killed.
    max_restarts: int = 3
    #: How long an interrupted cell has to stop before the kernel is killed.
    interrupt_grace_s: float = 5.0
    #: How long a kernel may take to start (also bounded by the total time left).
    startup_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("cell_timeout_s", "total_timeout_s", "interrupt_grace_s", "startup_timeout_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(
                    f"Limits.{name} must be a positive number of seconds, got {value!r}."
                )
        for name in ("memory_mb", "max_processes", "max_file_mb", "disk_mb"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value > 0):
                raise ValueError(f"Limits.{name} must be a positive int or None, got {value!r}.")
        if not (isinstance(self.max_submitted_file_mb, int) and self.max_submitted_file_mb > 0):
            raise ValueError(
                "Limits.max_submitted_file_mb must be a positive int, "
                f"got {self.max_submitted_file_mb!r}."
            )
        if not (isinstance(self.max_output_chars, int) and self.max_output_chars > 0):
            raise ValueError(
                f"Limits.max_output_chars must be a positive int, got {self.max_output_chars!r}."
            )
        if not self.max_notebook_output_mb > 0:
            raise ValueError(
                "Limits.max_notebook_output_mb must be positive, "
                f"got {self.max_notebook_output_mb!r}."
            )
        if not (isinstance(self.max_restarts, int) and self.max_restarts >= 0):
            raise ValueError(f"Limits.max_restarts must be an int >= 0, got {self.max_restarts!r}.")
