"""The Gradescope package: a grader that scores without torch, and the zip run as Gradescope
runs it (``setup.sh``, then ``run_autograder`` on reference, blank and hostile submissions)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
import toy_assignment as toy

from autograder import pipeline
from autograder.config import load_assignment
from autograder.gradescope.run import schema_problems
from autograder.package import GRADESCOPE_DEFAULT_MB, package, unpack_as_gradescope

ROOT = Path(__file__).resolve().parents[1]

#: Run in a fresh interpreter: score a prediction file for each metric the way ``grade`` does,
#: then list every torch module that got imported on the way.
SCORING_WITHOUT_TORCH = r"""
import sys, tempfile
from pathlib import Path
import numpy as np
from autograder import pipeline, score
from autograder.config import Performance
from helpers.data.hidden import public_test_paths, read_hidden_labels

public_test_paths([])
work = Path(tempfile.mkdtemp())
(work / "single").mkdir(); (work / "multi").mkdir(); (work / "out").mkdir()
(work / "single" / "labels.csv").write_text("id,label\nh0,1\nh1,0\nh2,2\n")
(work / "out" / "p.csv").write_text("id,label\nh0,1\nh1,0\nh2,1\n")
(work / "multi" / "labels.csv").write_text("id,a,b\nh0,1,0\nh1,0,1\nh2,1,-1\n")
(work / "out" / "m.csv").write_text("id,a,b\nh0,0.9,0.1\nh1,0.2,0.8\nh2,0.4,0.3\n")
for labels, name, metric in (("single", "p.csv", "accuracy"),
                             ("multi", "m.csv", "mean_average_precision")):
    band = Performance(name=metric, predictions=name, metric=metric)
    outcome, value = score.score_performance(band, work / "out", work / labels, "visible")
    print(metric, round(value, 6), outcome.score)
torch = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
print("torch modules:", torch)
"""


def test_the_grader_scores_predictions_without_importing_torch():
    """Does the grader's scoring path (pipeline, score, hidden labels, both metrics) run
    without importing torch or torchvision? Importing a CUDA build of torch costs the grader
    about 400 MB of its 768 MB container."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCORING_WITHOUT_TORCH], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "accuracy 0.666667 6.6667"
    assert lines[1].startswith("mean_average_precision 1.0 10.0"), lines[1]
    assert lines[-1] == "torch modules: []"


def test_the_graders_numpy_metrics_equal_the_students_torch_metrics():
    """Do the grader's torch-free accuracy and mAP give exactly what helpers.metrics gives
    students, ties and ignored targets included?"""
    from helpers import metrics
    from helpers.metrics.ranking_numpy import (
        accuracy_of_indices,
        mean_average_precision_of_arrays,
    )

    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(300, 6)).astype(np.float64)  # many ties
    targets = rng.integers(-1, 2, size=(300, 6))
    assert mean_average_precision_of_arrays(scores, targets) == metrics.mean_average_precision(
        scores, targets
    )
    pred, labels = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    assert accuracy_of_indices(pred, labels) == pytest.approx(metrics.accuracy(pred, labels))


# --- the zip, unpacked and run as Gradescope runs it ------------------------------------------

#: Above this (PSS, MB) the grader has most likely imported torch again: here, importing the
#: venv's torch (a CUDA build) after numpy, nbformat and nbclient took a process from 70 to
#: 667 MB. Grading a2 without it peaked at 250 MB in one CI run, so the old bound of 250 failed
#: there; whether torch is imported at all is asserted exactly by
#: test_the_grader_scores_predictions_without_importing_torch.
GRADER_WITHOUT_TORCH_MB = 400
SOLVED = {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"}
KERNEL_USER = os.environ.get("KIT_KERNEL_USER") or "kitgrader"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="setup.sh's users and modes need root")


@pytest.fixture(scope="module")
def toy_zip(tmp_path_factory):
    """The toy assignment built and packaged once, its memory measured through the zip."""
    root = toy.make_root(tmp_path_factory.mktemp("kit"))
    os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
    try:
        assignment = load_assignment(toy.NAME, root)
        pipeline.build(assignment, device="cpu")
        made = package(assignment, tmp_path_factory.mktemp("zip") / "toy.zip")
    finally:
        os.environ.pop("KIT_BUNDLE_DIR", None)
    print(f"\ntoy through its zip: peak {made.peak_mb} MB (grader {made.grader_mb} MB)")
    return made


@pytest.fixture
def autograder_root(toy_zip):
    """A fresh stand-in for /autograder with the zip unpacked and setup.sh run (no installs).
    Made with mkdtemp and opened to 0755 as /autograder is: the kernel's user must pass
    through to the kit, while pytest's own tmp folders are 0700."""
    holder = Path(tempfile.mkdtemp(prefix="kit-gradescope-test-"))
    holder.chmod(0o755)
    root = holder / "autograder"
    env = unpack_as_gradescope(toy_zip.zip_path, root, python=sys.executable,
                               kernel_user=KERNEL_USER)  # fmt: skip
    yield root, env
    shutil.rmtree(holder, ignore_errors=True)


def run_autograder(root: Path, env: dict, notebook: nbformat.NotebookNode | None) -> dict:
    """Put one submission in ``root/submission``, run ``root/run_autograder``, read results."""
    submission = root / "submission"
    shutil.rmtree(submission)
    submission.mkdir()
    if notebook is not None:
        nbformat.write(notebook, submission / "toy.ipynb")
    done = subprocess.run(["bash", str(root / "run_autograder")], env=env, cwd=root,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert schema_problems(results) == [], results
    return results


def solved(**answers: str) -> nbformat.NotebookNode:
    path = Path(tempfile.mkdtemp()) / "toy.ipynb"
    return nbformat.read(toy.student(path, **answers), as_version=4)


def by_name(results: dict) -> dict:
    return {t["name"]: t for t in results["tests"]}


def test_the_zip_holds_what_gradescope_runs_and_no_solution_source(toy_zip):
    """Are setup.sh and run_autograder at the zip's root and executable, torch installed from
    the CPU index, and the repository's source/, reference files and the pool's secret left
    out (the source notebook only inside private/, which setup.sh makes root-only)?"""
    with zipfile.ZipFile(toy_zip.zip_path) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        torch_pins = archive.read("torch_requirements.txt").decode()
        pins = archive.read("requirements.txt").decode()
        readme = archive.read("README.md").decode()
    for script in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(infos[script].external_attr >> 16) == 0o755
    assert "--index-url https://download.pytorch.org/whl/cpu" in setup
    assert torch_pins.splitlines()[0].startswith("torch==")
    assert not any(n.lower().startswith(("torch==", "torchvision==")) for n in pins.splitlines())
    names = set(infos)
    assert not [n for n in names if n.startswith(("source/", "release/", "assignments/"))]
    assert not [n for n in names if n.endswith(("secret", "grading_inputs.py"))]
    assert not [n for n in names if "/reference/" in n]
    notebooks = sorted(n for n in names if n.endswith(".ipynb"))
    assert notebooks == ["private/bundles/toy/release/toy.ipynb",
                         "private/bundles/toy/source/toy.ipynb"]  # fmt: skip
    assert f"peaked at {toy_zip.peak_mb} MB" in readme


def test_grading_the_toy_through_its_zip_fits_gradescopes_default_memory(toy_zip):
    """Does a whole grading run (grader and kernel, PSS) of the toy fit in 768 MB, and is the
    grader itself small now that it scores without torch?"""
    assert toy_zip.reference_score == "5 of 5"
    assert toy_zip.peak_mb is not None and 50 < toy_zip.peak_mb < GRADESCOPE_DEFAULT_MB
    assert toy_zip.grader_mb is not None and toy_zip.grader_mb < GRADER_WITHOUT_TORCH_MB
    assert toy_zip.container_mb == GRADESCOPE_DEFAULT_MB


@needs_root
def test_setup_leaves_the_bundle_to_root_alone(autograder_root):
    """After setup.sh, can the kernel's user read the kit but neither the private bundle nor
    the unpacked zip?"""
    root, _ = autograder_root
    for folder in (root / "private", root / "source"):
        info = folder.stat()
        assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o700
    expected = root / "private" / "bundles" / "toy" / "expected.json"
    assert stat.S_IMODE(expected.stat().st_mode) & 0o077 == 0

    def read_as_kernel_user(path: Path) -> int:
        command = ["setpriv", f"--reuid={KERNEL_USER}", f"--regid={KERNEL_USER}",
                   "--init-groups", "cat", str(path)]  # fmt: skip
        return subprocess.run(command, capture_output=True).returncode

    assert read_as_kernel_user(root / "kit" / "autograder" / "record.py") == 0
    assert read_as_kernel_user(expected) != 0
    assert read_as_kernel_user(root / "source" / "private" / "package.json") != 0


@needs_root
def test_reference_scores_full_marks_and_blank_scores_zero_with_reasons(autograder_root):
    """Does run_autograder grade the reference to full marks and the blank release to zero,
    listing every test with a reason, in Gradescope's schema?"""
    root, env = autograder_root
    full = run_autograder(root, env, solved(**SOLVED))
    assert full["score"] == 5 and full["output_format"] == "text"
    assert [t["status"] for t in full["tests"]] == ["passed", "passed"]
    blank = run_autograder(root, env, solved())
    assert blank["score"] == 0
    assert set(by_name(blank)) == {"q1_tests", "q2_tests"}
    assert "not written yet" in by_name(blank)["q1_tests"]["output"]


@needs_root
def test_a_submission_that_attacks_the_results_gets_its_true_score(autograder_root):
    """Does a notebook that deletes the results folder, writes a fake results.json, prints one
    and reads the private bundle still get the score its answers earn, and nothing of it?"""
    root, env = autograder_root
    fake = json.dumps({"score": 100, "tests": []})
    hostile = (
        "import json, shutil, pathlib\n"
        f"results = pathlib.Path({str(root / 'results')!r})\n"
        "shutil.rmtree(results, ignore_errors=True)\n"
        "try:\n"
        f"    (results / 'results.json').write_text({fake!r})\n"
        "except OSError as error:\n"
        "    print('write refused:', type(error).__name__)\n"
        f"print({fake!r})\n"
        "for secret in ('private/bundles/toy/expected.json', 'source/setup.sh'):\n"
        "    try:\n"
        f"        print(pathlib.Path({str(root)!r}, secret).read_text()[:100])\n"
        "    except OSError as error:\n"
        "        print('read refused:', type(error).__name__)\n"
        "def add(a, b):\n"
        "    return a - b\n"
    )
    results = run_autograder(root, env, solved(q1=hostile, q2=SOLVED["q2"]))
    tests = by_name(results)
    assert results["score"] == 3
    assert tests["q1_tests"]["score"] == 0 and tests["q2_tests"]["score"] == 3
    assert (root / "private" / "bundles" / "toy" / "expected.json").is_file()
    assert [t["name"] for t in results["tests"]] == ["q1_tests", "q2_tests"]
    assert "input_pool" not in json.dumps(results)  # nothing of the bundle came through


@needs_root
def test_a_submission_that_outlasts_the_budget_still_gets_results_in_time(autograder_root):
    """When grading runs past the package's time budget, is the grader stopped and every test
    listed with the reason, before Gradescope's own timeout would leave no results at all?"""
    root, env = autograder_root
    package_json = root / "private" / "package.json"
    settings = json.loads(package_json.read_text())
    package_json.write_text(json.dumps({**settings, "time_limit_s": 30}))  # budget: 10 s
    started = time.monotonic()
    results = run_autograder(root, env, solved(q1="import time\ntime.sleep(50)", q2=SOLVED["q2"]))
    assert time.monotonic() - started < 35
    assert [t["name"] for t in results["tests"]] == ["q1_tests", "q2_tests"]
    assert all("longer than its 10 s budget" in t["output"] for t in results["tests"])


@needs_root
def test_a_grader_that_fails_still_writes_every_test_with_the_reason(autograder_root):
    """When the grader cannot grade (here: its bundle is damaged) or Python cannot start, is
    there still a results.json, listing every test (or saying why not) for the student?"""
    root, env = autograder_root
    (root / "private" / "bundles" / "toy" / "expected.json").unlink()
    results = run_autograder(root, env, solved(**SOLVED))
    assert results["score"] == 0
    assert [t["name"] for t in results["tests"]] == ["q1_tests", "q2_tests"]
    assert all(t["output"].startswith("Not graded: the grader stopped with exit status 3")
               for t in results["tests"])  # fmt: skip
    results = run_autograder(root, {**env, "KIT_PYTHON": "/nonexistent/python"}, None)
    assert results["tests"] == [] and "could not start" in results["output"]


def test_the_schema_check_names_what_gradescope_would_refuse():
    """Does the results check catch wrong types, statuses, visibilities and leaderboards?"""
    bad = {"score": float("nan"), "output_format": "pdf", "tests": [
        {"name": "t", "score": 1, "max_score": 1, "status": "passed", "visibility": "public"}],
        "leaderboard": [{"name": "acc"}], "grade": 3}  # fmt: skip
    assert schema_problems(bad) == [
        "unknown key 'grade'",
        "score is not a number",
        "output_format 'pdf' is not one of text, html, simple_format, md, ansi",
        "tests[0].visibility 'public' is not one of hidden, after_due_date, after_published, "
        "visible",
        "leaderboard[0] needs a text name, a number or text value, and an order of asc or desc",
    ]


@needs_root
@pytest.mark.slow
@pytest.mark.parametrize("name", ["a1_mlp_numpy", "a2_cnn_fashion"])
def test_every_assignment_through_its_zip_states_the_container_it_needs(name, tmp_path):
    """Does each real assignment's reference score full marks through its zip, and does the
    zip's README name the container memory its measured peak needs (warning above 768 MB)?"""
    os.environ["KIT_BUNDLE_DIR"] = str(tmp_path / "bundles")
    try:
        assignment = load_assignment(name, ROOT)
        pipeline.build(assignment, device="cpu")
        made = package(assignment, tmp_path / f"{name}.zip")
    finally:
        os.environ.pop("KIT_BUNDLE_DIR", None)
    print(f"\n{name} through its zip: peak {made.peak_mb} MB (grader {made.grader_mb} MB), "
          f"container {made.container_mb} MB, reference {made.reference_score}")  # fmt: skip
    points = made.reference_score.split(" of ")
    assert points[0] == points[1], made.notes
    assert made.grader_mb < GRADER_WITHOUT_TORCH_MB
    with zipfile.ZipFile(made.zip_path) as archive:
        readme = archive.read("README.md").decode()
    assert f"Container memory needed: {made.container_mb} MB" in readme
    warned = any("set the container's memory" in n for n in made.notes)
    assert warned == (made.container_mb > GRADESCOPE_DEFAULT_MB)


def test_package_without_a_bundle_says_to_build_first(tmp_path):
    """Does `package` on an assignment that was never built exit 3 and name the command?"""
    root = toy.make_root(tmp_path / "kit")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIT_BUNDLE_DIR": str(tmp_path / "none")}
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "package", "toy", "--root", str(root),
         "--out", str(tmp_path / "toy.zip")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3
    assert "Run `python -m autograder build toy` first, then package again." in done.stderr
    assert not (tmp_path / "toy.zip").exists()
