"""``run_autograder``'s work: grade ``<root>/submission`` into ``<root>/results/results.json``.

Gradescope's harness (https://gradescope-autograders.readthedocs.io/en/latest/specs/) puts the
student's files in ``/autograder/submission``, runs ``/autograder/run_autograder`` as root with
``/autograder`` as its working folder, and uploads ``/autograder/results/results.json``; it
stops a run after the assignment's timeout (10 minutes by default).

1. Read ``<root>/private/package.json`` (written by :mod:`autograder.package`): the assignment,
   its tests and points, the time budget.
2. Run ``python -m autograder grade`` as a child process with that budget, its results going to
   a root-only folder (never to ``results/`` directly, so a half-written file is never shown).
3. Check what it wrote against Gradescope's schema (:func:`schema_problems`). When the grader
   failed, overran its budget or wrote something unusable, every test of the assignment is
   listed with 0 points and the reason, so the student sees what happened.
4. Write ``results/results.json`` atomically, with ``output_format`` set; exit 0.

Every path under ``<root>`` comes from the command line (``--root``, ``KIT_AUTOGRADER_ROOT`` in
the wrapper), so the tests run all of this under a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["fallback_results", "main", "schema_problems"]

#: ``status``, ``visibility`` and ``output_format`` values Gradescope's specification lists.
STATUSES = ("passed", "failed")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
OUTPUT_FORMATS = ("text", "html", "simple_format", "md", "ansi")
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format",
            "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
            "leaderboard"}  # fmt: skip
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output",
             "output_format", "tags", "visibility", "extra_data"}  # fmt: skip
#: Seconds kept back from the budget to stop the grader and write the results, of which the
#: grader gets STOP_GRACE_S to clean up after SIGINT; the shortest budget the grader gets.
WRITE_MARGIN_S = 20
STOP_GRACE_S = 10
MIN_BUDGET_S = 10


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def schema_problems(results: object) -> list[str]:
    """What in ``results`` breaks Gradescope's results.json specification (empty: nothing).

    Checked: the top-level keys and types, each test's name, score, max_score, status, output,
    visibility and output_format, and each leaderboard entry's name, value and order.

    >>> schema_problems({"score": 1, "output_format": "text", "tests": [
    ...     {"name": "q1", "score": 1, "max_score": 1, "status": "passed", "output": "",
    ...      "visibility": "visible"}]})
    []
    >>> schema_problems({"tests": [{"name": "q1", "score": "1", "status": "ok"}]})
    ['tests[0].score is not a number', "tests[0].status 'ok' is not one of passed, failed"]
    """
    if not isinstance(results, dict):
        return [f"results is a {type(results).__name__}, not an object"]
    problems = [f"unknown key {k!r}" for k in sorted(set(results) - TOP_KEYS)]
    if "score" in results and not _number(results["score"]):
        problems.append("score is not a number")
    if "execution_time" in results and not _number(results["execution_time"]):
        problems.append("execution_time is not a number")
    for key, allowed in (("output_format", OUTPUT_FORMATS), ("visibility", VISIBILITIES),
                         ("stdout_visibility", VISIBILITIES)):  # fmt: skip
        if key in results and results[key] not in allowed:
            problems.append(f"{key} {results[key]!r} is not one of {', '.join(allowed)}")
    if "output" in results and not isinstance(results["output"], str):
        problems.append("output is not text")
    tests = results.get("tests", [])
    if not isinstance(tests, list):
        return [*problems, "tests is not a list"]
    if "score" not in results and any("score" not in t for t in tests if isinstance(t, dict)):
        problems.append("no score: give one overall or one on every test")
    for i, test in enumerate(tests):
        where = f"tests[{i}]"
        if not isinstance(test, dict):
            problems.append(f"{where} is not an object")
            continue
        problems += [f"{where}: unknown key {k!r}" for k in sorted(set(test) - TEST_KEYS)]
        for key in ("score", "max_score"):
            if key in test and not _number(test[key]):
                problems.append(f"{where}.{key} is not a number")
        for key in ("name", "output"):
            if key in test and not isinstance(test[key], str):
                problems.append(f"{where}.{key} is not text")
        for key, allowed in (("status", STATUSES), ("visibility", VISIBILITIES),
                             ("output_format", OUTPUT_FORMATS)):  # fmt: skip
            if key in test and test[key] not in allowed:
                problems.append(f"{where}.{key} {test[key]!r} is not one of {', '.join(allowed)}")
    board = results.get("leaderboard", [])
    if not isinstance(board, list):
        return [*problems, "leaderboard is not a list"]
    for i, entry in enumerate(board):
        ok = (isinstance(entry, dict) and isinstance(entry.get("name"), str)
              and (_number(entry.get("value")) or isinstance(entry.get("value"), str))
              and entry.get("order", "desc") in ("asc", "desc"))  # fmt: skip
        if not ok:
            problems.append(f"leaderboard[{i}] needs a text name, a number or text value, and "
                            "an order of asc or desc")  # fmt: skip
    return problems


def fallback_results(package: dict, reason: str, execution_time: float) -> dict:
    """Every test of the package with 0 points and ``reason``: what a student sees when the
    grader itself failed (so nothing of theirs is silently missing)."""
    message = (
        f"Not graded: {reason} Your work may be fine; the course staff can see the grader's log "
        "and re-run it. If you changed files the handout did not ask for, submit only those it "
        "names and try again."
    )
    tests = [
        {"name": t["name"], "score": 0.0, "max_score": t["max_score"], "status": "failed",
         "output": message, "visibility": t.get("visibility", "visible")}
        for t in package["tests"]
    ]  # fmt: skip
    return {
        "score": 0.0,
        "execution_time": round(execution_time, 2),
        "output": f"The autograder could not finish: {reason}",
        "output_format": "text",
        "tests": tests,
    }


def _grade(root: Path, package: dict, out: Path, budget_s: float) -> str | None:
    """Run ``python -m autograder grade`` into ``out``; ``None`` when it finished, else why not.

    The grader runs in its own session so that, past the budget, it and every process it
    started in that session are stopped together (the kernel's user is reaped by the next
    grading run, and Gradescope discards the container after this one).
    """
    private = root / "private"
    env = {
        **os.environ,
        "KIT_BUNDLE_DIR": str(private / "bundles"),
        # The zip's own copy and the private folder stay out of the kernel's file tree even if
        # setup.sh's permissions were changed.
        "KIT_HIDE": os.pathsep.join([str(root / "source"), str(private)]),
    }
    command = [sys.executable, "-m", "autograder", "grade", package["assignment"],
               str(root / "submission"), "--root", str(private / "kit-root"),
               "--device", "cpu", "--out", str(out)]  # fmt: skip
    child = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        child.wait(timeout=budget_s)
    except subprocess.TimeoutExpired:
        # SIGINT first: the grader's finally blocks reap the kernel and restore what the
        # sandbox hid; SIGKILL when that takes longer than the grace.
        os.killpg(child.pid, signal.SIGINT)
        try:
            child.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        return (
            f"grading took longer than its {budget_s:.0f} s budget (the notebook's own time "
            "limits should have stopped it first)."
        )
    if child.returncode not in (0, 1):
        return f"the grader stopped with exit status {child.returncode}."
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Grade the submission under ``--root``; always writes ``results/results.json``."""
    from autograder.report import write_atomic

    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope.run")
    parser.add_argument("--root", type=Path, default=Path("/autograder"),
                        help="Gradescope's /autograder (default)")  # fmt: skip
    args = parser.parse_args(argv)
    started = time.monotonic()
    root = args.root.resolve()
    results_path = root / "results" / "results.json"
    package = json.loads((root / "private" / "package.json").read_text())
    results: dict
    with tempfile.TemporaryDirectory(dir=root / "private", prefix="run-") as work:
        os.chmod(work, 0o700)
        out = Path(work) / "results.json"
        budget = max(MIN_BUDGET_S, package["time_limit_s"] - WRITE_MARGIN_S)
        reason = _grade(root, package, out, budget)
        if reason is None:
            try:
                results = json.loads(out.read_text())
                problems = schema_problems(results)
                if problems:
                    reason = f"the grader wrote results Gradescope cannot read ({problems[0]})."
            except (OSError, ValueError) as error:
                reason = f"the grader wrote no readable results ({type(error).__name__})."
        if reason is not None:
            print(f"run_autograder: {reason}", file=sys.stderr)
            results = fallback_results(package, reason, time.monotonic() - started)
    results.setdefault("output_format", "text")
    write_atomic(results_path, results)
    print(f"run_autograder: score {results['score']:g}; results in {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
