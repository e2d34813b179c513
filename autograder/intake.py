"""Intake: find the submitted notebook and read it, whatever arrived.

Nothing here is fatal. A submission that is not JSON, not a notebook, wrongly named or missing
is graded as the blank release would be, so the results still list every test with a plain
message; each finding is a sentence in ``Intake.notes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["MAX_NOTEBOOK_BYTES", "Intake", "read_submission"]

#: A notebook larger than this is not read (outputs of a runaway loop, embedded data sets).
MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024


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
    return {
        c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for c in nb.get("cells", [])
        if isinstance(c, dict)
    } - {None}


def _read(path: Path) -> tuple[nbformat.NotebookNode | None, str | None]:
    """The notebook at ``path``, or ``None`` and a sentence saying why not."""
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return None, (
            f"{path.name} is {size / 2**20:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 2**20} MB "
            "limit. Clear the outputs (Edit > Clear Outputs of All Cells) and submit again."
        )
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, f"{path.name} is not a text file, so it cannot be a notebook."
    except json.JSONDecodeError as error:
        return None, (
            f"{path.name} is not valid notebook JSON ({error.msg} at line {error.lineno}). "
            "It may have been edited as text or cut short; open it in JupyterLab, save it and "
            "submit again."
        )
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None, f"{path.name} is JSON but not a Jupyter notebook (it has no list of cells)."
    try:
        nb = nbformat.from_dict(data)
        if nb.get("nbformat", 4) < 4:
            nb = nbformat.convert(nb, 4)
    except Exception as error:
        return None, f"{path.name} could not be read as a notebook: {error}"
    cells = []
    for cell in nb.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue  # a broken cell is dropped; its grade_id (if any) is then 'deleted'
        cell.setdefault("metadata", {})
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        if not isinstance(cell.get("source"), str):
            cell["source"] = ""
        cells.append(cell)
    nb.cells = cells
    return nb, None


def read_submission(
    submission: Path, expected_name: str, known_grade_ids: set[str] | None = None
) -> Intake:
    """Find and read the notebook ``expected_name`` in ``submission`` (a folder or a notebook).

    When the expected name is absent, the ``.ipynb`` that shares the most ``grade_id``s with the
    assignment (``known_grade_ids``) is used instead, and the notes say so.
    """
    intake = Intake(expected_name)
    submission = Path(submission)
    if submission.is_file():
        candidates = [submission]
    elif submission.is_dir():
        exact = submission / expected_name
        candidates = [exact] if exact.is_file() else sorted(
            p for p in submission.rglob("*.ipynb")
            if ".ipynb_checkpoints" not in p.parts and p.is_file()
        )  # fmt: skip
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
