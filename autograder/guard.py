"""The guard around grading one submission: whatever fails, ``results.json`` is written.

``grade_to_file`` calls ``pipeline.grade`` (which writes ``results.json`` before any feedback).
When grading raises instead, the guard writes a *grader error* result: every test of the
bundle's ``expected.json`` and every ``[[performance]]`` item of ``assignment.toml`` at 0 points,
each with a plain message saying the grader failed, not the student. The exception's type is all
a student sees of it (its text may hold paths or values of the grader's); the whole traceback is
returned for the instructor's log.

Which failure it was (``GraderFailure.kind``) decides the CLI's exit code:

- ``no-bundle``: the assignment was never built (``python -m autograder build``);
- ``kernel-start``: the grading kernel did not start (``autograder.execute.KernelStartError``);
- ``isolation``: isolation was required but this machine cannot provide it
  (``autograder.sandbox.IsolationUnavailableError``);
- ``grader-error``: anything else (a bug of the grader, a full disk, ...).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from autograder import score
from autograder.config import Assignment
from autograder.manifest import read_manifest
from autograder.pipeline import BuildError, Graded, bundle_dir, grade
from autograder.report import results_json, write_atomic

__all__ = ["GraderFailure", "grade_to_file", "grader_error_results"]


@dataclass(frozen=True)
class GraderFailure:
    """Why grading did not finish: ``kind`` (see the module docstring), ``message`` (plain, for
    the instructor's terminal) and ``detail`` (the traceback, for a grader error)."""

    kind: str
    message: str
    detail: str = ""


_FOR_STUDENT = {
    "no-bundle": "the grader for this assignment is not set up yet",
    "kernel-start": "the grader could not start Python to run your notebook",
    "isolation": "the grading machine cannot isolate your notebook as the course requires",
}


def _student_reason(kind: str, error: BaseException) -> str:
    return _FOR_STUDENT.get(kind, f"the grader failed on this submission ({type(error).__name__})")


def _classify(error: BaseException) -> str:
    from autograder.execute import KernelStartError
    from autograder.sandbox import IsolationUnavailableError

    if isinstance(error, BuildError):
        return "no-bundle"
    if isinstance(error, KernelStartError):
        return "kernel-start"
    if isinstance(error, IsolationUnavailableError):
        return "isolation"
    return "grader-error"


def _listed_tests(assignment: Assignment, bundle: Path) -> list[tuple[str, float, str]]:
    """``(name, max_score, visibility)`` of every test and performance item, as far as the bundle
    and the configuration can be read (a broken ``expected.json`` lists the performance only)."""
    listed = []
    try:
        for name, test in read_manifest(bundle).tests.items():
            visibility = assignment.hidden_tests_visibility if test.hidden else "visible"
            listed.append((str(name), test.points, visibility))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    for band in assignment.performance:
        listed.append((band.name, float(band.max_score), assignment.performance_visibility))
    return listed


def grader_error_results(
    assignment: Assignment, reason: str, *, execution_time: float = 0.0
) -> dict:
    """A results object listing every test at 0 points with ``reason`` (a phrase for students,
    e.g. 'the grader failed on this submission (OSError)').

    A missing or unreadable bundle lists no tests, only the top-level message.
    """
    message = (
        f"Not graded: {reason}. This is a fault of the grader, not of your notebook. "
        "The details are in the grader's log for your instructor; please tell them, and submit "
        "again once they say it is fixed."
    )
    outcomes = [
        score.TestOutcome(name, 0.0, max_score, False, message, visibility)
        for name, max_score, visibility in _listed_tests(assignment, bundle_dir(assignment))
    ]
    notice = (
        f"The grader could not score this submission: {reason}. Every test is listed with 0 "
        "points until it is graded again; this says nothing about your work."
    )
    return results_json(outcomes, notices=[notice], execution_time=execution_time)


def grade_to_file(
    assignment: Assignment,
    submission: Path,
    out: Path,
    *,
    device: str = "auto",
    isolate: bool | None = None,
    feedback_dir: Path | None = None,
) -> tuple[Graded, GraderFailure | None]:
    """Grade ``submission`` and write ``results.json`` to ``out``, whatever happens.

    Returns:
        The graded results (or the grader-error results written instead), and ``None`` or the
        failure that stopped grading.
    """
    started = time.monotonic()
    try:
        graded = grade(assignment, submission, device=device, isolate=isolate,
                       feedback_dir=feedback_dir, results_path=out)  # fmt: skip
        return graded, None
    except Exception as error:  # the guard's whole job: every failure still gets results.json
        kind = _classify(error)
        detail = "" if kind != "grader-error" else traceback.format_exc()
        failure = GraderFailure(kind, f"{type(error).__name__}: {error}", detail)
        reason = _student_reason(kind, error)
        results = grader_error_results(
            assignment, reason, execution_time=time.monotonic() - started
        )
        write_atomic(out, results)
        return Graded(results, _unrendered_pages(assignment, feedback_dir, reason)), failure


def _unrendered_pages(assignment: Assignment, feedback_dir: Path | None, reason: str) -> list[Path]:
    """A short page per notebook saying why there is no feedback (best effort: results.json,
    already written, is what counts)."""
    from autograder.feedback import unrendered_page

    pages = []
    for name in assignment.notebooks if feedback_dir is not None else ():
        page = Path(feedback_dir) / f"{Path(name).stem}.html"
        try:
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(unrendered_page(page.stem, reason))
            pages.append(page)
        except OSError:
            break
    return pages
