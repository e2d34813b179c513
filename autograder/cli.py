"""``python -m autograder``: a thin layer over the Python API (parse, build one call, run it).

Exit codes: 0 done; 1 graded but not full marks (``verify``: a check failed; ``lint``:
findings); 2 bad usage or configuration; 3 the bundle is missing or the source fails its own
tests.
"""

from __future__ import annotations

import argparse
import sys
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
  python -m autograder verify a2_cnn_fashion
"""

EXIT_OK, EXIT_NOT_FULL, EXIT_USAGE, EXIT_BUNDLE = 0, 1, 2, 3


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
    p = sub.add_parser("check", help="a student's own check before submitting (no hidden data)")
    p.add_argument("notebook", type=Path, help="your notebook")
    p.add_argument("--root", type=Path, default=None, help="the kit's root (default: here)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from autograder import pipeline

    try:
        if args.command == "check":
            from autograder.check import check

            return check(args.notebook, root=args.root)
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
            return EXIT_OK
        if args.command == "grade":
            from autograder.report import summary_table, write_atomic

            graded = pipeline.grade(
                assignment, args.submission, device=args.device, isolate=args.isolate,
                feedback_dir=args.feedback,
            )  # fmt: skip
            write_atomic(args.out, graded.results)
            print(summary_table(graded.results))
            for line in graded.results["output"].splitlines()[1:]:
                print(f"  note: {line}")
            print(f"Results written to {args.out}")
            for page in graded.feedback:
                print(f"Feedback: {page}")
            full = all(t["status"] == "passed" for t in graded.results["tests"])
            return EXIT_OK if full else EXIT_NOT_FULL
        if args.command == "verify":
            from autograder.verify import verify

            return EXIT_OK if verify(assignment, device=args.device, isolate=args.isolate) else 1
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except pipeline.BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BUNDLE
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
