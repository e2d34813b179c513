"""``check`` tells the truth, and results say why a performance item earned nothing.

The kit here is the toy assignment with what a2 has that matters: a submitted weights file
(``weights.bin``), a written answer, a locked cell that writes predictions for hidden images
(scored by accuracy) and, in the tests that need it, a student cell that loads the weights into
a network defined in the notebook.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
import toy_assignment as toy
from nbformat.v4 import new_code_cell, new_markdown_cell

from autograder import pipeline
from autograder.config import load_assignment

SOLVED = {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"}
WRITTEN = "Adding is commutative, so the order of the arguments does not matter."

PERFORMANCE = """
[hidden_data]
dataset = "fashion-mnist"
seed = 5
limit = 50

[[performance]]
name = "Accuracy on the hidden set"
predictions = "p.csv"
metric = "accuracy"
zero_at = 0.5
full_at = 0.9
max_score = 4.0
"""
#: The locked cell that writes predictions (every image: class scale(0, 1) = 0).
PREDICT = """\
if GRADING:
    import os
    from helpers.data.hidden import read_hidden_inputs
    from helpers.predictions import save_predictions
    ids, _ = read_hidden_inputs(DATA_DIR)
    save_predictions(os.path.join(OUTPUT_DIR, "p.csv"), ids, [int(scale(0, 1))] * len(ids))"""
#: A network defined in the notebook, loading the submitted weights (as a2's ImprovedNet does).
LOAD_WEIGHTS = """\
import torch
from torch import nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, {width})
net = Net()
net.load_state_dict(torch.load("weights.bin", weights_only=True))"""


def _meta(gid: str, **flags) -> dict:
    return toy._meta(gid, **flags)


def _with_extras(nb: nbformat.NotebookNode, written: str) -> nbformat.NotebookNode:
    nb.cells.append(new_markdown_cell(written, metadata=_meta("q3_written", solution=True,
                                                              grade=True, points=1)))  # fmt: skip
    nb.cells.append(new_code_cell(PREDICT, metadata=_meta("predict", locked=True)))
    return nb


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """The toy assignment with weights.bin, a written answer and a performance band, built."""
    root = toy.make_root(tmp_path_factory.mktemp("check"))
    config = root / "assignments" / toy.NAME / "assignment.toml"
    config.write_text(
        config.read_text().replace(
            'grading_inputs = "grading_inputs.py"',
            'grading_inputs = "grading_inputs.py"\nfiles = ["weights.bin"]',
        )
        + PERFORMANCE
    )
    for kind, written in (("source", WRITTEN), ("release", "YOUR ANSWER HERE")):
        path = root / kind / toy.NAME / "toy.ipynb"
        nbformat.write(_with_extras(nbformat.read(path, as_version=4), written), path)
    reference = root / "assignments" / toy.NAME / "reference"
    reference.mkdir()
    import torch

    # Weights of width 5: LOAD_WEIGHTS with width 3 does not fit them.
    torch.save(
        {"fc.weight": torch.zeros(5, 4), "fc.bias": torch.zeros(5)}, reference / "weights.bin"
    )
    os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
    assignment = load_assignment(toy.NAME, root)
    pipeline.build(assignment, device="cpu")
    yield assignment
    os.environ.pop("KIT_BUNDLE_DIR", None)


def submission(kit, folder, *, weights_width: int | None = None, written: str = WRITTEN,
               **answers: str):  # fmt: skip
    """A student's folder: the release with ``answers``, the written answer, weights.bin, and
    (with ``weights_width``) a cell before the prediction cell that loads the weights."""
    answers = {**SOLVED, **answers}
    path = toy.student(folder / "toy.ipynb", **answers)
    nb = nbformat.read(kit.release_dir / "toy.ipynb", as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    for gid, text in {**answers, "q3_written": written}.items():
        by_id[gid].source = text
    if weights_width is not None:
        nb.cells.insert(len(nb.cells) - 1, new_code_cell(LOAD_WEIGHTS.format(width=weights_width)))
    nbformat.write(nb, path)
    (folder / "weights.bin").write_bytes(
        (kit.config_dir / "reference" / "weights.bin").read_bytes()
    )
    return path


def run_check(kit, path, capsys) -> tuple[int, str]:
    from autograder.check import check

    code = check(path, root=kit.root)
    return code, capsys.readouterr().out


# ------------------------------------------------------------------------------------ check
def test_a_finished_notebook_is_ready(kit, tmp_path, capsys):
    """Does a finished notebook with fitting weights get "Ready to submit." and exit 0?"""
    code, out = run_check(kit, submission(kit, tmp_path, weights_width=5), capsys)
    assert code == 0, out
    assert "passed   q1_tests" in out and "passed   q2_tests" in out
    assert out.rstrip().endswith("Ready to submit.")


def test_a_failed_visible_test_stops_ready(kit, tmp_path, capsys):
    """Does a visible test that fails make check exit 1 without "Ready to submit."?"""
    code, out = run_check(kit, submission(kit, tmp_path, q2="def scale(x, k):\n    return x"),
                          capsys)  # fmt: skip
    assert code == 1
    assert "FAILED   q2_tests: raised AssertionError" in out
    assert "The visible test 'q2_tests' failed." in out
    assert "Ready to submit." not in out


def test_an_unanswered_written_question_stops_ready(kit, tmp_path, capsys):
    """Does a written answer still saying "YOUR ANSWER HERE" stop "Ready"?"""
    code, out = run_check(kit, submission(kit, tmp_path, written="YOUR ANSWER HERE"), capsys)
    assert code == 1
    assert "The written answer 'q3_written' still says \"YOUR ANSWER HERE\"" in out
    assert "Ready to submit." not in out


def test_a_prediction_file_not_written_stops_ready(kit, tmp_path, capsys):
    """Does a run that writes no prediction file stop "Ready", naming the file?"""
    path = submission(kit, tmp_path)
    nb = nbformat.read(path, as_version=4)
    # A student cell that points OUTPUT_DIR elsewhere: the locked cell cannot write there.
    nb.cells.insert(len(nb.cells) - 1, new_code_cell('OUTPUT_DIR = "/nonexistent/outputs"'))
    nbformat.write(nb, path)
    code, out = run_check(kit, path, capsys)
    assert code == 1
    assert "p.csv was not written" in out
    assert "Ready to submit." not in out


def test_weights_that_do_not_fit_the_network_stop_ready(kit, tmp_path, capsys):
    """Does check say plainly that the submitted weights do not fit the network?"""
    code, out = run_check(kit, submission(kit, tmp_path, weights_width=3), capsys)
    assert code == 1
    assert (
        "The submitted weights weights.bin do not fit Net as defined in the notebook: "
        "size mismatch for fc.weight"
    ) in out
    assert "Train again and save, or restore the definition you trained." in out


def test_a_missing_weights_file_stops_ready(kit, tmp_path, capsys):
    path = submission(kit, tmp_path)
    (tmp_path / "weights.bin").unlink()
    code, out = run_check(kit, path, capsys)
    assert code == 1
    assert "weights.bin is missing: put it next to the notebook and submit it too." in out


def test_check_says_what_it_covers_not_how_the_grader_is_isolated(kit, tmp_path, capsys):
    """Is the student told what was and was not checked, in words about their work?"""
    _, out = run_check(kit, submission(kit, tmp_path), capsys)
    assert "isolation" not in out.lower() and "caller" not in out
    assert "Not checked here: the hidden tests" in out
    assert "score on the hidden test set" in out


def test_check_runs_the_notebook_with_grades_run_function(kit, tmp_path, capsys, monkeypatch):
    """Does check run through pipeline.run_notebook with the device grade would pick?"""
    calls = []
    real = pipeline.run_notebook

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run_notebook", spy)
    run_check(kit, submission(kit, tmp_path), capsys)
    assert len(calls) == 1
    assert calls[0]["device"] == pipeline.resolve_device("auto")


# ------------------------------------------------------------------------------------ grade
def test_results_say_the_weights_do_not_fit_in_the_performance_item(kit, tmp_path):
    """Does a performance item that earned nothing quote the error that caused it?"""
    results = pipeline.grade(kit, submission(kit, tmp_path, weights_width=3), device="cpu").results
    item = next(t for t in results["tests"] if t["name"] == "Accuracy on the hidden set")
    assert item["score"] == 0
    assert (
        "The submitted weights weights.bin do not fit Net as defined in the notebook: "
        "size mismatch for fc.weight"
    ) in item["output"]


def test_a_performance_item_without_an_earlier_error_has_no_hint(kit, tmp_path):
    results = pipeline.grade(kit, submission(kit, tmp_path, weights_width=5), device="cpu").results
    item = next(t for t in results["tests"] if t["name"] == "Accuracy on the hidden set")
    assert item["score"] == 0  # class 0 for every image: far below zero_at
    assert "error earlier" not in item["output"]


def test_the_feedback_page_says_per_test_what_happened_and_shows_no_grader_folder(kit, tmp_path):
    """Does a graded page open with the results table, put each result at its cell, and hide
    the grader's temporary folders (the injected parameters cell, printed paths)?"""
    path = submission(kit, tmp_path / "sub", weights_width=3, q2="def scale(x, k):\n    return x")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_code_cell("print('my outputs are in', OUTPUT_DIR)"))
    # An error whose message holds a grader path: shown in the cell's output, and the
    # The performance item quotes it (the first error), so it is in the table.
    nb.cells[3].source += "\nimport os\nopen(os.path.join(OUTPUT_DIR, 'missing.txt'))"
    nbformat.write(nb, path)
    graded = pipeline.grade(kit, path, device="cpu", feedback_dir=tmp_path / "fb")
    page = graded.feedback[0].read_text()
    assert "kit-work-" not in page and "kit-grade-" not in page
    # No temporary folder of the grader's (the kit itself may live under /tmp, as a CI clone does).
    assert not re.search(r"/tmp/(kit-|kg-)", page)
    assert "my outputs are in &lt;OUTPUT_DIR&gt;" in page
    table = page[page.index('<table class="kit-results"') : page.index("</table>")]
    for name in ("q1_tests", "q2_tests", "Accuracy on the hidden set"):
        assert name in table
    assert "q2_tests: failed, 0 of 3 points" in page
    assert "Accuracy on the hidden set: failed, 0 of 4 points" in page
    assert "Error(s) in loading state_dict for Net" in page  # the traceback, at its cell
    assert "raised FileNotFoundError" in table and "&lt;OUTPUT_DIR&gt;/missing.txt" in table


# ------------------------------------------------------------------------------ a2, whole
@pytest.mark.slow
def test_a2_weights_of_another_width_are_named_by_check_and_by_the_results(tmp_path, capsys):
    """a2 with ImprovedNet's width changed after training: do check and results.json both say
    that improved_net.pt does not fit ImprovedNet (not only "accuracy = 0.1071")?"""
    from pathlib import Path

    from autograder.check import check

    root = Path(__file__).resolve().parents[1]
    os.environ["KIT_BUNDLE_DIR"] = str(tmp_path / "bundles")
    try:
        assignment = load_assignment("a2_cnn_fashion", root)
        pipeline.build(assignment, device="cpu")
        folder = pipeline.write_submission(
            assignment, tmp_path / "sub", assignment.source_dir, reference_files=True
        )
        path = folder / "a2_cnn_fashion.ipynb"
        nb = nbformat.read(path, as_version=4)
        (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                   == "improved_net"]  # fmt: skip
        assert "width=24" in cell.source
        cell.source = cell.source.replace("width=24", "width=16")
        nbformat.write(nb, path)

        results = pipeline.grade(assignment, folder, device="cpu").results
        (item,) = [t for t in results["tests"] if t["name"].startswith("Improved network")]
        assert item["score"] == 0
        sentence = (
            "The submitted weights improved_net.pt do not fit ImprovedNet as defined in the "
            "notebook: size mismatch for"
        )
        assert sentence in item["output"]

        assert check(path, root=root) == 1
        out = capsys.readouterr().out
        assert sentence in out and "Ready to submit." not in out
    finally:
        os.environ.pop("KIT_BUNDLE_DIR", None)


# Where `check` finds the assignment when no --root is given (no kernel: seconds).


def _handout_layout(folder):
    """What a student unpacks: the notebook, and kit/ beside it with the student copy of
    assignment.toml and the untouched release (autograder.handout's layout)."""
    from autograder.check import HANDOUT_KIT

    toy.make_root(folder / HANDOUT_KIT)
    return toy.student(folder / "toy.ipynb")


def test_check_root_name_is_the_handouts():
    """Does check look for the same kit/ folder the handout writes?"""
    from autograder.check import HANDOUT_KIT
    from autograder.handout import CHECK_ROOT

    assert HANDOUT_KIT == CHECK_ROOT


def test_without_root_check_finds_the_handouts_copy_beside_the_notebook(tmp_path, monkeypatch):
    """Installed from the wheel (the kit's code is in site-packages, far from any assignments/),
    does `check NOTEBOOK` find the assignment in the kit/ folder beside the notebook, whatever
    folder it is run from?"""
    from autograder.check import find_assignment

    notebook = _handout_layout(tmp_path / "handout")
    monkeypatch.chdir(tmp_path)
    found = find_assignment(notebook, None)
    assert found is not None and found.root == tmp_path / "handout" / "kit"
    monkeypatch.chdir(tmp_path / "handout")
    found = find_assignment(Path("toy.ipynb"), None)
    assert found is not None and found.root == tmp_path / "handout" / "kit"


def test_without_root_check_finds_the_kit_the_notebook_lies_in(tmp_path, monkeypatch):
    """Does `check release/<a>/<nb>` in any kit checkout use that kit (not the installed one)?"""
    from autograder.check import find_assignment

    root = toy.make_root(tmp_path / "kit-checkout")
    monkeypatch.chdir(tmp_path)
    found = find_assignment(root / "release" / toy.NAME / "toy.ipynb", None)
    assert found is not None and found.root == root


def test_without_any_kit_check_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch, capsys):
    """A notebook alone in a folder: does check say, without a traceback, where it looked for
    assignment.toml and how to fix it (exit 1)?"""
    from autograder.check import check

    notebook = toy.student(tmp_path / "downloads" / "toy.ipynb")
    monkeypatch.chdir(tmp_path)
    assert check(notebook) == 1
    out = capsys.readouterr().out
    assert str(tmp_path / "downloads" / "kit") in out
    assert "kit/" in out and "--root" in out and "Traceback" not in out


def test_a_broken_assignment_toml_beside_the_notebook_is_named(tmp_path, monkeypatch, capsys):
    """When the handout's assignment.toml cannot be read (a student edited it), does check
    name the file and what is wrong, instead of saying there is no assignment at all?"""
    from autograder.check import check

    notebook = _handout_layout(tmp_path / "handout")
    config = tmp_path / "handout" / "kit" / "assignments" / toy.NAME / "assignment.toml"
    config.write_text(config.read_text().replace("[assignment]", "[assignment\n", 1))
    monkeypatch.chdir(tmp_path)
    assert check(notebook) == 1
    out = capsys.readouterr().out
    assert f"{config} could not be read" in out and "Traceback" not in out


@pytest.mark.skipif(os.geteuid() != 0, reason="planting as another user needs root")
def test_check_does_not_take_an_assignment_planted_in_a_shared_folder(tmp_path):
    """Round-2 attack: a notebook kept under /tmp (no kit/ beside it) while another user has
    planted assignments/ and release/ in /tmp. Does check refuse that kit (whose locked cells
    it would run as the student) rather than take it?"""
    from autograder.check import find_assignment

    shared = tmp_path / "tmp"
    shared.mkdir()
    toy.make_root(shared)  # another user's assignments/toy and release/toy, in /tmp
    for path in [shared / "assignments", shared / "release", *shared.glob("*/toy*"),
                 *shared.glob("*/toy/*")]:  # fmt: skip
        os.chown(path, 4242, 4242)
    shared.chmod(0o1777)
    mine = shared / "student"
    mine.mkdir()
    notebook = toy.student(mine / "toy.ipynb")
    found = find_assignment(notebook, None)
    assert found is None or not str(found.config_dir).startswith(str(shared)), found.config_dir


def _plant(shared: Path, uid: int = 4242) -> None:
    """Another user's kit (assignments/ and release/ of the toy) in ``shared``, a sticky
    folder every user may write, like /tmp."""
    shared.mkdir(parents=True)
    toy.make_root(shared)
    for path in [shared / "assignments", shared / "release", *shared.glob("*/toy*")]:
        os.chown(path, uid, uid)
    shared.chmod(0o1777)


@pytest.mark.skipif(os.geteuid() != 0, reason="planting as another user needs root")
def test_a_skipped_kit_is_named_with_why_in_the_not_found_message(tmp_path, monkeypatch, capsys):
    """Run from the shared folder itself (so the planted kit is also the working folder's):
    is it left out, and does the message say which folders were not looked in and why?"""
    from autograder.check import check

    shared = tmp_path / "tmp"
    _plant(shared)
    notebook = toy.student(shared / "student" / "toy.ipynb")
    monkeypatch.chdir(shared)
    assert check(notebook) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "Found no assignment" in out and "Traceback" not in out, out
    assert f"{shared} and the folders above it (every user of this machine may write" in out, out
    assert f"{shared / 'assignments'}: it belongs to the user with id 4242" in out, out
    assert "--root" in out, out


@pytest.mark.skipif(os.geteuid() != 0, reason="planting as another user needs root")
def test_a_notebook_in_a_shared_folder_still_finds_its_own_kit_beside_it(tmp_path):
    """The handout unpacked straight into a sticky shared folder: is the student's own kit/
    beside the notebook still taken, and another user's kit/ beside a notebook not?"""
    from autograder.check import HANDOUT_KIT, find_assignment

    shared = tmp_path / "tmp"
    shared.mkdir()
    toy.make_root(shared / HANDOUT_KIT)
    shared.chmod(0o1777)
    found = find_assignment(toy.student(shared / "toy.ipynb"), None)
    assert found is not None and found.root == shared / HANDOUT_KIT
    for path in [shared / HANDOUT_KIT / "assignments", shared / HANDOUT_KIT / "release"]:
        os.chown(path, 4242, 4242)
    assert find_assignment(shared / "toy.ipynb", None) is None
