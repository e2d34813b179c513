"""Peak memory (PSS) of grading an assignment's reference: the whole run and the grader alone,
for this kit and, with ``--old-kit``, another copy of it (e.g. before the torch-free grader).

    git archive e7d4fb4 autograder helpers | tar -x -C /tmp/kit-before
    sudo python bench/gradescope_memory.py a2_cnn_fashion --old-kit /tmp/kit-before

The assignment must be built (``python -m autograder build``; ``KIT_BUNDLE_DIR`` is honoured).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.config import load_assignment  # noqa: E402
from autograder.peak_memory import run_measured  # noqa: E402
from autograder.pipeline import write_submission  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment")
    parser.add_argument("--root", type=Path, default=ROOT, help="the kit root with the config")
    parser.add_argument("--old-kit", type=Path, help="a folder holding another autograder/helpers")
    args = parser.parse_args()
    assignment = load_assignment(args.assignment, args.root)
    submission = Path(tempfile.mkdtemp())
    submission.chmod(0o755)  # the kernel's user reads the submitted files
    write_submission(assignment, submission, assignment.source_dir, reference_files=True)
    kits = [("before", args.old_kit)] if args.old_kit else []
    for label, kit in [*kits, ("now", ROOT)]:
        command = [sys.executable, "-m", "autograder", "grade", args.assignment, str(submission),
                   "--root", str(args.root), "--device", "cpu",
                   "--out", str(submission / "results.json")]  # fmt: skip
        done, peak = run_measured(command, env={**os.environ, "PYTHONPATH": str(kit)},
                                  focus=("autograder", "grade"))  # fmt: skip
        print(f"{label:>6}: exit {done.returncode}, whole run {peak.total_mb:.0f} MB, grader "
              f"{peak.focus_mb:.0f} MB, {done.elapsed_s:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
