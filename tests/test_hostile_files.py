"""Files and folders a hostile submission controls: links, hard links, deep trees, huge files.

The grader runs as root, so every path student code could have replaced must be read through
verified handles (``autograder.safe_fs``) and every size bounded before reading. Each test here
is a case that once made the grader read, quote or delete what the student cannot, or crash.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import tempfile
import time
import tracemalloc

import nbformat
import numpy as np
import pytest
import toy_assignment as toy

from autograder import pipeline, safe_fs
from autograder.config import Performance, load_assignment
from autograder.score import Expected, compare_record, read_predictions, score_performance

SOLVED = {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"}
#: q1 right, q2 wrong without raising: q2_tests runs and records values that do not match.
WRONG_Q2 = {"q1": SOLVED["q1"], "q2": "def scale(x, k):\n    return x"}
IDS = ["h00000", "h00001", "h00002"]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the kernel user exists only as root")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """The toy assignment, built once; its config also asks for a file ``weights.bin``."""
    root = toy.make_root(tmp_path_factory.mktemp("kit"))
    config = root / "assignments" / toy.NAME / "assignment.toml"
    config.write_text(
        config.read_text()
        .replace(
            'grading_inputs = "grading_inputs.py"',
            'grading_inputs = "grading_inputs.py"\nfiles = ["weights.bin"]',
        )
        .replace("[limits]", "[limits]\nmax_submitted_file_mb = 1")
    )
    os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
    assignment = load_assignment(toy.NAME, root)
    summary = pipeline.build(assignment, device="cpu")
    yield assignment, summary
    os.environ.pop("KIT_BUNDLE_DIR", None)


#: A hidden test set and a prediction file scored by accuracy, for the OUTPUT_DIR cases.
PERFORMANCE = """
[hidden_data]
dataset = "fashion-mnist"
seed = 5
limit = 50

[[performance]]
name = "Accuracy on the hidden set"
predictions = "p.csv"
metric = "accuracy"
zero_at = 0.0
full_at = 1.0
max_score = 1.0
"""
#: A last cell that writes the prediction file (every image: class 0).
PREDICT = (
    "import os\nfrom helpers.data.hidden import read_hidden_inputs\n"
    "from helpers.predictions import save_predictions\n"
    "ids, _ = read_hidden_inputs(DATA_DIR)\n"
    "save_predictions(os.path.join(OUTPUT_DIR, 'p.csv'), ids, [0] * len(ids))\n"
)


@pytest.fixture(scope="module")
def perf_kit(tmp_path_factory):
    """The toy assignment with a hidden Fashion-MNIST subset and a performance band."""
    root = toy.make_root(tmp_path_factory.mktemp("perf"))
    config = root / "assignments" / toy.NAME / "assignment.toml"
    config.write_text(config.read_text() + PERFORMANCE)
    os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
    assignment = load_assignment(toy.NAME, root)
    summary = pipeline.build(assignment, device="cpu")
    yield assignment, summary
    os.environ.pop("KIT_BUNDLE_DIR", None)


def grade(kit, submission):
    return pipeline.grade(kit[0], submission, device="cpu").results


def by_name(results):
    return {t["name"]: t for t in results["tests"]}


def with_last_cell(path, code: str):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(code))
    nbformat.write(nb, path)
    return path


@pytest.fixture
def canary(tmp_path):
    """A root-only folder with a secret file, a link and a sub-folder; returns (folder, listing)."""
    folder = tmp_path / "canary"
    (folder / "sub").mkdir(parents=True)
    (folder / "secret.txt").write_text("CANARY-FIRST-LINE\nmore\n")
    (folder / "p.csv").write_text("CANARY-FIRST-LINE,of another submission's predictions\n")
    (folder / "sub" / "x.npy").write_bytes(b"not an array")
    os.symlink("/etc/hostname", folder / "link")
    os.chmod(folder, 0o700)
    os.chmod(folder / "secret.txt", 0o600)
    return folder, sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ------------------------------------------------------------------------------ whole runs
@needs_root
@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "permissions-only"])
def test_records_folder_replaced_by_a_link_to_the_expected_records_scores_nothing(
    kit, tmp_path, monkeypatch, namespaces
):
    """Can the last cell swap the records folder for a link to the bundle's expected records?
    (Also where namespaces are refused and only file ownership protects the work folder.)"""
    if not namespaces:
        from autograder import sandbox

        monkeypatch.setattr(
            sandbox.isolation, "probe_namespaces", lambda: (False, "refused in this test")
        )
    expected = pipeline.bundle_dir(kit[0]) / "draws" / "0" / "expected"
    swap = (
        "import os\n"
        "d = os.environ['KIT_RECORD_DIR']\n"
        "try:\n"
        "    os.rename(d, d + '.old')\n"
        "except OSError as e:\n    print('rename', e)\n"
        f"try:\n    os.symlink({str(expected)!r}, d)\nexcept OSError as e:\n    print('link', e)\n"
    )
    path = with_last_cell(toy.student(tmp_path / "toy.ipynb", **WRONG_Q2), swap)
    results = grade(kit, path)
    assert by_name(results)["q2_tests"]["score"] == 0
    assert by_name(results)["q1_tests"]["score"] == 2


@needs_root
def test_hiding_by_permissions_lasts_for_the_run_only(kit, tmp_path, monkeypatch):
    """Where namespaces are refused, hidden paths lose their "other" bits while the kernel runs:
    are they given back afterwards (Fashion-MNIST's public test files once stayed unreadable to
    every user of the machine)?"""
    from autograder import sandbox

    monkeypatch.setattr(
        sandbox.isolation, "probe_namespaces", lambda: (False, "refused in this test")
    )
    public = tmp_path / "t10k-images-idx3-ubyte.gz"
    public.write_text("public test images")
    public.chmod(0o644)
    monkeypatch.setenv("KIT_HIDE", str(public))
    results = grade(kit, toy.student(tmp_path / "toy.ipynb", **SOLVED))
    assert results["score"] == 5
    assert stat.S_IMODE(public.stat().st_mode) == 0o644


@needs_root
def test_links_to_a_root_only_folder_are_neither_followed_nor_emptied(kit, tmp_path, canary):
    """Do links from OUTPUT_DIR, the records folder and a record to root-only files leave them
    untouched and unquoted?"""
    folder, listing = canary
    attack = (
        "import os, shutil\n"
        f"canary = {str(folder)!r}\n"
        "for d in (OUTPUT_DIR, os.environ['KIT_RECORD_DIR']):\n"
        "    try:\n"
        "        shutil.rmtree(d); os.symlink(canary, d)\n"
        "    except OSError as e:\n"
        "        print('could not replace', type(e).__name__)\n"
        "        for name in os.listdir(d):\n"
        "            os.remove(os.path.join(d, name))\n"
        "        os.symlink(canary + '/secret.txt', os.path.join(d, 'scale.ones.npy'))\n"
        "        os.symlink(canary, os.path.join(d, 'sub'))\n"
    )
    path = with_last_cell(toy.student(tmp_path / "s" / "toy.ipynb", **WRONG_Q2), attack)
    results = grade(kit, path)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == listing
    assert (folder / "secret.txt").read_text().startswith("CANARY-FIRST-LINE")
    assert "CANARY" not in json.dumps(results)
    assert by_name(results)["q2_tests"]["score"] == 0


@needs_root
def test_a_prediction_file_linked_to_a_root_only_file_is_neither_read_nor_quoted(
    perf_kit, tmp_path, canary
):
    """Does a p.csv that links to a root-only file get its first line quoted? (It must not.)"""
    folder, _ = canary
    good = with_last_cell(toy.student(tmp_path / "good" / "toy.ipynb", **SOLVED), PREDICT)
    results = grade(perf_kit, good)
    accuracy = by_name(results)["Accuracy on the hidden set"]
    assert "accuracy = " in accuracy["output"] and "on 50 hidden images" in accuracy["output"]
    attack = PREDICT + (
        "os.remove(os.path.join(OUTPUT_DIR, 'p.csv'))\n"
        f"os.symlink({str(folder / 'secret.txt')!r}, os.path.join(OUTPUT_DIR, 'p.csv'))\n"
    )
    path = with_last_cell(toy.student(tmp_path / "bad" / "toy.ipynb", **SOLVED), attack)
    results = grade(perf_kit, path)
    accuracy = by_name(results)["Accuracy on the hidden set"]
    assert "CANARY" not in json.dumps(results)
    assert accuracy["score"] == 0 and "p.csv is a symbolic link" in accuracy["output"]


@needs_root
def test_output_dir_swapped_for_a_link_to_a_root_only_folder_is_not_read(
    perf_kit, tmp_path, canary
):
    """OUTPUT_DIR swapped for a link to a root-only folder that holds a p.csv (another
    submission's, say): is that file read and quoted? (The kernel user cannot even rename
    OUTPUT_DIR, so nothing is written.)"""
    folder, listing = canary
    attack = (
        "import os\n"
        "try:\n    os.rename(OUTPUT_DIR, OUTPUT_DIR + '.old')\n"
        "except OSError as e:\n    print('rename', type(e).__name__)\n"
        f"try:\n    os.symlink({str(folder)!r}, OUTPUT_DIR)\n"
        "except OSError as e:\n    print('link', type(e).__name__)\n"
    )
    path = with_last_cell(toy.student(tmp_path / "swap" / "toy.ipynb", **SOLVED), attack)
    results = grade(perf_kit, path)
    accuracy = by_name(results)["Accuracy on the hidden set"]
    assert "CANARY" not in json.dumps(results)
    assert accuracy["score"] == 0 and "p.csv was not written" in accuracy["output"]
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == listing


def test_a_notebook_that_is_a_link_to_the_source_is_refused(kit, tmp_path):
    """Is a submitted notebook that links to the instructor's source graded as blank?"""
    assignment, _ = kit
    (tmp_path / "sub").mkdir()
    os.symlink(assignment.source_dir / "toy.ipynb", tmp_path / "sub" / "toy.ipynb")
    results = grade(kit, tmp_path / "sub")
    assert results["score"] == 0 and len(results["tests"]) == 2
    assert "toy.ipynb is a symbolic link" in results["output"]
    # Named directly, too.
    results = grade(kit, tmp_path / "sub" / "toy.ipynb")
    assert results["score"] == 0 and "symbolic link" in results["output"]


def test_a_symlinked_folder_in_the_submission_is_not_searched(kit, tmp_path):
    """Is a notebook reached only through a linked folder ignored?"""
    assignment, _ = kit
    (tmp_path / "sub").mkdir()
    os.symlink(assignment.source_dir, tmp_path / "sub" / "more")
    results = grade(kit, tmp_path / "sub")
    assert results["score"] == 0
    assert "No notebook was found" in results["output"]


def test_a_weights_file_over_the_limit_is_refused_before_copying(kit, tmp_path):
    """Is a submitted file over max_submitted_file_mb refused with a note, and not copied?"""
    submission = tmp_path / "sub"
    path = toy.student(submission / "toy.ipynb", **SOLVED)
    with_last_cell(path, "import os\nprint('WEIGHTS-COPIED', os.path.exists('weights.bin'))")
    with open(submission / "weights.bin", "wb") as f:
        f.truncate(3 * 2**20)  # sparse: 3 MB over a 1 MB limit
    graded = pipeline.grade(kit[0], submission, device="cpu", feedback_dir=tmp_path / "fb")
    results = graded.results
    assert "weights.bin is 3,145,728 bytes, over the 1,048,576 byte limit" in results["output"]
    assert results["score"] == 5  # the notebook is still graded
    assert "WEIGHTS-COPIED False" in graded.feedback[0].read_text()
    # Under the limit, the same file is copied.
    with open(submission / "weights.bin", "wb") as f:
        f.truncate(2**20 - 1)
    graded = pipeline.grade(kit[0], submission, device="cpu", feedback_dir=tmp_path / "fb")
    assert "WEIGHTS-COPIED True" in graded.feedback[0].read_text()


def test_a_symlinked_weights_file_is_refused_with_a_note(kit, tmp_path):
    submission = tmp_path / "sub"
    toy.student(submission / "toy.ipynb", **SOLVED)
    os.symlink("/etc/hostname", submission / "weights.bin")
    results = grade(kit, submission)
    assert "weights.bin is a symbolic link" in results["output"]
    assert results["score"] == 5


@pytest.mark.parametrize("where", ["cwd", "OUTPUT_DIR"])
def test_a_1500_level_tree_still_gets_results_and_is_removed(kit, tmp_path, monkeypatch, where):
    """Does a tree deeper than Python's recursion limit crash the grader or stay behind?"""
    made = []
    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: made.append(real_mkdtemp(*a, **k))
                        or made[-1])  # fmt: skip
    top = "os.getcwd()" if where == "cwd" else "OUTPUT_DIR"
    deep = (
        f"import os\nhere = os.getcwd()\nos.chdir({top})\n"
        "for _ in range(1500):\n    os.mkdir('d'); os.chdir('d')\n"
        "open('leaf.txt', 'w').write('x')\nos.chdir(here)"
    )
    path = with_last_cell(toy.student(tmp_path / "toy.ipynb", **SOLVED), deep)
    results = grade(kit, path)
    assert results["score"] == 5
    assert made and not [p for p in made if os.path.lexists(p)]


@needs_root
@pytest.mark.parametrize("where", ["cwd", "OUTPUT_DIR"])
def test_filling_the_disk_costs_only_the_student(kit, tmp_path, monkeypatch, where):
    """Does a cell that writes until the disk is full (once: ENOSPC writing the executed notebook,
    no results, a full work folder left behind) stop at the run's cap, while the other tests keep
    their points and the work folder goes?"""
    made = []
    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: made.append(real_mkdtemp(*a, **k))
                        or made[-1])  # fmt: skip
    assignment = kit[0]
    small = dataclasses.replace(assignment, limits=dataclasses.replace(assignment.limits,
                                                                       disk_mb=24))  # fmt: skip
    top = "os.getcwd()" if where == "cwd" else "OUTPUT_DIR"
    fill = (
        f"import os\nblock = b'x' * (1 << 20)\nwritten = 0\n"
        f"try:\n    for i in range(100000):\n"
        f"        with open(os.path.join({top}, f'fill{{i}}.bin'), 'wb') as f:\n"
        f"            for _ in range(16):\n                f.write(block); written += 1\n"
        f"except OSError as error:\n    print('stopped after', written, 'MB:', error)\n"
    )
    path = with_last_cell(toy.student(tmp_path / "toy.ipynb", **SOLVED), fill)
    graded = pipeline.grade(small, path, device="cpu", feedback_dir=tmp_path / "feedback")
    assert graded.results["score"] == 5, graded.results
    page = "".join(p.read_text() for p in graded.feedback)
    stopped = re.search(r"stopped after (\d+) MB", page)
    assert stopped and int(stopped.group(1)) <= 24 + 16 + 1, page[-2000:]
    assert made and not [p for p in made if os.path.lexists(p)]


def test_json_nested_100000_deep_is_refused_with_a_note(kit, tmp_path):
    path = tmp_path / "toy.ipynb"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text('{"cells": [], "metadata": {"x": ' + deep + '}, "nbformat": 4, '
                    '"nbformat_minor": 5}')  # fmt: skip
    results = grade(kit, path)
    assert len(results["tests"]) == 2 and results["score"] == 0
    assert "nested more than" in results["output"]


def test_an_nbformat_3_notebook_is_converted_and_graded(kit, tmp_path):
    nb = nbformat.read(toy.student(tmp_path / "v4.ipynb", **SOLVED), as_version=4)
    path = tmp_path / "v3" / "toy.ipynb"
    path.parent.mkdir()
    nbformat.write(nbformat.convert(nb, 3), path)
    assert json.loads(path.read_text())["nbformat"] == 3
    assert grade(kit, path)["score"] == 5


def test_a_notebook_with_a_byte_order_mark_is_read(kit, tmp_path):
    path = toy.student(tmp_path / "toy.ipynb", **SOLVED)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert grade(kit, path)["score"] == 5


def test_too_many_cells_or_a_huge_cell_are_refused_with_a_note(tmp_path):
    from autograder.intake import MAX_CELL_CHARS, MAX_CELLS, read_submission

    nb = toy.release()
    nb.cells += [nbformat.v4.new_markdown_cell("x") for _ in range(MAX_CELLS)]
    nbformat.write(nb, tmp_path / "toy.ipynb")
    intake = read_submission(tmp_path / "toy.ipynb", "toy.ipynb")
    assert intake.notebook is None and f"more than {MAX_CELLS:,} cells" in intake.notes[0]
    nb = toy.release()
    nb.cells[3].source = "x" * (MAX_CELL_CHARS + 1)
    nbformat.write(nb, tmp_path / "toy.ipynb")
    intake = read_submission(tmp_path / "toy.ipynb", "toy.ipynb")
    assert intake.notebook is None and "cell 4 holds" in intake.notes[0]


# ------------------------------------------------------------------------------ scoring
def test_a_hard_linked_record_is_not_read(tmp_path):
    """Can a record hard-linked to the expected file pass? (It must not.)"""
    actual, expected = tmp_path / "a", tmp_path / "e"
    actual.mkdir(), expected.mkdir()
    np.save(expected / "x.npy", np.array([1.0, 2.0, 3.0]))
    os.link(expected / "x.npy", actual / "x.npy")
    problem = compare_record("x", actual, expected, Expected("x", 1e-6, 0.0))
    assert problem is not None and "hard link" in problem


def test_a_linked_record_folder_is_not_read(tmp_path):
    expected = tmp_path / "e"
    expected.mkdir()
    np.save(expected / "x.npy", np.array([1.0, 2.0, 3.0]))
    os.symlink(expected, tmp_path / "a")
    problem = compare_record("x", tmp_path / "a", expected, Expected("x", 1e-6, 0.0))
    assert problem is not None and "symbolic link" in problem


def _labels(folder, n=3):
    folder.mkdir()
    (folder / "labels.csv").write_text("id,label\n" + "".join(f"h{i:05d},{i % 3}\n"
                                                              for i in range(n)))  # fmt: skip
    return folder


def test_a_prediction_file_linked_to_a_root_only_file_is_not_quoted(tmp_path, canary):
    folder, _ = canary
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(folder / "secret.txt", out / "p.csv")
    band = Performance("acc", "p.csv", zero_at=0.0, full_at=1.0, max_score=1)
    outcome, value = score_performance(band, out, _labels(tmp_path / "lab"), "visible")
    assert value is None and outcome.score == 0
    assert "CANARY" not in outcome.output and "symbolic link" in outcome.output


def test_a_csv_with_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbfid,label\nh00002,1\nh00000,3\nh00001,0\n")
    assert read_predictions(path, IDS, 10, multilabel=False).tolist() == [3, 0, 1]


def test_a_250_mb_csv_is_refused_fast_with_bounded_memory(tmp_path):
    path = tmp_path / "p.csv"
    with open(path, "wb") as f:
        f.write(b"id,label\n")
        f.truncate(250 * 2**20)
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"over the .* byte limit"):
        read_predictions(path, IDS, 10, multilabel=False)
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 2**20


def test_rows_and_lines_are_capped_while_streaming(tmp_path):
    ids = [f"h{i:05d}" for i in range(1000)]
    path = tmp_path / "p.csv"
    path.write_text("id,label\n" + "h00000," + "1" * 20_000 + "\n")
    with pytest.raises(ValueError, match="line 2 is longer than"):
        read_predictions(path, ids, 10, multilabel=False)
    path.write_text("id,label\n" + "\n" * 1100 + "h00000,1\n")
    with pytest.raises(ValueError, match="more than 1,017 lines"):
        read_predictions(path, ids, 10, multilabel=False)


def test_an_npy_header_is_checked_before_its_data_is_read(tmp_path):
    path = tmp_path / "p.npy"
    header = {"descr": "<f8", "fortran_order": False, "shape": (2**40,)}
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 64)
    with pytest.raises(ValueError, match=r"has shape \(1099511627776,\), expected 3 rows"):
        read_predictions(path, IDS, 10, multilabel=False)


# ------------------------------------------------------------------------------ safe_fs
def test_safe_fs_refuses_links_fifos_and_oversized_files(tmp_path):
    (tmp_path / "f.txt").write_text("hello")
    os.symlink(tmp_path / "f.txt", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    os.symlink(tmp_path, tmp_path / "dirlink")
    with safe_fs.Folder.open(tmp_path) as folder:
        assert folder.read_bytes("f.txt", 5) == b"hello"
        with pytest.raises(safe_fs.UnsafeFileError, match="over the 4 byte limit"):
            folder.read_bytes("f.txt", 4)
        with pytest.raises(safe_fs.UnsafeFileError, match="symbolic link"):
            folder.read_bytes("link", 100)
        with pytest.raises(safe_fs.UnsafeFileError, match="a FIFO, not a regular file"):
            folder.read_bytes("fifo", 100)  # and does not block
        with pytest.raises(safe_fs.UnsafeFileError):
            folder.read_bytes("dirlink/f.txt", 100)
        with pytest.raises(safe_fs.UnsafeFileError):
            folder.folder("dirlink")
        with pytest.raises(safe_fs.UnsafeFileError, match="not a plain relative"):
            folder.read_bytes("../f.txt", 100)
        assert folder.names() == ["dirlink", "f.txt", "fifo", "link"]
    with pytest.raises(safe_fs.UnsafeFileError, match="symbolic link"):
        safe_fs.Folder.open(tmp_path / "dirlink")
    with pytest.raises(safe_fs.UnsafeFileError, match="belongs to uid"):
        safe_fs.Folder.open(tmp_path, owner=os.geteuid() + 1)


def test_remove_tree_never_follows_a_link(tmp_path, canary):
    folder, listing = canary
    victim = tmp_path / "victim"
    here = victim
    for _ in range(1500):  # deeper than Python's recursion limit
        here = here / "d"
    fd = os.open(tmp_path, os.O_RDONLY)
    try:  # build it with relative mkdirs: the whole path is longer than PATH_MAX allows
        os.mkdir(victim)
        cur = os.open(victim, os.O_RDONLY)
        for _ in range(1500):
            os.mkdir("d", dir_fd=cur)
            nxt = os.open("d", os.O_RDONLY, dir_fd=cur)
            os.close(cur)
            cur = nxt
        os.symlink(folder, "link", dir_fd=cur)
        os.close(cur)
    finally:
        os.close(fd)
    os.symlink(folder, victim / "top-link")
    safe_fs.remove_tree(victim)
    assert not victim.exists()
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == listing
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_check_tells_a_student_that_a_file_is_over_the_limit(kit, tmp_path, capsys):
    """Does the student's own `check` say, before submitting, that the weights are too large?"""
    from autograder.check import check

    path = toy.student(tmp_path / "toy.ipynb", **SOLVED)
    with open(tmp_path / "weights.bin", "wb") as f:
        f.truncate(3 * 2**20)
    assert check(path, root=kit[0].root) == 1
    assert "weights.bin is 3 MB; the grader takes files up to 1 MB" in capsys.readouterr().out
