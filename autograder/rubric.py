"""Written answers graded by hand: their rubrics, read from the source notebook, checked, exported
for graders, and listed in ``results.json`` as pending.

A written answer is a markdown cell with nbgrader's ``solution: true, grade: true`` (formgrader's
"manually graded answer") and ``points``. Its rubric lives in the cell's metadata::

    "kit": {"rubric": [{"criterion": "names the best and the worst change", "points": 1}, ...]}

and its text in the question cell just above it, so formgrader shows graders the same criteria.
The criteria's points add up to the cell's points (:func:`rubric_problems`; ``lint`` checks it).

``export_rubric`` writes one row per criterion (CSV or JSON), the shape of Gradescope's rubric
items for one question each. ``pending_outcomes`` makes the ``results.json`` lines: Gradescope's
schema has no "pending" status, so each answer is a test with ``max_score`` 0 (its points are
not in the autograded total and cannot look lost or earned) and says its points in its name and
output; :mod:`autograder.report` leaves their ``status`` out and adds the pending points to the
top ``output``, so the autograded total is never mistaken for the assignment's total.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.score import TestOutcome

__all__ = [
    "Criterion",
    "WrittenAnswer",
    "export_rubric",
    "pending_outcomes",
    "rubric_problems",
    "written_answers",
]

#: The kind of a results line for a written answer (``TestOutcome.kind``).
MANUAL = "manual"


@dataclass(frozen=True)
class Criterion:
    """One rubric item: what the answer must do, and the points it is worth."""

    criterion: str
    points: float


@dataclass(frozen=True)
class WrittenAnswer:
    """One hand-graded answer cell of a source notebook."""

    notebook: str
    grade_id: str
    points: float
    question: str  # the markdown cell above the answer (the question and its rubric text)
    rubric: tuple[Criterion, ...]


def _is_written_answer(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return (
        cell.get("cell_type") == "markdown"
        and bool(meta.get("grade"))
        and bool(meta.get("solution"))
    )


def _criteria(raw) -> tuple[Criterion, ...]:
    """The rubric in a cell's ``metadata.kit.rubric``; malformed items are skipped (and make
    :func:`rubric_problems` report a mismatch)."""
    items = []
    for item in raw if isinstance(raw, list) else []:
        if (
            isinstance(item, dict)
            and isinstance(item.get("points"), int | float)
            and str(item.get("criterion", "")).strip()
        ):
            items.append(Criterion(str(item["criterion"]).strip(), float(item["points"])))
    return tuple(items)


def written_answers(notebook: nbformat.NotebookNode, name: str) -> list[WrittenAnswer]:
    """The hand-graded answers of ``notebook`` (named ``name``), in notebook order."""
    answers, previous = [], ""
    for cell in notebook.cells:
        if _is_written_answer(cell):
            meta = cell.metadata["nbgrader"]
            answers.append(WrittenAnswer(
                name, str(meta.get("grade_id", "")), float(meta.get("points", 0) or 0),
                previous, _criteria(cell.metadata.get("kit", {}).get("rubric")),
            ))  # fmt: skip
        if cell.get("cell_type") == "markdown":
            previous = cell.source
    return answers


def rubric_problems(answer: WrittenAnswer) -> list[str]:
    """What is wrong with ``answer``'s rubric (empty: nothing), each a sentence with its fix."""
    if answer.points <= 0:
        return [f"'{answer.grade_id}' is graded by hand but has no points. Give it points."]
    if not answer.rubric:
        return [
            f"'{answer.grade_id}' has no rubric. Add metadata.kit.rubric = "
            '[{"criterion": "...", "points": ...}, ...] adding up to '
            f"{answer.points:g} points, and the same criteria in the question's text."
        ]
    total = sum(c.points for c in answer.rubric)
    problems = []
    if abs(total - answer.points) > 1e-9:
        problems.append(
            f"'{answer.grade_id}' is worth {answer.points:g} points but its rubric's criteria "
            f"add up to {total:g}. Make them agree."
        )
    missing = [c.criterion for c in answer.rubric if c.criterion not in answer.question]
    if missing:
        problems.append(
            f"'{answer.grade_id}': the question cell above it does not show the rubric "
            f"criterion '{missing[0]}' (formgrader shows graders the cells, not the metadata). "
            "Copy the rubric into the question's text."
        )
    return problems


def export_rubric(answers: list[WrittenAnswer], fmt: str = "csv") -> str:
    """The rubric items of every answer: one row per criterion (``question``, ``max_points``,
    ``criterion``, ``points``), as CSV text or a JSON list of questions.

    >>> a = WrittenAnswer("a.ipynb", "q1", 2.0, "", (Criterion("says why", 2.0),))
    >>> export_rubric([a]).splitlines()[1]
    'a.ipynb,q1,2,says why,2'
    """
    if fmt == "json":
        return json.dumps(
            [{"notebook": a.notebook, "question": a.grade_id, "max_points": a.points,
              "rubric": [{"criterion": c.criterion, "points": c.points} for c in a.rubric]}
             for a in answers],
            indent=1,
        )  # fmt: skip
    if fmt != "csv":
        raise ValueError(f"Unknown rubric format {fmt!r}. Valid values are {{'csv', 'json'}}.")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["notebook", "question", "max_points", "criterion", "points"])
    for a in answers:
        for c in a.rubric:
            writer.writerow([a.notebook, a.grade_id, f"{a.points:g}", c.criterion, f"{c.points:g}"])
    return out.getvalue()


def read_answers(source_dir: Path, notebooks: list[str]) -> list[WrittenAnswer]:
    """The written answers of the named notebooks under ``source_dir`` (the grader's copies)."""
    found = []
    for name in notebooks:
        found += written_answers(nbformat.read(Path(source_dir) / name, as_version=4), name)
    return found


def pending_outcomes(answers: list[WrittenAnswer]) -> list[TestOutcome]:
    """One results line per written answer: 0 of 0 autograded points, its points pending.

    >>> a = WrittenAnswer("a.ipynb", "q1", 4.0, "", ())
    >>> o = pending_outcomes([a])[0]
    >>> o.name, o.max_score, o.kind, o.pending_points
    ('q1 (written answer, 4 points, graded by hand)', 0.0, 'manual', 4.0)
    """
    return [
        TestOutcome(
            f"{a.grade_id} (written answer, {a.points:g} points, graded by hand)",
            0.0,
            0.0,
            False,
            f"Graded by hand: {a.points:g} points, pending. A grader reads your answer against "
            "the rubric shown with the question; these points are not in the autograded score.",
            "visible",
            MANUAL,
            pending_points=a.points,
        )
        for a in answers
    ]
