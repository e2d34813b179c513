"""What test cells call inside the notebook: ``record(name, value)`` and ``grading_input(name)``.

Tests are data. A hidden test cell calls the student's code on inputs the grader provides and
records what came out::

    from autograder.record import grading_input, record

    x, w, b = grading_input("affine_x"), grading_input("affine_w"), grading_input("affine_b")
    out, _ = affine_forward(x, w, b)
    record("affine_forward.out", out, rtol=1e-6)

The grader compares every record, in its own process, with what the source solution recorded on
the same inputs when the autograder was built (``python -m autograder build``). Nothing here
compares or decides: the kernel runs student code, so anything it computes could be forged. The
tolerances that count are the ones the *source* solution recorded at build time.

Record outputs of the student's code, not verdicts: ``build`` refuses a single boolean, a value
that is the same for every input draw, and a copy of an input (see :mod:`autograder.evidence`).

Where things go is set by the grader through the kernel's environment:

- ``KIT_RECORD_DIR``: each record becomes ``<dir>/<name>.npy`` (saved without pickle) and a line
  in ``<dir>/index.jsonl``; without it (a student's own run), ``record`` only checks that the value
  can be recorded, so mistakes show up before submitting.
- ``KIT_GRADING_INPUTS``: a folder of ``<name>.npy`` inputs made by the assignment's
  ``grading_inputs.py`` (one draw of the pool ``build`` made, picked per submission); without it,
  ``grading_input`` says it only works under the autograder.

Values that can be recorded: numbers, booleans, strings, NumPy arrays of those, torch tensors
(moved to the CPU), and lists/tuples that NumPy turns into such an array. A dict records each
entry as ``name.key``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RecordError", "grading_input", "record", "to_recordable"]

RECORD_DIR_ENV = "KIT_RECORD_DIR"
INPUTS_DIR_ENV = "KIT_GRADING_INPUTS"
#: Display mimetype that tells the grader (at build time) which cell made which record.
RECORD_MIMETYPE = "application/vnd.kit.record+json"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


class RecordError(TypeError):
    """A value cannot be recorded; the message says what was given and what would work."""


def to_recordable(value: Any, name: str = "value") -> np.ndarray:
    """Convert ``value`` to a NumPy array that can be saved without pickle.

    >>> [to_recordable(v).dtype.kind for v in (3, 2.5, [True], "cat")]
    ['i', 'f', 'b', 'U']
    """
    if hasattr(value, "detach") and hasattr(
        value, "cpu"
    ):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged lists
        raise RecordError(
            f"record({name!r}, ...): could not turn the value into an array ({error}). "
            "Record numbers, strings, arrays or tensors; for ragged lists record each item."
        ) from error
    if array.dtype.kind not in "biufcUS":
        raise RecordError(
            f"record({name!r}, ...) got a value of type {type(value).__name__} "
            f"(array dtype {array.dtype}). Record numbers, booleans, strings, NumPy arrays or "
            "torch tensors. Hint: check that your function returns what its docstring says, "
            "not None or a Python object."
        )
    return array


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            f"Record name {name!r} is not valid: use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter, digit or '_'."
        )


def record(name: str, value: Any, *, rtol: float = 1e-5, atol: float = 1e-8) -> None:
    """Record ``value`` under ``name`` for the grader to compare with the expected result.

    Args:
        name: unique within the assignment, e.g. ``"affine_forward.out"``.
        value: a number, string, array or tensor (a dict records each entry as ``name.key``).
        rtol, atol: the tolerance of ``numpy.allclose`` for this record. Only the values the
            source solution gives when the autograder is built count.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            record(f"{name}.{key}", item, rtol=rtol, atol=atol)
        return
    _check_name(name)
    array = to_recordable(value, name)
    folder = os.environ.get(RECORD_DIR_ENV)
    if not folder:
        return  # not grading: the value is recordable, nothing else to do
    folder = Path(folder)
    np.save(folder / f"{name}.npy", array, allow_pickle=False)
    entry = {"name": name, "rtol": float(rtol), "atol": float(atol)}
    with open(folder / "index.jsonl", "a") as index:
        index.write(json.dumps(entry) + "\n")
    _announce(name)


def _announce(name: str) -> None:
    """Tell the executed notebook which cell made this record (used when building)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display({RECORD_MIMETYPE: {"name": name}}, raw=True)


def grading_input(name: str) -> np.ndarray:
    """The input named ``name`` that the grader provides to a hidden test.

    Returns:
        The array exactly as the assignment's ``grading_inputs.py`` made it (shape and dtype
        included).
    """
    _check_name(name)
    folder = os.environ.get(INPUTS_DIR_ENV)
    if not folder:
        raise RuntimeError(
            f"grading_input({name!r}) only works while the autograder runs the notebook. "
            "To run the hidden tests yourself, instructors use "
            "`python -m autograder build <assignment>`."
        )
    path = Path(folder) / f"{name}.npy"
    if not path.is_file():
        available = sorted(p.stem for p in Path(folder).glob("*.npy"))
        raise KeyError(f"No grading input named {name!r}. Available: {', '.join(available)}.")
    return np.load(path, allow_pickle=False)
