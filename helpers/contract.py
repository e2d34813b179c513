"""The contract between notebooks and the grader: every name both sides must spell the same way.

One job: say, once, what a notebook and the grader share, so that nothing else spells it out.

- the names papermill injects after the ``parameters`` cell (:data:`PARAMETERS`, built by
  :func:`grading_parameters`);
- the environment variables the grader sets in the kernel (``*_ENV``);
- the cell metadata keys (``nbgrader``'s and the kit's own), read by :func:`grade_id` (the
  nbgrader id of a cell) and :func:`assembled_grade_id` (the id the grader stamped on a cell of
  the notebook it assembled, falling back to nbgrader's);
- the markers of solution and hidden-test regions, and the display mimetype of a record;
- two small utilities both sides need and must not write twice: :data:`ANSI` (terminal colour
  codes, stripped from tracebacks) and :func:`write_atomic_text` / :func:`write_atomic_json`.

It lives in :mod:`helpers` because notebooks import only ``helpers`` (and the student wheel holds
``helpers`` alone); :mod:`autograder.contract` re-exports it. Only the standard library is used.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "ANSI",
    "ASSIGNMENT_DIR_ENV",
    "BUNDLE_DIR_ENV",
    "DATA_DIR_ENV",
    "GRADING_ENV",
    "HIDDEN_END",
    "HIDDEN_MARK",
    "HIDE_ENV",
    "INPUTS_DIR_ENV",
    "KERNEL_USER_ENV",
    "KIT_KEY",
    "MARKERS",
    "NBGRADER_KEY",
    "PARAMETERS",
    "PARAMETERS_TAG",
    "RECORD_DIR_ENV",
    "RECORD_MIMETYPE",
    "SOLUTION_END",
    "SOLUTION_MARK",
    "assembled_grade_id",
    "grade_id",
    "grading_parameters",
    "kit_grade_id",
    "strip_ansi",
    "write_atomic_json",
    "write_atomic_text",
]

# --- parameters ---------------------------------------------------------------------------
#: The names the grader injects after the cell tagged :data:`PARAMETERS_TAG`, in that order.
PARAMETERS = ("GRADING", "DEVICE", "DATA_DIR", "OUTPUT_DIR", "SEED")
#: papermill's tag (and nbgrader's grade id) of the cell that holds the parameters' defaults.
PARAMETERS_TAG = "parameters"


def grading_parameters(
    *, device: str, data_dir: str | None, output_dir: str, seed: int
) -> dict[str, Any]:
    """The values papermill injects for one graded run, keyed by :data:`PARAMETERS`.

    >>> grading_parameters(device="cpu", data_dir=None, output_dir="/w/outputs", seed=0)
    {'GRADING': True, 'DEVICE': 'cpu', 'DATA_DIR': None, 'OUTPUT_DIR': '/w/outputs', 'SEED': 0}
    """
    values = (True, device, data_dir, output_dir, seed)
    return dict(zip(PARAMETERS, values, strict=True))


# --- environment variables ----------------------------------------------------------------
#: Set to "1" in a kernel the grader runs.
GRADING_ENV = "KIT_GRADING"
#: Where ``record()`` writes ``<name>.npy`` and ``index.jsonl``.
RECORD_DIR_ENV = "KIT_RECORD_DIR"
#: The folder of ``<name>.npy`` inputs ``grading_input()`` reads.
INPUTS_DIR_ENV = "KIT_GRADING_INPUTS"
#: Outside the grader: the assignment's config folder (``assignments/<a>``).
ASSIGNMENT_DIR_ENV = "KIT_ASSIGNMENT_DIR"
#: Where the datasets live (Fashion-MNIST's files, VOC), when not the default.
DATA_DIR_ENV = "KIT_DATA_DIR"
#: More paths to keep from the kernel, separated like PATH.
HIDE_ENV = "KIT_HIDE"
#: The unprivileged user a kernel runs as (a batch worker's users: this name plus a number).
KERNEL_USER_ENV = "KIT_KERNEL_USER"
#: Where the grader keeps its private bundles (default ``<kit>/build/autograder``).
BUNDLE_DIR_ENV = "KIT_BUNDLE_DIR"

# --- metadata and markers -----------------------------------------------------------------
#: nbgrader's cell metadata key (``grade_id``, ``grade``, ``solution``, ``locked``, ``points``).
NBGRADER_KEY = "nbgrader"
#: The kit's own cell metadata key, stamped by ``autograder.assemble`` (``origin``, ``grade_id``).
KIT_KEY = "kit"
SOLUTION_MARK = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
#: Region markers by kind: (begin, end).
MARKERS = {"solution": (SOLUTION_MARK, SOLUTION_END), "hidden": (HIDDEN_MARK, HIDDEN_END)}
#: Display mimetype that tells the grader (at build time) which cell made which record.
RECORD_MIMETYPE = "application/vnd.kit.record+json"


def grade_id(cell: dict) -> str | None:
    """The cell's nbgrader ``grade_id``, or None for a cell nbgrader does not manage.

    >>> grade_id({"metadata": {"nbgrader": {"grade_id": "q1"}}}), grade_id({"metadata": {}})
    ('q1', None)
    """
    return cell.get("metadata", {}).get(NBGRADER_KEY, {}).get("grade_id")


def kit_grade_id(cell: dict) -> str | None:
    """The id the grader stamped on a cell it assembled (``metadata.kit.grade_id``), or None.

    >>> kit_grade_id({"metadata": {"kit": {"grade_id": "q2"}}}), kit_grade_id({"metadata": {}})
    ('q2', None)
    """
    return cell.get("metadata", {}).get(KIT_KEY, {}).get("grade_id")


def assembled_grade_id(cell: dict) -> str | None:
    """The id the grader stamped on a cell it assembled, else the cell's nbgrader id.

    >>> assembled_grade_id({"metadata": {"kit": {"grade_id": "q2"}, "nbgrader": {"grade_id": "x"}}})
    'q2'
    """
    meta = cell.get("metadata", {})
    return meta.get(KIT_KEY, {}).get("grade_id") or meta.get(NBGRADER_KEY, {}).get("grade_id")


# --- shared utilities ---------------------------------------------------------------------
#: A terminal control sequence (colours in tracebacks, cursor moves of progress bars).
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """``text`` without terminal control sequences.

    >>> strip_ansi("\\x1b[0;31mValueError\\x1b[0m: bad")
    'ValueError: bad'
    """
    return ANSI.sub("", text)


def write_atomic_text(path: Path | str, text: str) -> None:
    """Write ``text`` to ``path`` in one step: readers see the old file or the whole new one.

    The temporary file is made beside ``path`` (``os.replace`` is atomic within one file
    system only), flushed to disk before the rename, and removed if anything fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic_json(path: Path | str, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (see :func:`write_atomic_text`)."""
    write_atomic_text(path, json.dumps(data, indent=2))
