"""The grading pipeline: build an assignment's private bundle, and grade one submission.

``build`` draws a pool of ``[grading] input_pool`` input sets (``grading_inputs.py``, seeded
from a secret made with :mod:`secrets` that only the bundle keeps), runs the source solution
through the same pipeline a submission takes once per draw, and keeps what it recorded on each
draw as that draw's expected results. It refuses a record that is not evidence (see
:mod:`autograder.evidence`). ``grade`` picks one draw per submission at random, gives the kernel
only that draw's inputs, and scores against that draw's expected results. Both call
``run_notebook``, so the expected results and the graded ones come from identical conditions.

The steps live in their own modules, re-exported here (``autograder.pipeline`` is what callers
import): :mod:`autograder.bundle` (``build``: the private bundle), :mod:`autograder.hidden_set`
(the bundle's pool of grading inputs and its hidden test set), :mod:`autograder.workfolder`
(``run_notebook``: one execution in a fresh work folder). This module grades one submission.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

# ``import X as X``: a name this module defined before it was cut, still importable from here.
from autograder.bundle import BuildError, build, bundle_dir
from autograder.config import Assignment
from autograder.contract import HIDDEN_MARK as HIDDEN_MARK
from autograder.contract import grade_id
from autograder.hidden_set import REDRAW_FILE, prepare_hidden_data
from autograder.hidden_set import SECRET_BYTES as SECRET_BYTES
from autograder.intake import read_submission
from autograder.manifest import MANIFEST_FILE, read_manifest
from autograder.redact import Redactor
from autograder.score import TestOutcome, score_performance, score_test_cell
from autograder.workfolder import (
    DATA,
    STUDENT,
    NotebookRun,
    _private_dir,
    hidden_inputs_for_run,
    run_notebook,
)
from autograder.workfolder import INPUTS as INPUTS
from autograder.workfolder import MAX_INDEX_BYTES as MAX_INDEX_BYTES
from autograder.workfolder import OUTPUTS as OUTPUTS
from autograder.workfolder import RECORDS as RECORDS
from autograder.workfolder import describe_failure as describe_failure

__all__ = [
    "BuildError",
    "Graded",
    "build",
    "bundle_dir",
    "grade",
    "resolve_device",
    "write_submission",
]

# The old private names, which tests call; the functions moved to their own modules.
_hidden_data = prepare_hidden_data
_hidden_inputs_for_run = hidden_inputs_for_run


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


def _redact(run: NotebookRun, bundle: Path, notebook_name: str) -> Redactor:
    """Remove hidden-test lines from everything of ``run`` that reaches the student: the
    executed notebook's outputs (the feedback page), failure messages and notices."""
    source = nbformat.read(bundle / "source" / notebook_name, as_version=4)
    release = nbformat.read(bundle / "release" / notebook_name, as_version=4)
    redactor = Redactor.from_notebooks(source, release)
    redactor.notebook(run.executed)
    run.errors = {gid: redactor.text(m) for gid, m in run.errors.items()}
    run.not_run = {gid: redactor.text(m) for gid, m in run.not_run.items()}
    run.notices = [redactor.text(n) for n in run.notices]
    return redactor


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
    from autograder.explain import performance_hint
    from autograder.feedback import feedback_notebook, write_feedback_page
    from autograder.report import results_json, write_atomic
    from autograder.rubric import pending_outcomes, read_answers

    started = time.monotonic()
    bundle = bundle_dir(assignment)
    if not (bundle / MANIFEST_FILE).is_file():
        raise BuildError(
            f"No grader bundle for {assignment.name} at {bundle}. "
            f"Run `python -m autograder build {assignment.name}` first."
        )
    manifest = read_manifest(bundle)
    if manifest.input_pool is None:
        raise BuildError(
            f"The grader bundle for {assignment.name} at {bundle} was built by an older version "
            "of the kit (one input set, no draws). "
            f"Run `python -m autograder build {assignment.name}` again."
        )
    if (bundle / "hidden" / "inputs").is_dir() and not (bundle / "hidden" / REDRAW_FILE).is_file():
        raise BuildError(
            f"The grader bundle for {assignment.name} at {bundle} was built by an older version "
            "of the kit (one hidden set, the same ids and noise for every submission). "
            f"Run `python -m autograder build {assignment.name}` again."
        )
    expected = {gid: list(test.records) for gid, test in manifest.tests.items()}
    # One draw of the pool per submission, chosen here so the kernel cannot predict it; the
    # kernel gets only that draw's inputs and never sees the expected results.
    draw_dir = bundle / "draws" / str(secrets.randbelow(manifest.input_pool))
    device = resolve_device(device)
    submission = Path(submission)
    files_dir = submission if submission.is_dir() else submission.parent

    outcomes: list[TestOutcome] = []
    notices: list[str] = []
    leaderboard: list[dict] = []
    to_render: list[tuple[Path, nbformat.NotebookNode]] = []
    graded = Graded({})
    private = _private_dir("kit-grade-")
    runs = contextlib.ExitStack()  # each run's work folder goes, whatever happens
    try:
        for name in assignment.notebooks:
            first_outcome = len(outcomes)  # this notebook's outcomes go on its feedback page
            ids = {gid for gid, t in manifest.tests.items() if t.notebook == name}
            intake = read_submission(submission, name, ids)
            run, repairs = run_notebook(
                assignment, bundle, name, intake.notebook, files_dir,
                device=device, isolate=isolate, private=private,
                grading_inputs=draw_dir / "inputs",
            )  # fmt: skip
            runs.callback(run.discard)
            redactor = _redact(run, bundle, name)  # before anything is scored or shown
            notices += [redactor.text(n) for n in intake.notes + repairs] + run.notices
            for gid, test in manifest.tests.items():
                if test.notebook != name:
                    continue
                visibility = assignment.hidden_tests_visibility if test.hidden else "visible"
                outcome = score_test_cell(
                    gid, test.points, error=run.errors.get(gid),
                    not_run=run.not_run.get(gid), expected=expected[gid],
                    actual_dir=run.records or run.records_dir, expected_dir=draw_dir / "expected",
                    visibility=visibility, record_points=test.record_points,
                )  # fmt: skip
                outcomes.append(outcome)
            for band in assignment.performance:
                outcome, value = score_performance(
                    band, run.outputs or run.output_dir, bundle / "hidden" / "labels",
                    assignment.performance_visibility, run.hidden_ids,
                )  # fmt: skip
                if outcome.score == 0 and (hint := performance_hint(
                    run.executed, set(manifest.tests), band.predictions, assignment.files,
                )):  # fmt: skip
                    outcome.output += f"\n{hint}"
                outcomes.append(outcome)
                if band.leaderboard and value is not None:
                    leaderboard.append({"name": band.leaderboard, "value": round(value, 4)})
            if feedback_dir is not None:
                # Bounded now (a small copy, linear in what it keeps), rendered after results.
                release = nbformat.read(bundle / "release" / name, as_version=4)
                release_sources = {grade_id(c): c.source for c in release.cells if grade_id(c)}
                hidden = {gid for gid, t in manifest.tests.items() if t.hidden}
                page = Path(feedback_dir) / f"{Path(name).stem}.html"
                work = run.workdir  # the grader's folders, named for the student
                named = {str(run.output_dir): "<OUTPUT_DIR>", str(work / DATA): "<DATA_DIR>",
                         str(work / STUDENT): "<your submission folder>",
                         str(work.parent): "<grading folder>",
                         str(private): "<grading folder>"}  # fmt: skip
                to_render.append((page, feedback_notebook(
                    run.executed, release_sources, hidden, results=outcomes[first_outcome:],
                    anchors={band.name: band.predictions for band in assignment.performance},
                    grader_paths=named,
                )))  # fmt: skip
            runs.close()
        # Written answers: listed as pending, their points outside the autograded total.
        outcomes += pending_outcomes(read_answers(bundle / "source", assignment.notebooks))
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
        runs.close()
        shutil.rmtree(private, ignore_errors=True)
    return graded
