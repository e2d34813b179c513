"""A two-question nbgrader assignment, ``toy``, for the formgrader and browser tests: a written
answer (3 points, graded by hand) and a function with its test (2 points, autograded)."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

WRITTEN_ANSWER = "Pooling makes the features tolerant to small shifts of the image."


def toy_source() -> nbformat.NotebookNode:
    """A two-question nbgrader source: a written answer (3 points, graded by hand) and a
    function with its test (2 points, autograded)."""

    def meta(grade_id: str, **flags) -> dict:
        base = {"grade": False, "solution": False, "locked": False, "task": False}
        return {"nbgrader": {**base, **flags, "grade_id": grade_id, "schema_version": 3}}

    return new_notebook(
        cells=[
            new_markdown_cell("# Toy\nWhy does pooling help?", metadata=meta("intro", locked=True)),
            new_markdown_cell(
                "### BEGIN SOLUTION\nIt makes features shift-tolerant.\n### END SOLUTION",
                metadata=meta("q_written", grade=True, solution=True, points=3),
            ),
            new_code_cell(
                "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                metadata=meta("q_code", solution=True),
            ),
            new_code_cell(
                "assert double(2) == 4",
                metadata=meta("q_code_tests", grade=True, locked=True, points=2),
            ),
        ],
        metadata={
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            }
        },
    )


def solve(release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The released notebook with both answers written, as a student would hand it in."""
    for cell in release.cells:
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        if grade_id == "q_written":
            cell.source = WRITTEN_ANSWER
        elif grade_id == "q_code":
            cell.source = "def double(x):\n    return x + x"
    return release
