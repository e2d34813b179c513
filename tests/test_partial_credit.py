"""Partial credit inside a test cell: a cell may split its points across its records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autograder.score import Expected, record_points_problem, score_test_cell

NAMES = ["affine_forward.out", "affine_backward.dx", "affine_backward.dw", "affine_backward.db"]
SPLIT = dict.fromkeys(NAMES, 0.75)  # a1's test_affine: 3 points over 4 records


def _records(tmp_path, wrong: set[str]):
    """Expected and actual record folders; the records named in ``wrong`` differ."""
    expected_dir, actual_dir = tmp_path / "expected", tmp_path / "actual"
    expected_dir.mkdir()
    actual_dir.mkdir()
    for k, name in enumerate(NAMES):
        value = np.arange(4.0) + k
        np.save(expected_dir / f"{name}.npy", value)
        np.save(actual_dir / f"{name}.npy", value + (1.0 if name in wrong else 0.0))
    return expected_dir, actual_dir


def _score(tmp_path, wrong=frozenset(), *, error=None, split=SPLIT):
    expected_dir, actual_dir = _records(tmp_path, set(wrong))
    return score_test_cell(
        "test_affine", 3.0, error=error, not_run=None,
        expected=[Expected(n, 1e-6, 0.0) for n in NAMES], actual_dir=actual_dir,
        expected_dir=expected_dir, visibility="visible", record_points=split,
    )  # fmt: skip


def test_one_wrong_record_costs_only_its_share(tmp_path):
    """Does one slip (db) of four independent records cost 0.75 points, not all 3?"""
    outcome = _score(tmp_path, {"affine_backward.db"})
    assert outcome.score == pytest.approx(2.25) and outcome.max_score == 3.0
    assert not outcome.passed
    assert "record 'affine_backward.db'" in outcome.output and "(-0.75 points)" in outcome.output
    assert "Partial credit: 2.25 of 3 points" in outcome.output


def test_all_records_right_earns_full_points(tmp_path):
    """Does a cell whose records all match still earn exactly its points?"""
    outcome = _score(tmp_path)
    assert outcome.passed and outcome.score == 3.0 and outcome.output == "Passed."


def test_a_cell_that_raised_scores_zero_even_with_matching_records(tmp_path):
    """Does a cell that raised earn nothing, although the records it wrote before match?"""
    outcome = _score(tmp_path, error="AssertionError: gradient shapes")
    assert outcome.score == 0.0 and "gradient shapes" in outcome.output


def test_without_a_split_one_wrong_record_loses_the_cell(tmp_path):
    """Is the old all-or-nothing rule kept for cells that declare no split?"""
    assert _score(tmp_path, {"affine_backward.db"}, split=None).score == 0.0


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ({**SPLIT, "affine_backward.db": 0.5}, r"adds up to 2.75 points, but the cell is worth 3"),
        ({"affine_forward.out": 3}, r"misses \['affine_backward.db'"),
        ({**SPLIT, "typo": 0}, r"names \['typo'\] unknown records"),
        ({**SPLIT, "affine_backward.db": -0.75}, r"a number, 0 or more"),
        ({**SPLIT, "affine_backward.db": True}, r"a number, 0 or more"),
        ([0.75, 0.75, 0.75, 0.75], r"must map each record name"),
    ],
)
def test_build_refuses_a_split_that_does_not_fit_the_cell(split, message):
    """Does a split that misses a record, names an unknown one or adds up wrong get a sentence?"""
    problem = record_points_problem("test_affine", 3.0, NAMES, split)
    assert problem is not None and problem.startswith("test_affine: ")
    assert __import__("re").search(message, problem), problem


def test_a1_affine_cell_declares_a_split_that_fits():
    """Does a1's affine test cell split its 3 points over its four records?"""
    import nbformat

    nb = nbformat.read("source/a1_mlp_numpy/a1_mlp_numpy.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") ==
                "test_affine")  # fmt: skip
    split = cell.metadata["kit"]["record_points"]
    assert record_points_problem("test_affine", cell.metadata.nbgrader.points, NAMES, split) is None


@pytest.mark.slow
def test_a1_graded_with_a_db_slip_keeps_three_quarters_of_the_affine_points(tmp_path, monkeypatch):
    """Graded for real (bundle, sandboxed kernel, scoring): does a solution whose affine_backward
    doubles db lose only db's 0.75 of test_affine's 3 points (the cells built on it lose theirs),
    and list the three written answers as pending outside the score?"""
    import shutil

    import nbformat
    from test_a1_mlp_numpy import RELEASE, SOURCE, WEIGHTS, solved_release

    from autograder import pipeline
    from autograder.config import load_assignment

    monkeypatch.setenv("KIT_BUNDLE_DIR", str(tmp_path / "bundles"))
    assignment = load_assignment("a1_mlp_numpy", Path(__file__).resolve().parents[1])
    pipeline.build(assignment, device="cpu")
    folder = tmp_path / "slip"
    folder.mkdir()
    solved_release(RELEASE, SOURCE, folder / RELEASE.name)
    shutil.copy(WEIGHTS, folder / "mlp_weights.npz")
    nb = nbformat.read(folder / RELEASE.name, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "affine")
    assert "db = dout.sum(axis=0)" in cell.source
    cell.source = cell.source.replace("db = dout.sum(axis=0)", "db = 2 * dout.sum(axis=0)")
    nbformat.write(nb, folder / RELEASE.name)
    results = pipeline.grade(assignment, folder, device="cpu").results
    tests = {t["name"]: t for t in results["tests"]}
    assert tests["test_affine"]["score"] == pytest.approx(2.25), tests["test_affine"]
    lost = {n for n, t in tests.items() if t["score"] < t["max_score"]}
    # The MLP's backward pass and its training call affine_backward: the slip reaches them too.
    assert lost == {"test_affine", "test_mlp", "test_train_mlp"}, results["tests"]
    pending = [n for n, t in tests.items() if "status" not in t]
    assert len(pending) == 3 and all("graded by hand" in n for n in pending)
    assert "graded by hand: 11 more points, pending" in results["output"]
    print(results["output"].splitlines()[0], tests["test_affine"]["output"], sep="\n")


def test_build_refuses_a_toy_cell_whose_split_adds_up_wrong(tmp_path, monkeypatch):
    """Does `build` stop, naming the cell, when a test cell's record_points do not add up to its
    points (the toy's q1_tests: 2 points, one record)?"""
    import nbformat
    import toy_assignment as toy

    from autograder import pipeline
    from autograder.config import load_assignment

    root = toy.make_root(tmp_path / "kit")
    monkeypatch.setenv("KIT_BUNDLE_DIR", str(root / "bundles"))
    path = root / "source" / toy.NAME / "toy.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_tests")
    cell.metadata["kit"] = {"record_points": {"add.hidden": 1}}
    nbformat.write(nb, path)
    with pytest.raises(pipeline.BuildError, match=r"q1_tests: .* adds up to 1 points, but the "
                       r"cell is worth 2"):  # fmt: skip
        pipeline.build(load_assignment(toy.NAME, root), device="cpu")
