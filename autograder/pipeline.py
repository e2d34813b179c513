"""The grading pipeline: build an assignment's private bundle, and grade one submission.

``build`` runs the source solution through the same pipeline a submission takes and keeps what
it recorded as the expected results; ``grade`` assembles a submission, runs it, and scores it
against that bundle. Both call ``run_notebook``, so the expected results and the graded ones
come from identical conditions.

The private bundle (``build/autograder/<a>/`` by default, mode 0700)::

    source/<nb>.ipynb, release/<nb>.ipynb   the notebooks, as built
    inputs/<name>.npy                       the hidden tests' inputs (grading_inputs.py)
    expected/<name>.npy, expected.json      what the source recorded, per test cell
    hidden/inputs/, hidden/labels/          the hidden test set (helpers.data.hidden)
    reference/                              the files a reference submission includes
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np

from autograder.assemble import assemble, grade_id, is_autograded_test
from autograder.config import Assignment
from autograder.intake import read_submission
from autograder.record import INPUTS_DIR_ENV, RECORD_DIR_ENV, RECORD_MIMETYPE
from autograder.score import (
    Expected,
    TestOutcome,
    load_expected,
    score_performance,
    score_test_cell,
)

__all__ = [
    "BuildError",
    "Graded",
    "build",
    "bundle_dir",
    "grade",
    "resolve_device",
    "write_submission",
]

HIDDEN_MARK = "### BEGIN HIDDEN TESTS"


class BuildError(RuntimeError):
    """The source solution does not pass its own tests, or the bundle cannot be made."""


def bundle_dir(assignment: Assignment) -> Path:
    """Where ``build`` keeps the assignment's private bundle (``$KIT_BUNDLE_DIR/<a>`` if set)."""
    base = os.environ.get("KIT_BUNDLE_DIR") or assignment.root / "build" / "autograder"
    return Path(base) / assignment.name


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when an NVIDIA GPU is visible, else ``cpu``.

    Checked without importing torch in the grader (a second or two per submission): the
    device node is what a CUDA kernel would open.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"Unknown device {device!r}. Valid values are 'auto', 'cpu', 'cuda'.")
    if device != "auto":
        return device
    return "cuda" if Path("/dev/nvidia0").exists() or Path("/dev/nvidiactl").exists() else "cpu"


@dataclass
class NotebookRun:
    """What one notebook's execution left, for scoring."""

    executed: nbformat.NotebookNode
    errors: dict[str, str]  # grade_id -> one sentence ("raised ValueError: ...")
    not_run: dict[str, str]  # grade_id -> why it did not run
    records_dir: Path
    output_dir: Path
    notices: list[str]
    elapsed_s: float
    workdir: Path


def _private_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o700)
    return path


def _drop_untrusted_links(folder: Path) -> None:
    """Remove everything but regular files: a student's symlink to a hidden file must not be
    followed by the grader, which can read what the student cannot."""
    for path in sorted(folder.rglob("*"), reverse=True):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            path.unlink()


def describe_failure(failure) -> str:
    """How a cell failed, e.g. 'raised ValueError: shapes differ'; an unanswered part (a bare
    NotImplementedError from the release's stub) says so in words."""
    if failure.ename == "NotImplementedError" and not failure.evalue.strip():
        return "raised NotImplementedError: the code it tests is not written yet."
    return f"raised {failure.ename}: {failure.evalue}".strip()


def _cell_outcomes(result, executed) -> tuple[dict[str, str], dict[str, str]]:
    """Map the executor's per-cell findings to grade_ids."""
    errors, not_run = {}, {}
    for index, cell in enumerate(executed.cells):
        gid = cell.get("metadata", {}).get("kit", {}).get("grade_id")
        if gid is None:
            continue
        if index in result.not_run:
            not_run[gid] = result.not_run[index].message
        elif index in result.failures:
            errors[gid] = f"The cell {describe_failure(result.failures[index])}"
    return errors, not_run


def run_notebook(
    assignment: Assignment,
    bundle: Path,
    notebook_name: str,
    student: nbformat.NotebookNode | None,
    submission_files: Path | None,
    *,
    device: str,
    isolate: bool | None,
    private: Path,
) -> tuple[NotebookRun, list[str]]:
    """Assemble and execute one notebook; returns the run and the assembly's repairs."""
    from autograder.execute import execute_notebook

    source = nbformat.read(bundle / "source" / notebook_name, as_version=4)
    release = nbformat.read(bundle / "release" / notebook_name, as_version=4)
    assembled = assemble(source, release, student)

    workdir = Path(tempfile.mkdtemp(prefix="kit-work-"))
    notices: list[str] = []
    for name in assignment.files:
        found = submission_files / name if submission_files else None
        if found is not None and found.is_file() and not found.is_symlink():
            shutil.copy2(found, workdir / name)
        else:
            notices.append(f"The file {name} was not in the submission; cells that need it fail.")
    data_dir, output_dir = workdir / "data", workdir / "outputs"
    records_dir, inputs_dir = workdir / ".records", workdir / ".inputs"
    for folder in (output_dir, records_dir):
        folder.mkdir()
    if (bundle / "hidden" / "inputs").is_dir():
        shutil.copytree(bundle / "hidden" / "inputs", data_dir)
    if (bundle / "inputs").is_dir():
        shutil.copytree(bundle / "inputs", inputs_dir)
    parameters = {
        "GRADING": True,
        "DEVICE": device,
        "DATA_DIR": str(data_dir) if data_dir.exists() else None,
        "OUTPUT_DIR": str(output_dir),
        "SEED": assignment.seed,
    }
    kernel_env = {
        "KIT_GRADING": "1",
        RECORD_DIR_ENV: str(records_dir),
        INPUTS_DIR_ENV: str(inputs_dir),
        "MPLBACKEND": "Agg",
    }
    root = assignment.root
    hide = [bundle, private, root / "source", root / "assignments", root / "build", root / ".git"]
    # KIT_HIDE: more paths to keep from the kernel (e.g. an instructor's other courses),
    # separated like PATH.
    hide += [Path(p) for p in os.environ.get("KIT_HIDE", "").split(os.pathsep) if p]
    started = time.monotonic()
    result = execute_notebook(
        assembled.notebook,
        workdir=workdir,
        parameters=parameters,
        limits=assignment.limits,
        kernel_env=kernel_env,
        hide=[p for p in hide if p.exists()],
        isolate=isolate,
        output_path=private / f"executed-{notebook_name}",
    )
    elapsed = time.monotonic() - started
    for folder in (records_dir, output_dir):
        _drop_untrusted_links(folder)
    errors, not_run = _cell_outcomes(result, result.notebook)
    notices += list(result.notices)
    if not result.isolation.enabled:
        notices.append(f"Grader: {result.isolation.describe()}.")
    run = NotebookRun(result.notebook, errors, not_run, records_dir, output_dir, notices,
                      elapsed, workdir)  # fmt: skip
    return run, assembled.repairs


# --------------------------------------------------------------------------------------------
# build


def _grading_inputs(assignment: Assignment, target: Path) -> None:
    if not assignment.grading_inputs:
        return
    path = assignment.config_dir / assignment.grading_inputs
    spec = importlib.util.spec_from_file_location(f"_kit_inputs_{assignment.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    inputs = module.make_inputs(np.random.default_rng(assignment.seed))
    target.mkdir()
    for name, value in inputs.items():
        np.save(target / f"{name}.npy", np.asarray(value), allow_pickle=False)


def _hidden_data(assignment: Assignment, target: Path) -> None:
    if not assignment.hidden_data:
        return
    from helpers.data.hidden import prepare_hidden_split

    spec = dict(assignment.hidden_data)
    dataset = spec.pop("dataset")
    limit = spec.pop("limit", 0) or None
    if "root" in spec:  # relative to the kit's root, like every other path in the config
        spec["root"] = assignment.root / spec["root"]
    prepare_hidden_split(dataset, target / "inputs", target / "labels", limit=limit, **spec)


def _records_by_cell(executed: nbformat.NotebookNode) -> dict[str, list[str]]:
    """Which record names each graded cell announced (see ``autograder.record``)."""
    found: dict[str, list[str]] = {}
    for cell in executed.cells:
        gid = cell.get("metadata", {}).get("kit", {}).get("grade_id")
        for out in cell.get("outputs", []):
            data = out.get("data", {}) if isinstance(out, dict) else {}
            if RECORD_MIMETYPE in data and gid:
                found.setdefault(gid, []).append(data[RECORD_MIMETYPE]["name"])
    return found


def build(assignment: Assignment, *, device: str = "cpu", isolate: bool | None = None) -> dict:
    """Make the private bundle: copy the notebooks, make the inputs and the hidden set, run the
    source solution and keep its records as the expected results.

    Returns:
        A summary: the tests with their points and records, and the source's performance.

    Raises:
        BuildError: a test cell of the source fails or records nothing.
    """
    bundle = bundle_dir(assignment)
    if bundle.exists():
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True)
    bundle.chmod(0o700)
    for kind, folder in (("source", assignment.source_dir), ("release", assignment.release_dir)):
        (bundle / kind).mkdir()
        for name in assignment.notebooks:
            if not (folder / name).is_file():
                raise BuildError(f"{folder / name} is missing. Expected it for {kind}.")
            shutil.copy2(folder / name, bundle / kind / name)
    _grading_inputs(assignment, bundle / "inputs")
    _hidden_data(assignment, bundle / "hidden")
    reference = assignment.config_dir / "reference"
    if reference.is_dir():
        shutil.copytree(reference, bundle / "reference")

    tests: dict[str, dict] = {}
    expected_dir = bundle / "expected"
    expected_dir.mkdir()
    summary = {"assignment": assignment.name, "tests": tests, "performance": {}}
    private = _private_dir("kit-build-")
    try:
        for name in assignment.notebooks:
            source = nbformat.read(bundle / "source" / name, as_version=4)
            run, _ = run_notebook(
                assignment, bundle, name, source, bundle / "reference",
                device=device, isolate=isolate, private=private,
            )  # fmt: skip
            announced = _records_by_cell(run.executed)
            rules = {}
            index_file = run.records_dir / "index.jsonl"
            if index_file.is_file():
                for line in index_file.read_text().splitlines():
                    entry = json.loads(line)
                    rules[entry["name"]] = Expected(entry["name"], entry["rtol"], entry["atol"])
            problems = []
            for cell in source.cells:
                if not is_autograded_test(cell):
                    continue
                gid = grade_id(cell)
                if gid in run.not_run or gid in run.errors:
                    problems.append(f"{gid}: {run.not_run.get(gid) or run.errors.get(gid)}")
                    continue
                names = list(dict.fromkeys(announced.get(gid, [])))
                if not names:
                    problems.append(
                        f"{gid}: records nothing. Every autograded test must record() at least "
                        "one value; records are the evidence the grader trusts."
                    )
                    continue
                for record_name in names:
                    shutil.copy2(run.records_dir / f"{record_name}.npy", expected_dir)
                tests[gid] = {
                    "notebook": name,
                    "points": float(cell.metadata["nbgrader"].get("points", 0)),
                    "hidden": HIDDEN_MARK in cell.source,
                    "records": [vars(rules[n]) for n in names],
                }
            if problems:
                raise BuildError(
                    f"The source solution of {assignment.name} fails its own tests:\n  "
                    + "\n  ".join(problems)
                )
            for band in assignment.performance:
                outcome, value = score_performance(
                    band, run.output_dir, bundle / "hidden" / "labels", "visible"
                )
                summary["performance"][band.name] = {"value": value, "points": outcome.score,
                                                     "max_score": band.max_score,
                                                     "output": outcome.output}  # fmt: skip
            shutil.rmtree(run.workdir, ignore_errors=True)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    (bundle / "expected.json").write_text(json.dumps(summary, indent=1))
    return summary


# --------------------------------------------------------------------------------------------
# grade


def write_submission(
    assignment: Assignment, folder: Path, notebooks_from: Path, *, reference_files: bool
) -> Path:
    """Make a submission folder from the assignment's own notebooks (``source_dir`` for the
    solution, ``release_dir`` for the blank one) and, with ``reference_files``, the files of
    ``assignments/<a>/reference/`` that ``[assignment] files`` names (e.g. trained weights)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in assignment.notebooks:
        shutil.copy2(notebooks_from / name, folder / name)
    reference = assignment.config_dir / "reference"
    if reference_files:
        for name in assignment.files:
            if (reference / name).is_file():
                shutil.copy2(reference / name, folder / name)
    return folder


@dataclass
class Graded:
    """One submission's results: the Gradescope object and where the feedback went
    (``unrendered``: the pages that say why the notebook could not be shown)."""

    results: dict
    feedback: list[Path] = field(default_factory=list)
    unrendered: dict[Path, str] = field(default_factory=dict)


def grade(
    assignment: Assignment,
    submission: Path,
    *,
    device: str = "auto",
    isolate: bool | None = None,
    feedback_dir: Path | None = None,
    results_path: Path | None = None,
) -> Graded:
    """Grade ``submission`` (a folder or a notebook) against the assignment's bundle.

    With ``results_path``, ``results.json`` is written there (atomically) before any feedback
    page is made: the feedback is optional work, rendered in a child process with its own limits
    (``autograder.feedback``). ``autograder.guard.grade_to_file`` wraps this so that a failure
    still leaves a results file.
    """
    from autograder.feedback import feedback_notebook, write_feedback_page
    from autograder.report import results_json, write_atomic

    started = time.monotonic()
    bundle = bundle_dir(assignment)
    if not (bundle / "expected.json").is_file():
        raise BuildError(
            f"No grader bundle for {assignment.name} at {bundle}. "
            f"Run `python -m autograder build {assignment.name}` first."
        )
    summary = json.loads((bundle / "expected.json").read_text())
    expected = load_expected(bundle)
    device = resolve_device(device)
    submission = Path(submission)
    files_dir = submission if submission.is_dir() else submission.parent

    outcomes: list[TestOutcome] = []
    notices: list[str] = []
    leaderboard: list[dict] = []
    to_render: list[tuple[Path, nbformat.NotebookNode]] = []
    graded = Graded({})
    private = _private_dir("kit-grade-")
    try:
        for name in assignment.notebooks:
            ids = {gid for gid, t in summary["tests"].items() if t["notebook"] == name}
            intake = read_submission(submission, name, ids)
            notices += intake.notes
            run, repairs = run_notebook(
                assignment, bundle, name, intake.notebook, files_dir,
                device=device, isolate=isolate, private=private,
            )  # fmt: skip
            notices += repairs + run.notices
            for gid, test in summary["tests"].items():
                if test["notebook"] != name:
                    continue
                visibility = assignment.hidden_tests_visibility if test["hidden"] else "visible"
                outcome = score_test_cell(
                    gid, test["points"], error=run.errors.get(gid),
                    not_run=run.not_run.get(gid), expected=expected[gid],
                    actual_dir=run.records_dir, expected_dir=bundle / "expected",
                    visibility=visibility,
                )  # fmt: skip
                outcomes.append(outcome)
            for band in assignment.performance:
                outcome, value = score_performance(
                    band, run.output_dir, bundle / "hidden" / "labels",
                    assignment.performance_visibility,
                )  # fmt: skip
                outcomes.append(outcome)
                if band.leaderboard and value is not None:
                    leaderboard.append({"name": band.leaderboard, "value": round(value, 4)})
            if feedback_dir is not None:
                # Bounded now (a small copy, linear in what it keeps), rendered after results.
                release = nbformat.read(bundle / "release" / name, as_version=4)
                release_sources = {grade_id(c): c.source for c in release.cells if grade_id(c)}
                hidden = {gid for gid, t in summary["tests"].items() if t["hidden"]}
                page = Path(feedback_dir) / f"{Path(name).stem}.html"
                to_render.append((page, feedback_notebook(run.executed, release_sources, hidden)))
            shutil.rmtree(run.workdir, ignore_errors=True)
        graded.results = results_json(
            outcomes, notices=notices, execution_time=time.monotonic() - started,
            leaderboard=leaderboard,
        )  # fmt: skip
        if results_path is not None:
            write_atomic(results_path, graded.results)
        for page, nb in to_render:
            try:
                outcome = write_feedback_page(nb, page, work_dir=private)
            except Exception as error:  # optional work: results.json is written and stays
                graded.unrendered[page] = f"failed ({type(error).__name__}: {error})"
                continue
            graded.feedback.append(outcome.path)
            if not outcome.rendered:
                graded.unrendered[outcome.path] = outcome.reason
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return graded
