"""`python -m autograder lint`: each mistake a generator script used to prevent, made by hand in
the notebook or the config of a freshly scaffolded assignment, is found and named with its
cell and its fix. The scaffold itself is clean."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.config import load_assignment
from autograder.lint import lint
from autograder.scaffold import ScaffoldError, new_assignment

ROOT = Path(__file__).resolve().parents[1]
NAME = "demo_x"


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory) -> Path:
    """A kit holding only the scaffolded demo_x (made once: nbgrader takes a few seconds)."""
    kit = tmp_path_factory.mktemp("kit")
    shutil.copy(ROOT / "nbgrader_config.py", kit)
    new_assignment(NAME, kit)
    return kit


@pytest.fixture
def kit(scaffolded, tmp_path) -> Path:
    """A private copy of the scaffolded kit, for one test to break."""
    shutil.copytree(scaffolded, tmp_path / "kit")
    return tmp_path / "kit"


def _source(kit: Path) -> Path:
    return kit / "source" / NAME / f"{NAME}.ipynb"


def _edit(kit: Path, change: Callable[[nbformat.NotebookNode], None]) -> None:
    """Change the source notebook the way JupyterLab saves it (nbformat round trip)."""
    nb = nbformat.read(_source(kit), as_version=4)
    change(nb)
    nbformat.write(nb, _source(kit))


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _findings(kit: Path) -> list[str]:
    return [str(f) for f in lint(load_assignment(NAME, kit))]


def _only(kit: Path, *needles: str) -> str:
    """The findings other than the release being stale (an edit without nbgrader makes it
    so); exactly one, holding every needle."""
    found = [f for f in _findings(kit) if not f.startswith(f"release/{NAME}")]
    assert len(found) == 1, found
    for needle in needles:
        assert needle in found[0], found[0]
    return found[0]


def test_the_scaffold_is_clean(kit):
    """Does `new` write an assignment lint finds nothing in?"""
    assert _findings(kit) == []


def test_new_refuses_a_bad_name_and_an_existing_assignment(kit):
    """Does `new` refuse a name that is no identifier, and never overwrite?"""
    with pytest.raises(ScaffoldError, match="lower-case letters"):
        new_assignment("A3-detection", kit)
    with pytest.raises(ScaffoldError, match="never overwrites"):
        new_assignment(NAME, kit)


def test_outputs_in_the_source(kit):
    """Is a saved output (an instructor's Run All) named with the cell and the command?"""

    def run_all(nb):
        cell = _cell(nb, "test_scaled_softmax")
        cell.execution_count = 3
        cell.outputs = [nbformat.v4.new_output("stream", text="scaled_softmax looks right.\n")]

    _edit(kit, run_all)
    _only(kit, "cells 6 carry outputs", "nbconvert --clear-output")


def test_duplicate_cell_ids(kit):
    """Is a duplicated id (a hand-merged conflict; nbformat would rename it silently) found?"""
    data = json.loads(_source(kit).read_text())
    data["cells"][3]["id"] = data["cells"][0]["id"]
    _source(kit).write_text(json.dumps(data, indent=1))
    _only(kit, "cell 4", "has the id 'intro' of cell 1")


def test_parameters_cell_not_first(kit):
    def move(nb):
        nb.cells.insert(1, nb.cells.pop(2))

    _edit(kit, move)
    found = [f for f in _findings(kit) if "parameters" in f and "source/" in f]
    assert any("is not tagged 'parameters'" in f for f in found), found
    assert any("is tagged 'parameters' too" in f for f in found), found


def test_parameters_cell_without_seed(kit):
    def drop(nb):
        nb.cells[1].source = nb.cells[1].source.replace("SEED = 0", "")

    _edit(kit, drop)
    _only(kit, "('parameters')", "does not assign SEED")


def test_duplicate_and_malformed_grade_ids(kit):
    def rename(nb):
        _cell(nb, "q1").metadata.nbgrader.grade_id = "scaled_softmax"
        _cell(nb, "setup").metadata.nbgrader.grade_id = "set up!"

    _edit(kit, rename)
    found = "\n".join(_findings(kit))
    assert "has the grade id 'scaled_softmax' of source/demo_x/demo_x.ipynb cell 5" in found
    assert "has grade id 'set up!'" in found


def test_locked_answer_cell(kit):
    def lock(nb):
        _cell(nb, "scaled_softmax").metadata.nbgrader.locked = True

    _edit(kit, lock)
    assert any("answer cell that is also locked" in f for f in _findings(kit))


def test_unlocked_test_cell(kit):
    def unlock(nb):
        _cell(nb, "test_scaled_softmax").metadata.nbgrader.locked = False

    _edit(kit, unlock)
    assert any("test cell that is not locked" in f for f in _findings(kit))


def test_test_cell_that_records_nothing(kit):
    """Is a test cell whose hidden part only asserts (a verdict, no evidence) found?"""

    def no_record(nb):
        cell = _cell(nb, "test_scaled_softmax")
        cell.source = cell.source.replace('record("scaled_softmax.probs",', "assert (")
        cell.source = cell.source.replace("rtol=1e-6)", ").all()")

    _edit(kit, no_record)
    found = "\n".join(_findings(kit))
    assert "cell 6 ('test_scaled_softmax'): is an autograded test cell" in found
    assert "whose hidden part records nothing" in found


def test_solution_markers_in_a_locked_cell_would_leak(kit):
    def mark(nb):
        _cell(nb, "setup").source += "\n### BEGIN SOLUTION\nsecret = 1\n### END SOLUTION"

    _edit(kit, mark)
    assert any("would leave the solution in the release" in f for f in _findings(kit))


def test_grading_input_name_missing_and_key_unused(kit):
    """Is a name the notebook reads but grading_inputs.py does not make found, and the key it
    makes that no cell reads?"""

    def rename(nb):
        cell = _cell(nb, "test_scaled_softmax")
        cell.source = cell.source.replace('grading_input("scores")', 'grading_input("score")')

    _edit(kit, rename)
    found = [f for f in _findings(kit) if not f.startswith("release/")]
    assert len(found) == 2, found
    assert "reads grading_input('score'), which assignments/demo_x/grading_inputs.py" in found[0]
    assert "does not make (it makes 'scores')" in found[0]
    assert "make_inputs makes 'scores', which no cell reads" in found[1]


def test_grading_inputs_that_fail(kit):
    path = kit / "assignments" / NAME / "grading_inputs.py"
    path.write_text(path.read_text().replace("rng.normal(", "rng.norm("))
    _only(kit, "make_inputs(rng) failed: AttributeError")


def test_handout_points_disagree(kit):
    handout = kit / "assignments" / NAME / "handout.md"
    handout.write_text(handout.read_text().replace("(1 test cell) | 2 |", "(1 test cell) | 3 |"))
    _only(kit, "handout.md", "gives 3 points for 'autograded ...'", "add up to 2")


def test_file_the_notebook_never_writes(kit):
    toml = kit / "assignments" / NAME / "assignment.toml"
    toml.write_text(toml.read_text().replace("notebooks =", 'files = ["weights.npz"]\nnotebooks ='))
    _only(kit, "[assignment] files names 'weights.npz', which no code cell")


def test_release_not_regenerated(kit):
    """Is a locked cell edited in the source but not regenerated into the release found?"""

    def edit(nb):
        _cell(nb, "setup").source += "\nimport math"

    _edit(kit, edit)
    (found,) = _findings(kit)
    assert found.startswith("release/demo_x/demo_x.ipynb cell 3 ('setup'): differs")
    assert "nbgrader generate_assignment demo_x" in found


def test_a_new_cell_without_a_role_is_clean(kit):
    """Does an instructor's added plain cell (JupyterLab gives it a fresh id) pass once the
    release is regenerated?"""
    from autograder.verify import generate_release

    def add(nb):
        nb.cells.insert(4, new_code_cell("print('hello')"))

    _edit(kit, add)
    assert generate_release(kit, NAME, kit / "release") is None
    assert _findings(kit) == []
