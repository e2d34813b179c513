"""Every assignment under assignments/ (a new one needs no new test file): lint finds nothing,
the release is what nbgrader makes now and leaks nothing, the hidden tests' inputs are seeded,
an edit saved the way JupyterLab saves keeps all of that, and (slow) `verify` passes. Also
`new` -> `lint` -> `verify` end to end, and Run All of a source outside the grader.

Assignment-specific checks (gradient checks, reference accuracy) stay in test_<a>.py."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from pinned_hidden_sets import write_private_dir

from autograder.config import load_assignment
from autograder.lint import lint
from autograder.verify import generate_release, leaked_lines, release_differences

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.parent.name for p in (ROOT / "assignments").glob("*/assignment.toml"))


def _cli(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: int = 120):
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )  # fmt: skip


def _copy_kit(name: str, target: Path) -> Path:
    """The parts of the kit one assignment needs: its three folders and nbgrader's config."""
    for folder in ("assignments", "source", "release"):
        shutil.copytree(ROOT / folder / name, target / folder / name)
    shutil.copy(ROOT / "nbgrader_config.py", target)
    return target


def test_there_are_assignments():
    """Did discovery find the kit's assignments (so the parametrized tests ran at all)?"""
    assert {"a1_mlp_numpy", "a2_cnn_fashion"} <= set(ASSIGNMENTS)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_lint_finds_nothing(name):
    """Is the source clean: parameters, ids, roles, records, inputs, points, files, release?"""
    assert [str(f) for f in lint(load_assignment(name, ROOT))] == []


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_lint_from_the_command_line(name):
    """Does `python -m autograder lint <a>` say so and exit 0?"""
    run = _cli("lint", name)
    assert run.returncode == 0 and f"{name}: 0 findings from lint." in run.stdout, run.stdout


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_is_what_nbgrader_generates(name):
    """Is release/<a>/ what `nbgrader generate_assignment` makes from the source now?"""
    assert release_differences(load_assignment(name, ROOT)) == []


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_leaks_no_solution_and_no_hidden_test(name):
    """Does no solution or hidden-test line, marker or grading_input call reach students?"""
    assignment = load_assignment(name, ROOT)
    for notebook in assignment.notebooks:
        source = nbformat.read(assignment.source_dir / notebook, as_version=4)
        release = nbformat.read(assignment.release_dir / notebook, as_version=4)
        assert leaked_lines(source, release) == []
        text = "\n".join(c.source for c in release.cells)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "grading_input("):
            assert marker not in text, marker
        answers = [c for c in release.cells if c.cell_type == "code"
                   and c.metadata.get("nbgrader", {}).get("solution")]  # fmt: skip
        assert answers and all("raise NotImplementedError()" in c.source for c in answers)
    assert sorted(p.name for p in assignment.release_dir.iterdir()) == sorted(assignment.notebooks)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_grading_inputs_are_seeded(name):
    """Does make_inputs give the same arrays for one seed, other arrays for another, and only
    arrays that save without pickle?"""
    assignment = load_assignment(name, ROOT)
    if not assignment.grading_inputs:
        pytest.skip(f"{name} has no grading inputs")
    path = assignment.config_dir / assignment.grading_inputs
    spec = importlib.util.spec_from_file_location(f"_inputs_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    first, again, other = (module.make_inputs(np.random.default_rng(s)) for s in (0, 0, 1))
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not all(np.array_equal(first[k], other[k]) for k in first)
    assert all(np.asarray(v).dtype != object for v in first.values())


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_jupyterlab_edit_keeps_the_assignment_clean(name, tmp_path):
    """Edited the way JupyterLab saves (nbformat round trip: a markdown cell reworded, a locked
    cell changed), the source diff stays the edited lines, and after nbgrader lint is clean."""
    kit = _copy_kit(name, tmp_path)
    assignment = load_assignment(name, kit)
    path = assignment.source_dir / assignment.notebooks[0]
    before = path.read_text(encoding="utf-8").splitlines()
    nb = nbformat.read(path, as_version=4)
    markdown = next(c for c in nb.cells if c.cell_type == "markdown")
    markdown.source += "\n\nEdited in JupyterLab."
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    setup.source += "\nimport math  # an instructor's edit"
    nbformat.write(nb, path)
    after = path.read_text(encoding="utf-8").splitlines()
    changed = [line for line in after if line not in before]
    assert len(after) - len(before) <= 4 and len(changed) <= 4, changed  # ids and layout kept
    stale = [str(f) for f in lint(assignment)]
    assert stale and all(f.startswith(f"release/{name}") for f in stale), stale
    assert generate_release(kit, name, kit / "release") is None
    assert [str(f) for f in lint(assignment)] == []


def test_new_assignment_is_clean_from_the_command_line(tmp_path):
    """Does `new demo_x` write every file, then `lint demo_x` find nothing (no kernel)?"""
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    run = _cli("new", "demo_x", "--root", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    for path in ("assignments/demo_x/assignment.toml", "assignments/demo_x/grading_inputs.py",
                 "assignments/demo_x/handout.md", "assignments/demo_x/report_template.md",
                 "source/demo_x/demo_x.ipynb", "release/demo_x/demo_x.ipynb"):  # fmt: skip
        assert (tmp_path / path).is_file(), path
    run = _cli("lint", "demo_x", "--root", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    again = _cli("new", "demo_x", "--root", str(tmp_path))
    assert again.returncode == 2 and "never overwrites" in again.stderr


@pytest.mark.slow
def test_new_then_lint_then_verify(tmp_path):
    """Does `autograder new demo_x && autograder lint demo_x && autograder verify demo_x` pass
    (the source gets full marks, the blank release zero), also after an edit saved the way
    JupyterLab saves (a visible test added to the locked test cell, nbformat round trip)?"""
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    env = {"KIT_BUNDLE_DIR": str(tmp_path / "bundles")}
    run = _cli("new", "demo_x", "--root", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    source = tmp_path / "source" / "demo_x" / "demo_x.ipynb"
    nb = nbformat.read(source, as_version=4)
    test = next(c for c in nb.cells if c.id == "test_scaled_softmax")
    test.source = test.source.replace(
        'print("scaled_softmax looks right.")',
        "assert np.allclose(scaled_softmax(np.zeros((1, 4)), 2.0), 0.25)\n"
        'print("scaled_softmax looks right.")',
    )
    nbformat.write(nb, source)
    assert generate_release(tmp_path, "demo_x", tmp_path / "release") is None
    for args in (("lint", "demo_x"), ("verify", "demo_x", "--device", "cpu")):
        run = _cli(*args, "--root", str(tmp_path), env=env, timeout=600)
        assert run.returncode == 0, f"{args}: {run.stdout[-4000:]}{run.stderr[-2000:]}"
    assert "FAIL" not in run.stdout and "[ok] the source gets full marks (2 of 2)" in run.stdout


@pytest.mark.slow
def test_run_all_of_a_source_outside_the_grader_runs_the_hidden_tests(tmp_path):
    """In JupyterLab (cwd source/<a>/, no grader), does Run All of the source run its hidden
    tests on the public draw and show what each record would be?"""
    import papermill

    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    assert _cli("new", "demo_x", "--root", str(tmp_path)).returncode == 0
    folder = tmp_path / "source" / "demo_x"
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("KIT_")}
    try:
        papermill.execute_notebook(
            str(folder / "demo_x.ipynb"), str(tmp_path / "ran.ipynb"), cwd=str(folder),
            kernel_name="python3", progress_bar=False,
        )  # fmt: skip
    finally:
        os.environ.update(saved)
    ran = nbformat.read(tmp_path / "ran.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in ran.cells if c.cell_type == "code" for o in c.outputs)
    assert "scaled_softmax looks right." in text
    assert "record 'scaled_softmax.probs': float64" in text and "warning" not in text


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_assignment_verifies(name, tmp_path):
    """Does `python -m autograder verify <a>` pass: lint clean, release in sync and leak-free,
    the source full marks, the blank release zero?"""
    env = {"KIT_BUNDLE_DIR": str(tmp_path),
           "KIT_PRIVATE_DIR": str(write_private_dir(tmp_path / "private"))}  # fmt: skip
    run = _cli("verify", name, "--device", "cpu", env=env, timeout=1800)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert "FAIL" not in run.stdout
