"""``python -m autograder``: a thin layer over the Python API (parse, build one call, run it).

Exit codes (``grade`` writes ``--out`` whatever the code; see ``autograder.guard``):

- 0: done (``grade``: full marks);
- 1: graded, points missing (``verify``: a check failed; ``lint``: findings);
- 2: bad usage or configuration;
- 3: the bundle is missing (run ``build``) or the source fails its own tests;
- 4: the grader failed: ``grade``'s results list every test at 0 points with a message saying
  so, and the traceback is on stderr (a bug of the grader, a full disk, ...);
- 5: the grading kernel did not start (a problem of this machine; the message says what);
- 6: isolation was required (``--isolate``) but this machine cannot provide it.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from autograder.config import ConfigError, load_assignment

EXAMPLES = """\
examples:
  python -m autograder new a3_detection
  python -m autograder lint a2_cnn_fashion
  python -m autograder build a2_cnn_fashion
  python -m autograder grade a2_cnn_fashion /autograder/submission --out results.json
  python -m autograder grade a2_cnn_fashion my_a2.ipynb --out r.json --feedback feedback/
  python -m autograder check release/a2_cnn_fashion/a2_cnn_fashion.ipynb
  python -m autograder handout a2_cnn_fashion --out a2_handout.zip
  python -m autograder verify a2_cnn_fashion
  python -m autograder rubric a1_mlp_numpy --format csv --out a1_rubric.csv
  python -m autograder package a2_cnn_fashion --out a2_autograder.zip
  python -m autograder batch a2_cnn_fashion submissions/ --out graded/ --jobs 2
"""

EXIT_OK, EXIT_NOT_FULL, EXIT_USAGE, EXIT_BUNDLE = 0, 1, 2, 3
EXIT_GRADER_ERROR, EXIT_KERNEL_START, EXIT_ISOLATION = 4, 5, 6
EXIT_BY_FAILURE = {"no-bundle": EXIT_BUNDLE, "kernel-start": EXIT_KERNEL_START,
                   "isolation": EXIT_ISOLATION, "grader-error": EXIT_GRADER_ERROR}  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Grade Jupyter notebook submissions against hidden tests.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("assignment", help="assignment name (a folder under assignments/)")
        p.add_argument("--root", type=Path, default=None, help="the kit's root (default: here)")
        p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="DEVICE for the notebook (default: auto)")  # fmt: skip
        p.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None,
                       help="run the kernel as an unprivileged user without network "
                            "(default: when running as root)")  # fmt: skip

    p = sub.add_parser("new", help="scaffold a working assignment (source, config, release)")
    p.add_argument("assignment", help="the new assignment's name, e.g. a3_detection")
    p.add_argument("--root", type=Path, default=None, help="the kit's root (default: here)")
    p.add_argument("--title", default=None, help="its title (default: from the name)")
    p = sub.add_parser("lint", help="check the source notebook and config in seconds (no kernel)")
    p.add_argument("assignment", help="assignment name (a folder under assignments/)")
    p.add_argument("--root", type=Path, default=None, help="the kit's root (default: here)")
    p = sub.add_parser("build", help="run the source solution and store the expected results")
    common(p)
    p = sub.add_parser("grade", help="grade one submission (a folder or a notebook)")
    common(p)
    p.add_argument("submission", type=Path, help="submission folder or .ipynb file")
    p.add_argument("--out", type=Path, default=Path("results.json"), help="results file")
    p.add_argument("--feedback", type=Path, default=None, help="folder for the feedback HTML")
    p = sub.add_parser("verify", help="source full marks, blank release zero, no leaks, in sync")
    common(p)
    p = sub.add_parser("package", help="a Gradescope autograder zip (run build first)")
    p.add_argument("assignment", help="assignment name (a folder under assignments/)")
    p.add_argument("--root", type=Path, default=None, help="the kit's root (default: here)")
    p.add_argument("--out", type=Path, default=Path("autograder.zip"), help="the zip to write")
    p.add_argument("--measure", action=argparse.BooleanOptionalAction, default=True,
                   help="grade the reference through the zip to size its container")  # fmt: skip
    p = sub.add_parser("check", help="a student's own check before submitting (no hidden data)")
    p.add_argument("notebook", type=Path, help="your notebook")
    p.add_argument("--root", type=Path, default=None,
                   help="the kit's root (default: kit/ beside the notebook)")  # fmt: skip
    p = sub.add_parser("handout", help="what students download: notebooks, texts, the wheel")
    p.add_argument("assignment", help="assignment name (a folder under assignments/)")
    p.add_argument("--root", type=Path, default=None, help="the kit's root (default: here)")
    p.add_argument("--out", type=Path, required=True, help="a folder, or a file ending in .zip")
    p.add_argument("--wheel", action=argparse.BooleanOptionalAction, default=True,
                   help="put the student wheel in the handout (default: yes)")  # fmt: skip
    from autograder.batch import add_arguments as add_batch_arguments

    p = sub.add_parser("rubric", help="the written answers' rubrics, for graders (CSV or JSON)")
    p.add_argument("assignment", help="assignment name (a folder under assignments/)")
    p.add_argument("--root", type=Path, default=None, help="the kit's root (default: here)")
    p.add_argument("--format", choices=("csv", "json"), default="csv",
                   help="a row per rubric item (csv) or an object per question")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="write here (default: print)")
    add_batch_arguments(sub.add_parser("batch", help="grade many submissions (here or on Slurm)"))
    return parser


def _grade(assignment, args) -> int:
    from autograder.guard import grade_to_file
    from autograder.report import summary_table

    graded, failure = grade_to_file(
        assignment, args.submission, args.out, device=args.device, isolate=args.isolate,
        feedback_dir=args.feedback,
    )  # fmt: skip
    if failure is not None:
        if failure.detail:
            print(failure.detail, file=sys.stderr, end="")
        print(f"error: {failure.message}", file=sys.stderr)
        print(f"error: {graded.results['output'].splitlines()[-1]}", file=sys.stderr)
        print(f"Results written to {args.out}, every test at 0 points.", file=sys.stderr)
        return EXIT_BY_FAILURE[failure.kind]
    print(summary_table(graded.results))
    for line in graded.results["output"].splitlines()[1:]:
        print(f"  note: {line}")
    print(f"Results written to {args.out}")
    for page in graded.feedback:
        why = graded.unrendered.get(page)
        print(f"Feedback: {page}" + (f" (a short page: rendering {why})" if why else ""))
    for page, why in graded.unrendered.items():
        if page not in graded.feedback:
            print(f"Feedback: {page} not written: {why}", file=sys.stderr)
    # A written answer has no status (graded by hand later): it does not make a run "not full".
    full = all(t.get("status", "passed") == "passed" for t in graded.results["tests"])
    return EXIT_OK if full else EXIT_NOT_FULL


def _config_error_results(args, error: ConfigError) -> None:
    """``grade`` writes its results file even when the assignment cannot be read."""
    from autograder.report import results_json, write_atomic

    message = (
        f"The grader for this assignment is not set up correctly ({error}). This is not about "
        "your work: please tell your instructor."
    )
    try:
        write_atomic(args.out, results_json([], notices=[message], execution_time=0.0))
    except OSError as write_error:
        print(f"error: could not write {args.out}: {write_error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from autograder import pipeline
    from autograder.execute import KernelStartError
    from autograder.sandbox import IsolationUnavailableError

    try:
        if args.command == "check":
            from autograder.check import check

            return check(args.notebook, root=args.root)
        if args.command == "batch":
            from autograder.batch import run_from_args

            return run_from_args(args)
        if args.command == "new":
            return _new(args.assignment, args.root, args.title)
        assignment = load_assignment(args.assignment, args.root)
        if args.command == "lint":
            from autograder.lint import lint

            findings = lint(assignment)
            for finding in findings:
                print(finding)
            plural = "" if len(findings) == 1 else "s"
            print(f"{assignment.name}: {len(findings)} finding{plural} from lint.")
            return EXIT_NOT_FULL if findings else EXIT_OK
        if args.command == "build":
            summary = pipeline.build(
                assignment, device=pipeline.resolve_device(args.device), isolate=args.isolate
            )
            points = sum(t["points"] for t in summary["tests"].values())
            print(f"Built {assignment.name}: {len(summary['tests'])} tests, {points:g} points.")
            for name, perf in summary["performance"].items():
                print(f"  {name}: {perf['output']}")
            for note in summary.get("notes", ()):
                print(f"notice: {note}", file=sys.stderr)
            return EXIT_OK
        if args.command == "grade":
            return _grade(assignment, args)
        if args.command == "package":
            from autograder.package import package

            made = package(assignment, args.out, measure=args.measure)
            print(f"Wrote {made.zip_path}.")
            if made.peak_mb is not None:
                print(f"  grading the reference: {made.reference_score} points, peak "
                      f"{made.peak_mb} MB (grader {made.grader_mb} MB); container "
                      f"{made.container_mb} MB")  # fmt: skip
            for note in made.notes:
                print(f"warning: {note}", file=sys.stderr)
            return EXIT_OK
        if args.command == "handout":
            from autograder.handout import HandoutError, write_handout

            try:
                made = write_handout(assignment, args.out, wheel=args.wheel)
            except HandoutError as error:
                print(f"error: {error}", file=sys.stderr)
                return EXIT_USAGE
            print(f"Wrote {made.path}: {', '.join(made.files)}")
            for note in made.notes:
                print(f"warning: {note}", file=sys.stderr)
            return EXIT_OK
        if args.command == "rubric":
            from autograder.rubric import export_rubric, read_answers, rubric_problems

            answers = read_answers(assignment.source_dir, assignment.notebooks)
            if problems := [p for a in answers for p in rubric_problems(a)]:
                print("error: " + "\n  ".join(problems), file=sys.stderr)
                return EXIT_USAGE
            text = export_rubric(answers, args.format)
            if args.out is None:
                print(text, end="")
            else:
                args.out.write_text(text, encoding="utf-8")
                print(f"Wrote {args.out}: {len(answers)} written answers.")
            return EXIT_OK
        if args.command == "verify":
            from autograder.verify import verify

            return EXIT_OK if verify(assignment, device=args.device, isolate=args.isolate) else 1
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        if args.command == "grade":
            _config_error_results(args, error)
        return EXIT_USAGE
    except pipeline.BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BUNDLE
    except KernelStartError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_KERNEL_START
    except IsolationUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ISOLATION
    except Exception:  # a bug: exit 1 would read as "graded, points missing"
        print(traceback.format_exc(), file=sys.stderr, end="")
        print("error: the grader failed (a bug in the kit; the traceback is above).",
              file=sys.stderr)  # fmt: skip
        return EXIT_GRADER_ERROR
    return EXIT_USAGE


def _new(name: str, root: Path | None, title: str | None) -> int:
    from autograder.scaffold import ScaffoldError, new_assignment

    root = root if root is not None else Path(__file__).resolve().parents[1]
    try:
        written = new_assignment(name, root, title=title)
    except ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        print(f"wrote {path}")
    print(f"Next: open source/{name}/{name}.ipynb in JupyterLab, then "
          f"`python -m autograder lint {name}` (docs/authoring.md).")  # fmt: skip
    return EXIT_OK
