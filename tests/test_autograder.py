"""The autograder end to end on the toy assignment: build, grade, repairs, bad submissions."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest
import toy_assignment as toy

from autograder import pipeline
from autograder.config import load_assignment

SOLVED = {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"}


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A kit root holding the toy assignment, built once for the module."""
    root = toy.make_root(tmp_path_factory.mktemp("kit"))
    os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
    assignment = load_assignment(toy.NAME, root)
    summary = pipeline.build(assignment, device="cpu")
    yield assignment, summary
    os.environ.pop("KIT_BUNDLE_DIR", None)


def grade(kit, submission, **kwargs):
    assignment, _ = kit
    return pipeline.grade(assignment, submission, device="cpu", **kwargs).results


def by_name(results):
    return {t["name"]: t for t in results["tests"]}


def test_build_keeps_every_record_with_its_cell(kit):
    """Does build map each record to the test cell that made it, with the source's points?"""
    _, summary = kit
    tests = summary["tests"]
    assert {n: [r["name"] for r in t["records"]] for n, t in tests.items()} == {
        "q1_tests": ["add.hidden"],
        "q2_tests": ["scale.hidden"],
    }
    assert tests["q1_tests"]["points"] == 2 and tests["q1_tests"]["hidden"]
    assert tests["q1_tests"]["records"][0]["rtol"] == 1e-9


def test_correct_submission_gets_full_marks(kit, tmp_path):
    results = grade(kit, toy.student(tmp_path / "toy.ipynb", **SOLVED))
    assert results["score"] == 5
    assert all(t["status"] == "passed" for t in results["tests"])


def test_blank_release_gets_zero_with_a_reason(kit, tmp_path):
    results = grade(kit, toy.student(tmp_path / "toy.ipynb"))
    assert results["score"] == 0
    assert by_name(results)["q1_tests"]["output"] == (
        "The cell raised NotImplementedError: the code it tests is not written yet."
    )


def test_a_crash_in_part_one_keeps_part_two_points(kit, tmp_path):
    """Does a student whose part 1 raises still earn part 2's points?"""
    broken = "def add(a, b):\n    return a - b  # wrong\nraise ValueError('oops')"
    results = grade(kit, toy.student(tmp_path / "toy.ipynb", q1=broken, q2=SOLVED["q2"]))
    tests = by_name(results)
    assert tests["q1_tests"]["score"] == 0 and tests["q2_tests"]["score"] == 3


def test_wrong_answer_fails_without_showing_expected_values(kit, tmp_path):
    # Right on the visible check (ones), wrong on the hidden inputs.
    wrong = "def scale(x, k):\n    return x * k + 1e-3 * (x != 1)"
    results = grade(kit, toy.student(tmp_path / "toy.ipynb", q1=SOLVED["q1"], q2=wrong))
    out = by_name(results)["q2_tests"]["output"]
    assert "record 'scale.hidden': 12 of 12 values differ" in out
    for draw in pipeline.bundle_dir(kit[0]).glob("draws/*"):
        expected = np.load(draw / "expected" / "scale.hidden.npy")
        assert f"{expected.ravel()[0]:.4f}"[:6] not in json.dumps(results)


def test_stderr_and_warnings_cost_nothing(kit, tmp_path):
    noisy = "import sys, warnings\nwarnings.warn('careful')\nprint('x', file=sys.stderr)\n"
    results = grade(kit, toy.student(tmp_path / "toy.ipynb", q1=noisy + SOLVED["q1"],
                                     q2=SOLVED["q2"]))  # fmt: skip
    assert results["score"] == 5


def test_edited_and_deleted_protected_cells_are_restored_and_reported(kit, tmp_path):
    path = toy.student(tmp_path / "toy.ipynb", **SOLVED)
    nb = nbformat.read(path, as_version=4)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade", False)]
    tests[0].source = "record('add.hidden', 3)"  # an edited test that would fake the record
    nb.cells.remove(tests[1])  # a deleted test
    nbformat.write(nb, path)
    results = grade(kit, path)
    assert results["score"] == 5
    assert "Cell 'q1_tests' was edited; restored from source." in results["output"]
    assert "Cell 'q2_tests' was deleted; restored from source." in results["output"]


def test_duplicated_and_retyped_answer_cells(kit, tmp_path):
    path = toy.student(tmp_path / "toy.ipynb", **SOLVED)
    nb = nbformat.read(path, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    copy = nbformat.v4.new_code_cell(
        "def add(a, b):\n    return 0", metadata=answers["q1"].metadata
    )
    nb.cells.insert(nb.cells.index(answers["q1"]) + 1, copy)
    answers["q2"].cell_type = "markdown"
    del answers["q2"]["outputs"], answers["q2"]["execution_count"]
    nbformat.write(nb, path)
    results = grade(kit, path)
    assert "Cell 'q1' appears more than once; the first copy was graded" in results["output"]
    assert "Answer cell 'q2' was changed from code to markdown; changed back." in results["output"]
    assert results["score"] == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"cells": [', "is not valid notebook JSON"),
        (b'{"hello": 1}', "is JSON but not a Jupyter notebook"),
        (b"\x80\x04\x95 pickled", "is not a text file"),
    ],
    ids=["not-json", "not-a-notebook", "binary"],
)
def test_unreadable_notebooks_still_get_every_test(kit, tmp_path, content, message):
    """Does a broken file still give a results file listing every test, with the reason?"""
    (tmp_path / "toy.ipynb").write_bytes(content)
    results = grade(kit, tmp_path)
    assert message in results["output"]
    assert [t["name"] for t in results["tests"]] == ["q1_tests", "q2_tests"]
    assert results["score"] == 0


def test_wrong_file_name_is_graded_and_noted(kit, tmp_path):
    toy.student(tmp_path / "my toy (1).ipynb", **SOLVED)
    results = grade(kit, tmp_path)
    assert results["score"] == 5
    assert "Expected a notebook named toy.ipynb but found my toy (1).ipynb" in results["output"]


def test_no_notebook_at_all(kit, tmp_path):
    (tmp_path / "readme.txt").write_text("forgot")
    results = grade(kit, tmp_path)
    assert "No notebook was found in the submission" in results["output"]
    assert len(results["tests"]) == 2 and results["score"] == 0


def test_monkeypatched_record_api_cannot_fake_a_match(kit, tmp_path):
    """Does replacing record() or numpy in the kernel earn nothing?"""
    cheat = (
        "import autograder.record as r, numpy as np\n"
        "r.record = lambda *a, **k: None\n"
        "np.allclose = lambda *a, **k: True\n"
        "np.isclose = lambda a, b, **k: np.ones_like(a, dtype=bool)\n"
        "def scale(x, k):\n    return x"
    )
    results = grade(kit, toy.student(tmp_path / "toy.ipynb", q1=SOLVED["q1"], q2=cheat))
    assert by_name(results)["q2_tests"]["score"] == 0
    assert by_name(results)["q1_tests"]["score"] == 2


def test_symlinked_record_to_the_expected_file_is_ignored(kit, tmp_path):
    """Can a record that is a link to the grader's expected file pass? (It must not.)"""
    bundle = pipeline.bundle_dir(kit[0])
    cheat = (
        "import os\n"
        "for n in ('scale.hidden',):\n"
        f"    p = os.path.join(os.environ['KIT_RECORD_DIR'], n + '.npy')\n"
        f"    os.path.exists(p) and os.remove(p)\n"
        f"    os.symlink('{bundle}/draws/0/expected/' + n + '.npy', p)\n"
        "def scale(x, k):\n    return x"
    )
    results = grade(kit, toy.student(tmp_path / "toy.ipynb", q1=SOLVED["q1"],
                                     q2="def scale(x, k):\n    return x"))  # fmt: skip
    assert by_name(results)["q2_tests"]["score"] == 0
    # A link made after the test cell ran (in a trailing cell) is removed before scoring.
    path = toy.student(tmp_path / "b" / "toy.ipynb", q1=SOLVED["q1"],
                       q2="def scale(x, k):\n    return x")  # fmt: skip
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(cheat))
    nbformat.write(nb, path)
    results = grade(kit, path)
    assert by_name(results)["q2_tests"]["score"] == 0


def test_grading_twice_gives_the_same_results(kit, tmp_path):
    path = toy.student(tmp_path / "toy.ipynb", q1=SOLVED["q1"])
    first, second = grade(kit, path), grade(kit, path)
    for r in (first, second):
        r.pop("execution_time")
    assert first == second


def test_feedback_has_no_hidden_test_source(kit, tmp_path):
    results_dir = tmp_path / "feedback"
    assignment, _ = kit
    graded = pipeline.grade(assignment, toy.student(tmp_path / "toy.ipynb", **SOLVED),
                            device="cpu", feedback_dir=results_dir)  # fmt: skip
    page = graded.feedback[0].read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))  # the words a reader sees
    assert "assert add(1, 2) == 3" in text  # the visible test is shown
    assert "add.hidden" not in page and "grading_input(" not in text
    assert "HIDDEN TESTS" not in page


def test_cli_grade_writes_results_and_exit_code(kit, tmp_path):
    assignment, _ = kit
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", toy.NAME,
         str(toy.student(tmp_path / "toy.ipynb", q1=SOLVED["q1"])),
         "--root", str(assignment.root), "--out", str(out), "--device", "cpu"],
        capture_output=True, text=True, env={**os.environ},
    )  # fmt: skip
    assert run.returncode == 1, run.stderr  # graded, not full marks
    assert json.loads(out.read_text())["score"] == 2
    assert "q1_tests" in run.stdout and "Results written to" in run.stdout


def test_snooping_and_a_forged_results_file_get_nothing(kit, tmp_path):
    """Can student code read the bundle, the source or write the results file? (It must not.)"""
    assignment, _ = kit
    bundle = pipeline.bundle_dir(assignment)
    out = tmp_path / "results.json"
    snoop = (
        "import glob, json, os\n"
        "found = []\n"
        f"for pattern in ['{bundle}/**/*', '{assignment.root}/source/**/*']:\n"
        "    for p in glob.glob(pattern, recursive=True):\n"
        "        try:\n"
        "            found.append(open(p, 'rb').read()[:200])\n"
        "        except OSError:\n"
        "            pass\n"
        "print('SNOOPED', len(found), found[:3])\n"
        "for target in ['results.json', " + repr(str(out)) + "]:\n"
        "    try:\n"
        "        json.dump({'score': 100}, open(target, 'w'))\n"
        "    except OSError as e:\n"
        "        print('could not write', target, type(e).__name__)\n"
        "def add(a, b):\n    return a + b"
    )
    path = toy.student(tmp_path / "sub" / "toy.ipynb", q1=snoop)
    graded = pipeline.grade(assignment, path, device="cpu", feedback_dir=tmp_path / "fb")
    text = graded.feedback[0].read_text()
    assert "SNOOPED 0 []" in text  # nothing of the bundle or the source was readable
    assert "BEGIN HIDDEN TESTS" not in text
    assert graded.results["score"] == 2
    assert not out.exists()  # the kernel cannot reach the grader's output folder


def test_without_isolation_grading_works_and_says_so(kit, tmp_path):
    results = grade(kit, toy.student(tmp_path / "toy.ipynb", **SOLVED), isolate=False)
    assert results["score"] == 5
    assert "Grader: isolation is off" in results["output"]


def test_check_tells_a_student_what_the_grader_will_think(kit, tmp_path, capsys):
    """Does `check` run the visible tests and flag an edited test cell, without hidden data?"""
    from autograder.check import check

    assignment, _ = kit
    good = toy.student(tmp_path / "good" / "toy.ipynb", **SOLVED)
    assert check(good, root=assignment.root) == 0
    out = capsys.readouterr().out
    assert "passed   q1_tests" in out and "Ready to submit." in out
    bad = toy.student(tmp_path / "bad" / "toy.ipynb", q1=SOLVED["q1"])
    nb = nbformat.read(bad, as_version=4)
    nb.cells[4].source += "\nprint('changed')"
    nbformat.write(nb, bad)
    assert check(bad, root=assignment.root) == 1
    out = capsys.readouterr().out
    assert "FAILED   q2_tests: raised NotImplementedError: the code it tests is not written" in out
    assert "Cell 'q1_tests' was edited; restored from source." in out
