"""The grader's half of the kit's demo (``./kit demo`` runs it after :mod:`helpers.demo`'s
student half): build an assignment's private bundle, grade the reference solution, the blank
release and a typical imperfect submission, and print the three results side by side.

    python -m autograder.demo [--out demo-output] [--assignment a2_cnn_fashion]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def grading_run(out: Path, assignment_name: str) -> None:
    """Part 2: build the grader, grade three submissions, show them side by side."""
    import nbformat
    from nbgrader.utils import is_solution

    from autograder import pipeline
    from autograder.assemble import grade_id
    from autograder.config import load_assignment
    from autograder.report import write_atomic

    assignment = load_assignment(assignment_name)
    print(f"\nBuilding the grader for {assignment_name} (runs the source solution)...")
    pipeline.build(assignment)
    subs = out / "submissions"
    shutil.rmtree(subs, ignore_errors=True)
    kinds = ("reference", "blank", "imperfect")
    pipeline.write_submission(assignment, subs / "reference", assignment.source_dir,
                              reference_files=True)  # fmt: skip
    pipeline.write_submission(assignment, subs / "blank", assignment.release_dir,
                              reference_files=False)  # fmt: skip
    # A typical imperfect submission: the solution with every other answer left blank.
    pipeline.write_submission(assignment, subs / "imperfect", assignment.source_dir,
                              reference_files=True)  # fmt: skip
    for nb_name in assignment.notebooks:
        source = nbformat.read(assignment.source_dir / nb_name, as_version=4)
        release = nbformat.read(assignment.release_dir / nb_name, as_version=4)
        blank = {grade_id(c): c.source for c in release.cells if grade_id(c)}
        answers = [c for c in source.cells if is_solution(c) and c.cell_type == "code"]
        for cell in answers[1::2]:
            cell.source = blank[grade_id(cell)]
        nbformat.write(source, subs / "imperfect" / nb_name)
    results = {}
    for kind in kinds:
        graded = pipeline.grade(assignment, subs / kind, feedback_dir=out / "feedback" / kind)
        write_atomic(out / "results" / f"{kind}.json", graded.results)
        results[kind] = graded.results
    names = [t["name"] for t in results["reference"]["tests"]]
    width = max(len(n) for n in names)
    print(f"\n{'test':<{width}} " + " ".join(f"{k:>12}" for k in results))
    for i, name in enumerate(names):
        cells = [f"{r['tests'][i]['score']:g}/{r['tests'][i]['max_score']:g}" for r in
                 results.values()]  # fmt: skip
        print(f"{name:<{width}} " + " ".join(f"{c:>12}" for c in cells))
    totals = [f"{r['score']:g}" for r in results.values()]
    print(f"{'total':<{width}} " + " ".join(f"{t:>12}" for t in totals))
    print(f"\nresults.json files: {out / 'results'}/; feedback pages: {out / 'feedback'}/")
    print("\nWhat the imperfect submission is told:")
    for test in results["imperfect"]["tests"]:
        if test.get("status", "passed") != "passed":  # written answers (graded by hand) have none
            print(f"  {test['name']}: {test['output'].splitlines()[0]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output")
    parser.add_argument("--assignment", default="a2_cnn_fashion")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    grading_run(args.out, args.assignment)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
