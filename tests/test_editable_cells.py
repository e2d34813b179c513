"""The contract of cells at grading: locked cells (and test cells) are restored from the source,
with the repair reported; every other cell is the student's, kept as they left it."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_notebook

from autograder.assemble import assemble


def _cell(source: str, gid: str, **roles):
    meta = {"grade_id": gid, "grade": False, "solution": False, "locked": False, **roles}
    return new_code_cell(source, metadata={"nbgrader": meta})


def _notebooks(student_settings: str, student_setup: str = "import numpy as np"):
    source = new_notebook(cells=[
        _cell("import numpy as np", "setup", locked=True),
        _cell("STUDY_EPOCHS = 2  # change it to study longer", "study_settings"),
        _cell("answer = 1", "answer", solution=True),
    ])  # fmt: skip
    release = new_notebook(cells=[
        _cell("import numpy as np", "setup", locked=True),
        _cell("STUDY_EPOCHS = 2  # change it to study longer", "study_settings"),
        _cell("answer = None", "answer", solution=True),
    ])  # fmt: skip
    student = new_notebook(cells=[
        _cell(student_setup, "setup", locked=True),
        _cell(student_settings, "study_settings"),
        _cell("answer = 1", "answer", solution=True),
    ])  # fmt: skip
    return source, release, student


def test_an_unlocked_setting_the_student_changed_is_kept():
    """Is a2's kind of setting (nbgrader cell, neither locked nor graded) graded as edited?"""
    out = assemble(*_notebooks("STUDY_EPOCHS = 8"))
    sources = [c.source for c in out.notebook.cells]
    assert sources[1] == "STUDY_EPOCHS = 8" and out.repairs == []
    assert out.notebook.cells[1].metadata["kit"]["origin"] == "student"


def test_a_locked_cell_the_student_changed_is_restored_and_reported():
    """Is an edited locked cell put back, and does the report say so?"""
    out = assemble(*_notebooks("STUDY_EPOCHS = 2", student_setup="import os"))
    assert out.notebook.cells[0].source == "import numpy as np"
    assert out.repairs == ["Cell 'setup' was edited; restored from source."]


def test_a_deleted_editable_cell_comes_back_from_the_release():
    """Is an editable cell the student deleted restored (from the release) and reported?"""
    source, release, student = _notebooks("")
    student.cells.pop(1)
    out = assemble(source, release, student)
    assert out.notebook.cells[1].source.startswith("STUDY_EPOCHS = 2")
    assert out.repairs == ["Cell 'study_settings' was deleted; restored from the release."]
