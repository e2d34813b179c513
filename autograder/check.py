"""``python -m autograder check <notebook>``: a student's own check before submitting.

It needs no hidden data and shows no hidden test. It says whether the notebook will be accepted
(its name, its protected cells, the files the assignment asks for) and runs the visible tests the
way the grader will (``GRADING = True``: training cells are skipped, saved weights are loaded).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat

from autograder.assemble import assemble, grade_id, is_autograded_test
from autograder.config import Assignment, load_assignment
from autograder.intake import read_submission
from autograder.pipeline import describe_failure

__all__ = ["check", "find_assignment"]


def find_assignment(notebook: Path, root: Path | None) -> Assignment | None:
    """The assignment whose notebook has this file name (or the closest one)."""
    root = Path(root) if root else Path(__file__).resolve().parents[1]
    for config in sorted((root / "assignments").glob("*/assignment.toml")):
        assignment = load_assignment(config.parent.name, root)
        if notebook.name in assignment.notebooks:
            return assignment
    return None


def check(notebook: Path, *, root: Path | None = None) -> int:
    """Print what the grader will think of ``notebook``; 0 when it will be accepted as is."""
    from autograder.execute import execute_notebook

    notebook = Path(notebook)
    assignment = find_assignment(notebook, root)
    if assignment is None:
        print(
            f"{notebook.name} is not the name of any assignment's notebook. Submit the notebook "
            "under the name it had in release/ (e.g. a2_cnn_fashion.ipynb)."
        )
        return 1
    name = notebook.name
    release = nbformat.read(assignment.release_dir / name, as_version=4)
    intake = read_submission(notebook, name)
    problems = list(intake.notes)
    if intake.notebook is None:
        print("\n".join(problems))
        return 1
    assembled = assemble(release, release, intake.notebook)
    problems += assembled.repairs
    limit_mb = assignment.limits.max_submitted_file_mb
    for file in assignment.files:
        if not (notebook.parent / file).is_file():
            problems.append(f"{file} is missing: put it next to the notebook and submit it too.")
        elif (size := (notebook.parent / file).stat().st_size) > limit_mb * 2**20:
            problems.append(f"{file} is {size / 2**20:.0f} MB; the grader takes files up to "
                            f"{limit_mb} MB. Save a smaller model and submit that.")  # fmt: skip

    tests = [i for i, c in enumerate(assembled.notebook.cells) if is_autograded_test(c)]
    print(f"Running {name} as the grader will (visible tests only; this can take a while)...")
    with tempfile.TemporaryDirectory() as tmp:
        for file in assignment.files:
            if (notebook.parent / file).is_file():
                (Path(tmp) / file).write_bytes((notebook.parent / file).read_bytes())
        result = execute_notebook(
            assembled.notebook,
            workdir=Path(tmp),
            parameters={"GRADING": True, "DEVICE": "cpu", "DATA_DIR": None,
                        "OUTPUT_DIR": str(Path(tmp) / "outputs"), "SEED": assignment.seed},
            limits=assignment.limits,
            kernel_env={"KIT_GRADING": "1", "MPLBACKEND": "Agg"},
            isolate=False,
        )  # fmt: skip
    executed = result.notebook
    for cell_index in tests:
        # papermill inserted its parameters cell, so find the cell again by its grade_id.
        gid = grade_id(assembled.notebook.cells[cell_index])
        index = next(i for i, c in enumerate(executed.cells) if grade_id(c) == gid)
        if index in result.not_run:
            print(f"  not run  {gid}: {result.not_run[index]}")
        elif index in result.failures:
            print(f"  FAILED   {gid}: {describe_failure(result.failures[index])}")
        else:
            print(f"  ran      {gid} (hidden tests will run too when graded)")
    for line in problems:
        print(f"  note: {line}")
    accepted = not problems
    print("Ready to submit." if accepted else "Fix the notes above before submitting.")
    return 0 if accepted else 1
