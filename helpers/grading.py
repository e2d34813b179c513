"""The student-side grading module: what a notebook calls so that the grader can score it.

- ``record(name, value)`` and ``grading_input(name)``: what test cells call (below);
- ``read_hidden_inputs(DATA_DIR)`` and ``save_predictions(path, ids, predictions)``: what the
  prediction cell calls to read the hidden test images and write its predictions for the grader
  (re-exported from :mod:`helpers.data.hidden` and :mod:`helpers.predictions`);
- ``withheld(answer)``: a context manager a hidden test runs the student's function in, so that
  the library functions computing that answer (the kit's AP, scikit-learn's) raise there
  (re-exported from :mod:`helpers.withheld`).

This module is part of the student wheel and never imports :mod:`autograder` (the grader imports
it instead; ``autograder.record`` re-exports it for old notebooks).

Tests are data. A hidden test cell calls the student's code on inputs the grader provides and
records what came out::

    from helpers.grading import grading_input, record

    x = grading_input("scale_x")            # an array the grader draws per submission
    record("scale.out", scale(x, 2.0), rtol=1e-6)

The grader compares every record, in its own process, with what the source solution recorded on
the same inputs when the autograder was built (``python -m autograder build``). Nothing here
compares or decides: the kernel runs student code, so anything it computes could be forged. The
tolerances that count are the ones the *source* solution recorded at build time.

Record outputs of the student's code, not verdicts: ``build`` refuses a single boolean, a value
that is the same for every input draw, and a copy of an input (see ``autograder.evidence``).

Where things go is set by the grader through the kernel's environment:

- ``KIT_RECORD_DIR``: each record becomes ``<dir>/<name>.npy`` (saved without pickle) and a line
  in ``<dir>/index.jsonl``; without it (a student's own run), ``record`` only checks that the value
  can be recorded, so mistakes show up before submitting.
- ``KIT_GRADING_INPUTS``: a folder of ``<name>.npy`` inputs made by the assignment's
  ``grading_inputs.py`` (one draw of the pool ``build`` made, picked per submission).

Outside the grader (an instructor's Run All of ``source/<a>/<a>.ipynb`` in JupyterLab; no
``KIT_GRADING``, ``KIT_RECORD_DIR`` or ``KIT_GRADING_INPUTS``), the hidden tests run too:
``grading_input`` calls ``make_inputs(np.random.default_rng(seed))`` of the assignment's
``grading_inputs.py`` with the *public* ``[grading] seed`` of ``assignment.toml`` (never the
bundle's secret), and ``record`` prints what it would record and warns about a record ``build``
would refuse. The assignment is ``$KIT_ASSIGNMENT_DIR`` (``assignments/<a>``) or found from the
working folder: ``<kit>/source/<a>/`` or ``<kit>/release/<a>/`` means ``<kit>/assignments/<a>/``.
Under the grader without an inputs folder (``check``), ``grading_input`` raises instead.

Values that can be recorded: numbers, booleans, strings, NumPy arrays of those, torch tensors
(moved to the CPU), and lists/tuples that NumPy turns into such an array. A dict records each
entry as ``name.key``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from helpers.contract import (
    ASSIGNMENT_DIR_ENV,
    GRADING_ENV,
    INPUTS_DIR_ENV,
    RECORD_DIR_ENV,
    RECORD_MIMETYPE,
)
from helpers.data.hidden import read_hidden_inputs
from helpers.predictions import save_predictions
from helpers.withheld import withheld

__all__ = [
    "RecordError",
    "find_assignment_dir",
    "grading_input",
    "public_draw",
    "read_hidden_inputs",
    "record",
    "save_predictions",
    "to_recordable",
    "withheld",
]

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
        if not _under_grader():
            print(_preview(name, array, rtol, atol))
        return  # not recording: the value is recordable, nothing else to do
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
        included): under the grader, one draw of the secret pool; outside it, the draw of the
        public ``[grading] seed`` (a fresh copy each call).
    """
    _check_name(name)
    folder = os.environ.get(INPUTS_DIR_ENV)
    if not folder:
        if _under_grader():
            raise RuntimeError(
                f"grading_input({name!r}) only works while the autograder runs the notebook "
                "with its grading inputs. Hidden tests are not part of a student's check."
            )
        inputs, path = _public_inputs()
        if name not in inputs:
            raise KeyError(
                f"No grading input named {name!r}: {path} makes none. "
                f"Available: {', '.join(sorted(inputs)) or 'none'}. Add it to make_inputs."
            )
        return np.array(inputs[name], copy=True)
    path = Path(folder) / f"{name}.npy"
    if not path.is_file():
        available = sorted(p.stem for p in Path(folder).glob("*.npy"))
        raise KeyError(f"No grading input named {name!r}. Available: {', '.join(available)}.")
    return np.load(path, allow_pickle=False)


def _under_grader() -> bool:
    """Is the autograder (build, grade or check) running this kernel?"""
    return any(os.environ.get(k) for k in (GRADING_ENV, RECORD_DIR_ENV, INPUTS_DIR_ENV))


def find_assignment_dir(
    start: Path | None = None, *, skipped: list[str] | None = None
) -> Path | None:
    """``assignments/<a>`` of the kit that ``start`` (default: the working folder) lies in.

    ``$KIT_ASSIGNMENT_DIR`` wins; otherwise ``<kit>/source/<a>/...``, ``<kit>/release/<a>/...``
    and ``<kit>/assignments/<a>/...`` all mean ``<kit>/assignments/<a>`` when it holds an
    ``assignment.toml``. The deepest match wins (a kit checked out inside a folder named
    ``source`` still works).

    ``grading_input`` runs the ``grading_inputs.py`` it finds there, so a folder another user
    could have written (``assignments/`` or ``assignments/<a>/`` owned by someone else, or
    writable by everyone, as in ``/tmp``) is passed over; each one passed over adds a sentence
    to ``skipped`` when given.
    """
    if os.environ.get(ASSIGNMENT_DIR_ENV):
        return Path(os.environ[ASSIGNMENT_DIR_ENV])
    parts = (start or Path.cwd()).resolve().parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] in ("source", "release", "assignments"):
            candidate = Path(*parts[:i]) / "assignments" / parts[i + 1]
            if not (candidate / "assignment.toml").is_file():
                continue
            why = (
                _writable_by_others(candidate.parent)
                or _writable_by_others(candidate)
                or _writable_by_others(candidate / "assignment.toml")
            )
            if why is None:
                return candidate
            if skipped is not None:
                skipped.append(f"{candidate} was passed over: {why}")
    return None


def _writable_by_others(path: Path) -> str | None:
    """Why a user other than you (or root) could have put files in the folder ``path``, or
    changed the file ``path``; None if none could. Read following links, as opening it would."""
    info = path.stat()
    if info.st_uid not in (os.getuid(), 0):
        return f"{path} belongs to the user with id {info.st_uid}, not to you"
    if info.st_mode & 0o002:
        where = "in " if stat.S_ISDIR(info.st_mode) else ""
        return f"every user of this machine may write {where}{path}"
    return None


# One draw per grading_inputs.py version: Run All calls grading_input dozens of times, and an
# edit of the file (new mtime or size) must show without a kernel restart.
_PUBLIC_DRAWS: dict[tuple, dict[str, np.ndarray]] = {}


def _public_inputs() -> tuple[dict[str, np.ndarray], Path]:
    """The public draw of the assignment's grading inputs, and the file that made it."""
    skipped: list[str] = []
    config_dir = find_assignment_dir(skipped=skipped)
    if config_dir is None:
        passed_over = "".join(f" {why}." for why in skipped)
        raise RuntimeError(
            f"grading_input() outside the autograder needs the assignment: found no "
            f"assignments/<a>/assignment.toml for the working folder {Path.cwd()}.{passed_over} "
            f"Open the notebook from source/<a>/ of a kit you own, or set {ASSIGNMENT_DIR_ENV}="
            "<kit>/assignments/<a>."
        )
    file_name, seed = _public_settings(config_dir / "assignment.toml")
    path = config_dir / file_name
    # The file itself, and the folder it really lies in (it may be a link), as for the folders.
    why = None if os.environ.get(ASSIGNMENT_DIR_ENV) else (
        _writable_by_others(path) or _writable_by_others(path.resolve().parent)
    )  # fmt: skip
    if why is not None:
        raise RuntimeError(
            f"grading_input() outside the autograder would run {path}, and will not: {why}. "
            f"Use the grading_inputs.py of a kit you own, or set {ASSIGNMENT_DIR_ENV}="
            "<kit>/assignments/<a>."
        )
    info = path.stat()
    key = (str(path), info.st_mtime_ns, info.st_size, seed)
    if key not in _PUBLIC_DRAWS:
        _PUBLIC_DRAWS.clear()
        _PUBLIC_DRAWS[key] = public_draw(path, seed)
    return _PUBLIC_DRAWS[key], path


def _public_settings(config: Path) -> tuple[str, int]:
    """``[assignment] grading_inputs`` and ``[grading] seed`` of ``config``.

    Read here with :mod:`tomllib` rather than through ``autograder.config``: this module is in
    the student wheel, which must not need the grader. ``lint`` checks the whole file with the
    grader's schema; here only the two keys a public draw needs are read and checked.
    """
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise RuntimeError(f"{config} is not valid TOML: {error}") from error
    file_name = data.get("assignment", {}).get("grading_inputs")
    if not file_name:
        raise RuntimeError(
            f"{config} names no grading_inputs file: add "
            '`grading_inputs = "grading_inputs.py"` under [assignment] and write make_inputs.'
        )
    seed = data.get("grading", {}).get("seed", 0)
    if not isinstance(file_name, str) or not isinstance(seed, int) or isinstance(seed, bool):
        raise RuntimeError(
            f"{config}: [assignment] grading_inputs must be a file name and [grading] seed an "
            f"integer; got {file_name!r} and {seed!r}."
        )
    return file_name, seed


def public_draw(grading_inputs: Path, seed: int) -> dict[str, np.ndarray]:
    """``make_inputs(np.random.default_rng(seed))`` of the file ``grading_inputs``, as arrays:
    the inputs an instructor's run sees (``seed`` is the public ``[grading] seed``; ``build``
    draws its pool from a secret instead)."""
    spec = importlib.util.spec_from_file_location(f"_kit_inputs_{grading_inputs.parent.name}",
                                                  grading_inputs)  # fmt: skip
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {k: np.asarray(v) for k, v in module.make_inputs(np.random.default_rng(seed)).items()}


def _preview(name: str, array: np.ndarray, rtol: float, atol: float) -> str:
    """One line saying what ``record`` would record, plus why ``build`` would refuse it.

    >>> print(_preview("r", np.zeros((2, 3)), 1e-6, 0.0))
    record 'r': float64 (2, 3), rtol=1e-06, atol=0 (recorded when the autograder builds)
    """
    line = (
        f"record {name!r}: {array.dtype} {tuple(array.shape)}, rtol={rtol:g}, atol={atol:g} "
        "(recorded when the autograder builds)"
    )
    if array.dtype.kind == "b" and array.size <= 1:
        return (
            f"{line}\n  warning: build will refuse {name!r}: a single boolean is no evidence "
            "(a kernel can decide it without the student's code). Record the values the check "
            "is made from and keep the check as an assert."
        )
    try:
        inputs, _ = _public_inputs()
    except (RuntimeError, OSError, KeyError, ValueError):
        return line  # no assignment found: nothing to compare with
    for input_name, given in inputs.items():
        if given.shape == array.shape and np.array_equal(given, array):
            return (
                f"{line}\n  warning: build will refuse {name!r}: it equals the grading input "
                f"{input_name!r}. Record what the student's function computes from it."
            )
    return line
