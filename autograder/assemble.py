"""Assemble the notebook the grader runs: the student's answers, the source's everything else.

Cells are matched by nbgrader ``grade_id``. Walking the *source* in order:

- an **answer cell** (nbgrader ``solution``) takes the student's text, under the source's
  metadata (a student cannot change its points or type);
- every other **graded or locked cell** (tests, set-up, the parameters cell) is the source's
  version, hidden tests included, whatever the student did to it;
- an **editable cell** (nbgrader metadata, neither answer, graded nor locked: a setting the
  notebook invites the student to change) is the student's, like an answer; deleted or retyped,
  it comes back from the release;
- the student's **own cells** (added, or plain cells without nbgrader metadata) keep their place
  relative to the graded cell that follows them.

Every repair is reported in one format: "Cell 'q1_tests' was edited; restored from source."
Every code cell gets the ``raises-exception`` tag, so one failing cell never stops the rest, and
``metadata.kit`` records where each cell came from so scoring can find it after papermill has
inserted its parameters cell.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field

import nbformat
from nbgrader.utils import is_grade, is_locked, is_solution

from autograder.contract import KIT_KEY, grade_id

__all__ = ["Assembled", "assemble", "grade_id", "is_autograded_test"]

RAISES = "raises-exception"


def is_autograded_test(cell) -> bool:
    """A code cell with points that is not an answer: an autograded test."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def _normalised(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _fresh(cell, origin: str, gid: str | None) -> nbformat.NotebookNode:
    """A copy of ``cell`` without outputs, with a new id and the kit's origin marker."""
    cell = copy.deepcopy(cell)
    cell["id"] = uuid.uuid4().hex[:12]
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
        tags = cell.metadata.setdefault("tags", [])
        if RAISES not in tags:
            tags.append(RAISES)
    cell.metadata[KIT_KEY] = {"origin": origin, "grade_id": gid}
    return cell


def _editable(scell, theirs, released, repairs: list[str]) -> nbformat.NotebookNode:
    """An editable cell: the student's text under the source's metadata, or the release's."""
    gid = grade_id(scell)
    if theirs is None:
        repairs.append(f"Cell '{gid}' was deleted; restored from the release.")
    elif theirs.cell_type != scell.cell_type:
        theirs = None  # the "changed from ... to ..." repair is already reported
    cell = _fresh(scell, "student", gid)
    cell.source = (theirs if theirs is not None else released).source
    return cell


@dataclass
class Assembled:
    notebook: nbformat.NotebookNode
    repairs: list[str] = field(default_factory=list)


def _student_layout(student_cells, source_ids: set[str]):
    """Index the student's cells: graded ones by grade_id, their own ones by what follows."""
    matched: dict[str, nbformat.NotebookNode] = {}
    own_before: dict[str, list] = {}
    pending: list = []
    repairs: list[str] = []
    for cell in student_cells:
        gid = grade_id(cell)
        if gid in source_ids:
            if gid in matched:
                repairs.append(
                    f"Cell '{gid}' appears more than once; the first copy was graded and the "
                    "others were left out."
                )
                continue
            matched[gid] = cell
            own_before[gid], pending = pending, []
        else:
            if "nbgrader" in cell.get("metadata", {}):
                cell = copy.deepcopy(cell)
                del cell.metadata["nbgrader"]  # a pasted copy of a graded cell earns nothing
            pending.append(cell)
    return matched, own_before, pending, repairs


def assemble(
    source: nbformat.NotebookNode,
    release: nbformat.NotebookNode,
    student: nbformat.NotebookNode | None,
) -> Assembled:
    """Build the notebook to run from ``source`` (instructor), ``release`` (what the student got)
    and ``student`` (what came back; ``None`` grades the blank release).

    >>> from nbformat.v4 import new_code_cell, new_notebook
    >>> def cell(src, gid, **nbg):
    ...     return new_code_cell(src, metadata={"nbgrader": {"grade_id": gid, **nbg}})
    >>> src = new_notebook(cells=[cell("x = 1  # solution", "q1", solution=True),
    ...                           cell("assert x == 1  # hidden too", "t1", grade=True, points=1)])
    >>> rel = new_notebook(cells=[cell("x = None", "q1", solution=True),
    ...                           cell("assert x == 1", "t1", grade=True, points=1)])
    >>> stu = new_notebook(cells=[cell("x = 1", "q1", solution=True), cell("pass", "t1")])
    >>> out = assemble(src, rel, stu)
    >>> [c.source for c in out.notebook.cells], out.repairs
    (['x = 1', 'assert x == 1  # hidden too'], ["Cell 't1' was edited; restored from source."])
    """
    repairs: list[str] = []
    release_by_id = {grade_id(c): c for c in release.cells if grade_id(c)}
    source_ids = {grade_id(c) for c in source.cells if grade_id(c)}
    if student is None:
        student = release
    matched, own_before, trailing, found = _student_layout(student.cells, source_ids)
    repairs += found

    cells = []
    for scell in source.cells:
        gid = grade_id(scell)
        if gid is None:
            continue  # unmanaged cells are the student's to keep or change; theirs are used
        cells += [_fresh(c, "student", None) for c in own_before.get(gid, [])]
        theirs = matched.get(gid)
        kind = "Answer cell" if is_solution(scell) else "Cell"
        if theirs is not None and theirs.cell_type != scell.cell_type:
            editable = not (is_solution(scell) or is_locked(scell) or is_grade(scell))
            repairs.append(
                f"{kind} '{gid}' was changed from {scell.cell_type} to {theirs.cell_type}; "
                + ("changed back." if is_solution(scell) else
                   "restored from the release." if editable else "restored from source.")
            )  # fmt: skip
        if not (is_solution(scell) or is_locked(scell) or is_grade(scell)):
            cells.append(_editable(scell, theirs, release_by_id.get(gid, scell), repairs))
            continue
        if is_solution(scell):
            if theirs is None:
                repairs.append(
                    f"Answer cell '{gid}' is missing; graded as unanswered (the blank cell "
                    "from the release was used)."
                )
                theirs = release_by_id.get(gid, scell)
            answer = _fresh(scell, "student", gid)
            answer.source = theirs.source
            cells.append(answer)
            continue
        if theirs is None:
            repairs.append(f"Cell '{gid}' was deleted; restored from source.")
        elif theirs.cell_type == scell.cell_type and (is_locked(scell) or is_grade(scell)):
            released = release_by_id.get(gid, scell)
            if _normalised(theirs.source) != _normalised(released.source):
                repairs.append(f"Cell '{gid}' was edited; restored from source.")
        cells.append(_fresh(scell, "source", gid))
    cells += [_fresh(c, "student", None) for c in trailing]

    notebook = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(source.metadata))
    return Assembled(notebook, repairs)
