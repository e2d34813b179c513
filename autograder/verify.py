"""``python -m autograder verify <a>``: is the assignment ready to hand out?

0. ``lint`` finds nothing (:mod:`autograder.lint`);
1. ``release/<a>/`` equals what ``nbgrader generate_assignment`` makes from ``source/<a>/`` now;
2. the release holds no solution text and no hidden test text;
3. the source solution passes its own tests (``build``) and, graded as a submission, gets every
   test and the top of every performance band;
4. the blank release gets zero on every autograded test.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder import pipeline
from autograder.config import Assignment
from autograder.contract import MARKERS, NBGRADER_KEY
from autograder.lint import lint

__all__ = ["generate_release", "leaked_lines", "release_differences", "verify"]

# A line this short ("return x", "pass") can appear in a release by coincidence.
MIN_LEAK_CHARS = 12
REGIONS = {"solution": MARKERS["solution"], "hidden test": MARKERS["hidden"]}


def _region_lines(source: str, begin: str, end: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and len(line.strip()) >= MIN_LEAK_CHARS and not line.strip().startswith("#"):
            lines.append(line.strip())
    return lines


def leaked_lines(source: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Solution or hidden-test lines of ``source`` that appear in ``release``.

    >>> from nbformat.v4 import new_code_cell, new_notebook
    >>> src = new_notebook(cells=[new_code_cell(
    ...     "### BEGIN SOLUTION\\nanswer = secret_formula(x)\\n### END SOLUTION")])
    >>> leaked_lines(src, new_notebook(cells=[new_code_cell("answer = secret_formula(x)")]))
    ['solution: answer = secret_formula(x)']
    """
    text = "\n".join(c.source for c in release.cells)
    found = []
    for cell in source.cells:
        for kind, (begin, end) in REGIONS.items():
            found += [f"{kind}: {line}" for line in _region_lines(cell.source, begin, end)
                      if line in text]  # fmt: skip
    return found


def _comparable(nb: nbformat.NotebookNode) -> list[tuple]:
    return [
        (c.cell_type, c.source.strip(), repr(sorted(c.metadata.get(NBGRADER_KEY, {}).items())))
        for c in nb.cells
    ]


def generate_release(root: Path, name: str, release_directory: Path) -> str | None:
    """Run ``nbgrader generate_assignment name`` for the kit at ``root`` into
    ``release_directory``; ``None`` when it worked, else what went wrong."""
    cmd = [
        sys.executable, "-m", "nbgrader", "generate_assignment", name,
        f"--CourseDirectory.root={root}",
        f"--CourseDirectory.release_directory={release_directory}", "--force", "--no-db",
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if run.returncode != 0:
        return f"nbgrader generate_assignment failed:\n{run.stderr[-2000:]}"
    return None


def release_differences(assignment: Assignment) -> list[str]:
    """Notebooks of ``release/<a>/`` that differ from a fresh ``nbgrader generate_assignment``."""
    with tempfile.TemporaryDirectory() as tmp:
        problem = generate_release(assignment.root, assignment.name, Path(tmp))
        if problem:
            return [problem]
        problems = []
        for name in assignment.notebooks:
            fresh = Path(tmp) / assignment.name / name
            committed = assignment.release_dir / name
            if not committed.is_file():
                problems.append(f"{committed} is missing")
            elif _comparable(nbformat.read(fresh, 4)) != _comparable(nbformat.read(committed, 4)):
                problems.append(
                    f"{committed} is out of date: run `nbgrader generate_assignment "
                    f"{assignment.name}` from the repository root and commit release/."
                )
        return problems


def verify(assignment: Assignment, *, device: str = "auto", isolate: bool | None = None) -> bool:
    """Run every check, print one line each, and say whether all passed."""
    ok = True

    def report(passed: bool, what: str, details: list[str] = ()) -> None:
        nonlocal ok
        ok &= passed
        print(f"[{'ok' if passed else 'FAIL'}] {what}")
        for line in list(details)[:20]:
            print(f"       {line}")

    findings = lint(assignment)
    report(not findings, "lint finds nothing in the source, the config and the handout",
           [str(f) for f in findings])  # fmt: skip
    differences = release_differences(assignment)
    report(not differences, "release/ is what nbgrader generates from source/ now", differences)
    leaks = []
    for name in assignment.notebooks:
        source = nbformat.read(assignment.source_dir / name, 4)
        release = nbformat.read(assignment.release_dir / name, 4)
        leaks += leaked_lines(source, release)
    report(not leaks, "the release holds no solution and no hidden test text", leaks)

    device = pipeline.resolve_device(device)
    try:
        summary = pipeline.build(assignment, device=device, isolate=isolate)
    except pipeline.BuildError as error:
        report(False, "the source solution passes its own tests", str(error).splitlines())
        return False
    report(True, f"the source solution passes its own {len(summary['tests'])} tests")

    with tempfile.TemporaryDirectory() as tmp:
        submission = pipeline.write_submission(
            assignment, Path(tmp) / "source-as-submission", assignment.source_dir,
            reference_files=True,
        )  # fmt: skip
        results = pipeline.grade(assignment, submission, device=device, isolate=isolate).results
        short = [f"{t['name']}: {t['output'].splitlines()[0] if t['output'] else ''}"
                 for t in results["tests"] if t["score"] < t["max_score"]]  # fmt: skip
        possible = sum(t["max_score"] for t in results["tests"])
        report(not short, f"the source gets full marks ({results['score']:g} of {possible:g})",
               short)  # fmt: skip

        blank = pipeline.write_submission(
            assignment, Path(tmp) / "blank", assignment.release_dir, reference_files=False
        )
        results = pipeline.grade(assignment, blank, device=device, isolate=isolate).results
        scored = [f"{t['name']}: {t['score']:g} points" for t in results["tests"]
                  if t["score"] > 0]  # fmt: skip
        report(not scored, "the blank release gets zero on every autograded test", scored)
    return ok
