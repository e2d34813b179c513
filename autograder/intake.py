"""Intake: find the submitted notebook and read it, whatever arrived.

Nothing here is fatal. A submission that is not JSON, not a notebook, wrongly named or missing
is graded as the blank release would be, so the results still list every test with a plain
message; each finding is a sentence in ``Intake.notes``.

Everything is bounded before it is parsed deeply: a notebook that is a link (or not a regular
file) is refused unread, its size is checked before reading, its JSON nesting before
``json.loads``, its number of cells and each cell's size before nbformat sees it. The search for
a notebook in a submission folder never follows a linked folder and never recurses in Python.
nbformat 3 notebooks are converted to 4; a UTF-8 byte-order mark is allowed.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from nbformat.v3.rwbase import rejoin_lines as rejoin_v3_lines

from autograder.contract import grade_id
from autograder.safe_fs import UnsafeFileError, read_file

__all__ = [
    "MAX_CELLS",
    "MAX_CELL_CHARS",
    "MAX_JSON_CONTAINERS",
    "MAX_JSON_DEPTH",
    "MAX_NOTEBOOK_BYTES",
    "Intake",
    "read_submission",
]

#: A notebook larger than this is not read (outputs of a runaway loop, embedded data sets).
MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024
#: Cells a notebook may have (the course's notebooks have a few hundred at most).
MAX_CELLS = 2_000
#: Characters of source one cell may hold.
MAX_CELL_CHARS = 1_000_000
#: How deeply a notebook's JSON may nest (a notebook needs about 10; json and nbformat recurse).
MAX_JSON_DEPTH = 64
#: Arrays and objects a notebook's JSON may hold. Parsing costs a few hundred bytes of memory
#: per one ("{}," x 30 million took 16 GB); a course notebook with all its outputs has tens of
#: thousands.
MAX_JSON_CONTAINERS = 200_000
#: Entries looked at, and folder levels gone down, when searching a submission folder.
MAX_SEARCH_ENTRIES = 10_000
MAX_SEARCH_DEPTH = 16

# A JSON string, written as an unrolled loop so that re matches it in one pass.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Intake:
    """What was found in a submission for one expected notebook.

    ``notebook`` is ``None`` when nothing usable arrived; ``notes`` say what happened, in words a
    student understands.
    """

    expected_name: str
    path: Path | None = None
    notebook: nbformat.NotebookNode | None = None
    notes: list[str] = field(default_factory=list)


def _grade_ids(nb: nbformat.NotebookNode) -> set[str]:
    return {grade_id(c) for c in nb.get("cells", []) if isinstance(c, dict)} - {None}


def json_shape(text: str) -> tuple[int, int]:
    """How deeply ``text``'s arrays and objects nest, and how many there are, without parsing
    it (no recursion, no Python object per container).

    Strings are cut out first (a bracket inside one does not count), then the brackets left
    are counted with a running sum.

    >>> json_shape('{"a": [1, {"b": "[[["}]}'), json_shape("[]"), json_shape("3")
    ((3, 3), (1, 1), (0, 0))
    """
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    if not brackets:
        return 0, 0
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    return int(np.cumsum(np.where(opens, 1, -1)).max()), int(opens.sum())


def json_depth(text: str) -> int:
    """How deeply ``text``'s arrays and objects nest (see :func:`json_shape`).

    >>> json_depth('{"a": [1, {"b": "[[["}]}')
    3
    """
    return json_shape(text)[0]


def _cells_of(data: dict) -> list | None:
    """The raw cells of a notebook's JSON: ``cells`` (nbformat 4), or every worksheet's (3)."""
    if isinstance(data.get("cells"), list):
        return data["cells"]
    if data.get("nbformat") == 3 and isinstance(data.get("worksheets"), list):
        sheets = [ws.get("cells") for ws in data["worksheets"] if isinstance(ws, dict)]
        return [cell for cells in sheets if isinstance(cells, list) for cell in cells]
    return None


def _source_chars(cell: object) -> int:
    """Characters of a raw cell's source (``source``, or ``input`` in nbformat 3)."""
    if not isinstance(cell, dict):
        return 0
    source = cell.get("source", cell.get("input", ""))
    if isinstance(source, list):
        return sum(len(s) for s in source if isinstance(s, str))
    return len(source) if isinstance(source, str) else 0


def _read(path: Path) -> tuple[nbformat.NotebookNode | None, str | None]:
    """The notebook at ``path``, or ``None`` and a sentence saying why not."""
    try:
        raw = read_file(path, MAX_NOTEBOOK_BYTES)
    except UnsafeFileError as error:
        message = str(error)
        if "byte limit" in message:
            return None, (
                f"{message} Clear the outputs (Edit > Clear Outputs of All Cells) and submit again."
            )
        return None, f"{message} Submit the notebook file itself."
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark some editors write is fine
    except UnicodeDecodeError:
        return None, f"{path.name} is not a text file, so it cannot be a notebook."
    del raw
    depth, containers = json_shape(text)
    if depth > MAX_JSON_DEPTH:
        return None, (
            f"{path.name} has JSON nested more than {MAX_JSON_DEPTH} levels deep, which no "
            "notebook needs; it was not read. Open it in JupyterLab, clear the outputs, save "
            "it and submit again."
        )
    if containers > MAX_JSON_CONTAINERS:
        return None, (
            f"{path.name} holds {containers:,} JSON objects and arrays, more than the "
            f"{MAX_JSON_CONTAINERS:,} a notebook may hold; it was not read. Clear the outputs "
            "(Edit > Clear Outputs of All Cells), save it and submit again."
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return None, (
            f"{path.name} is not valid notebook JSON ({error.msg} at line {error.lineno}). "
            "It may have been edited as text or cut short; open it in JupyterLab, save it and "
            "submit again."
        )
    except RecursionError:  # json_depth should have caught it; never let it end the grading
        return None, f"{path.name} has JSON nested too deeply to read; it was not read."
    raw_cells = _cells_of(data) if isinstance(data, dict) else None
    if raw_cells is None:
        return None, f"{path.name} is JSON but not a Jupyter notebook (it has no list of cells)."
    if len(raw_cells) > MAX_CELLS:
        return None, (
            f"{path.name} has {len(raw_cells):,} cells, more than {MAX_CELLS:,} cells; it was not "
            "read. Submit the assignment's notebook with your answers in its own cells."
        )
    for number, cell in enumerate(raw_cells, start=1):
        if _source_chars(cell) > MAX_CELL_CHARS:
            return None, (
                f"{path.name}: cell {number} holds {_source_chars(cell):,} characters, more than "
                f"the {MAX_CELL_CHARS:,} a cell may hold; the notebook was not read. Load large "
                "data from a file instead of pasting it into a cell."
            )
    try:
        nb = nbformat.from_dict(data)
        if nb.get("nbformat", 4) == 3:
            # On disk, nbformat 3 splits sources into lists of lines; convert() wants them whole.
            nb = nbformat.convert(rejoin_v3_lines(nb), 4)
        elif nb.get("nbformat", 4) < 4:
            nb = nbformat.convert(nb, 4)
    except Exception as error:
        return None, f"{path.name} could not be read as a notebook: {error}"
    cells = []
    for cell in nb.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue  # a broken cell is dropped; its grade_id (if any) is then 'deleted'
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
        # grade_ids are hashed and matched later: nbgrader metadata that is not an object with a
        # text grade_id makes the cell a student's own; the grade_id is then 'deleted'.
        nbgrader = cell["metadata"].get("nbgrader")
        if nbgrader is not None and not (
            isinstance(nbgrader, dict) and isinstance(nbgrader.get("grade_id", ""), str)
        ):
            del cell["metadata"]["nbgrader"]
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        if not isinstance(cell.get("source"), str):
            cell["source"] = ""
        if _LONE_SURROGATE.search(cell["source"]):
            # JSON can escape half of a UTF-16 pair ("\ud83d"); no kernel message can carry it,
            # so it becomes "?" instead of failing the whole grading.
            cell["source"] = cell["source"].encode("utf-8", "replace").decode("utf-8")
        cells.append(cell)
    nb.cells = cells
    return nb, None


def _find_notebooks(folder: Path) -> tuple[list[Path], list[str]]:
    """The ``.ipynb`` files under ``folder`` (sorted) and notes; iterative, no link followed.

    Linked folders and ``.ipynb_checkpoints`` are not entered; the search stops after
    ``MAX_SEARCH_ENTRIES`` entries or ``MAX_SEARCH_DEPTH`` levels and says so.
    """
    found: list[Path] = []
    notes: list[str] = []
    pending = [(folder, 0)]
    seen = 0
    while pending:
        here, depth = pending.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_SEARCH_ENTRIES:
                notes.append(f"The submission holds more than {MAX_SEARCH_ENTRIES:,} files; "
                             "only the first were searched for the notebook.")  # fmt: skip
                return sorted(found), notes
            if entry.is_dir(follow_symlinks=False):
                if entry.name == ".ipynb_checkpoints":
                    continue
                if depth + 1 > MAX_SEARCH_DEPTH:
                    notes.append(f"Folders more than {MAX_SEARCH_DEPTH} levels deep in the "
                                 "submission were not searched.")  # fmt: skip
                    continue
                pending.append((Path(entry.path), depth + 1))
            elif entry.name.endswith(".ipynb") and not entry.is_symlink():
                found.append(Path(entry.path))
    return sorted(found), list(dict.fromkeys(notes))


def read_submission(
    submission: Path, expected_name: str, known_grade_ids: set[str] | None = None
) -> Intake:
    """Find and read the notebook ``expected_name`` in ``submission`` (a folder or a notebook).

    When the expected name is absent, the ``.ipynb`` that shares the most ``grade_id``s with the
    assignment (``known_grade_ids``) is used instead, and the notes say so.
    """
    intake = Intake(expected_name)
    submission = Path(submission)
    try:
        kind = os.lstat(submission).st_mode
    except OSError:
        kind = 0
    if stat.S_ISDIR(kind):
        exact = submission / expected_name
        if os.path.lexists(exact):
            candidates = [exact]  # a link or a folder of that name is refused by _read, with a note
        else:
            candidates, notes = _find_notebooks(submission)
            intake.notes += notes
    elif kind:
        candidates = [submission]  # a link is refused by _read, with a note
    else:
        intake.notes.append(f"The submission {submission} does not exist.")
        return intake
    if not candidates:
        intake.notes.append(
            f"No notebook was found in the submission; expected {expected_name}. "
            "Every test is reported as not run."
        )
        return intake
    readable = []
    for path in candidates:
        nb, problem = _read(path)
        if nb is None:
            intake.notes.append(problem)
        else:
            readable.append((path, nb))
    if not readable:
        intake.notes.append("Every test is reported as not run.")
        return intake
    known = known_grade_ids or set()
    path, nb = max(readable, key=lambda item: len(_grade_ids(item[1]) & known))
    if path.name != expected_name:
        others = f" (of {len(readable)} notebooks)" if len(readable) > 1 else ""
        intake.notes.append(
            f"Expected a notebook named {expected_name} but found {path.name}{others}; "
            f"graded {path.name}. Keep the original file name next time."
        )
    intake.path, intake.notebook = path, nb
    return intake
