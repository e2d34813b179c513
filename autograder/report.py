"""Report: ``results.json`` in Gradescope's schema and the console summary.

``results.json`` is written once, atomically (a temporary file in the same folder, then a rename),
with every output cut to a sane size, so a reader never sees half a file and a flood of output
cannot make it unreadable. It is written before any feedback page (``autograder.feedback``).
"""

from __future__ import annotations

from autograder.contract import ANSI, write_atomic_json
from autograder.score import TestOutcome

__all__ = ["results_json", "shorten", "status_word", "summary_table", "write_atomic"]

#: Write JSON to a path in one step (the contract's atomic writer; the name importers use).
write_atomic = write_atomic_json

MAX_TEST_OUTPUT = 8_000
MAX_TOP_OUTPUT = 20_000


def _cut(text: str, limit: int) -> str:
    text = ANSI.sub("", text)
    if len(text) <= limit:
        return text
    return text[: limit - 60] + f"\n[... cut: {len(text) - limit + 60:,} more characters]"


def results_json(
    outcomes: list[TestOutcome],
    *,
    notices: list[str],
    execution_time: float,
    leaderboard: list[dict] | None = None,
) -> dict:
    """The Gradescope results object (``score``, ``execution_time``, ``output``, ``tests``,
    ``leaderboard``).

    >>> r = results_json([TestOutcome("t1", 2.0, 2.0, True, "Passed.")], notices=[],
    ...                  execution_time=1.234)
    >>> r["score"], r["tests"][0]["status"], r["execution_time"]
    (2.0, 'passed', 1.23)
    """
    tests = [_test_entry(o) for o in outcomes]
    total = round(sum(o.score for o in outcomes), 4)
    possible = round(sum(o.max_score for o in outcomes), 4)
    head = f"Autograded score: {total:g} of {possible:g}."
    if pending := [o for o in outcomes if o.kind == "manual"]:
        by_hand = round(sum(o.pending_points for o in pending), 4)
        head += (
            f" Written answers, graded by hand: {by_hand:g} more points, pending; "
            f"the assignment's total is out of {possible + by_hand:g}."
        )
    output = "\n".join([head, *notices]) if notices else head
    results = {
        "score": total,
        "execution_time": round(execution_time, 2),
        "output": _cut(output, MAX_TOP_OUTPUT),
        "tests": tests,
    }
    if leaderboard:
        results["leaderboard"] = leaderboard
    return results


def _test_entry(o: TestOutcome) -> dict:
    """One ``tests`` entry. A written answer (kind "manual") has no ``status``: Gradescope's
    schema knows only passed and failed, and it is neither until a grader reads it."""
    entry = {
        "name": o.name,
        "score": round(o.score, 4),
        "max_score": round(o.max_score, 4),
        "status": "passed" if o.passed else "failed",
        "output": _cut(o.output, MAX_TEST_OUTPUT),
        "visibility": o.visibility,
    }
    if o.kind == "manual":
        del entry["status"]
    return entry


#: Characters of a message's first line the terminal summary shows.
SUMMARY_MESSAGE_CHARS = 72


def status_word(test: dict) -> str:
    """'passed', 'partial' (some of the points), 'failed' or 'pending' (graded by hand), from a
    results.json test.

    Gradescope's schema knows only passed and failed, so partial credit is read from the score.

    >>> status_word({"status": "failed", "score": 5.6, "max_score": 10})
    'partial'
    """
    if "status" not in test:  # a written answer, graded by hand later
        return "pending"
    if test["status"] == "passed":
        return "passed"
    return "partial" if 0 < test["score"] < test["max_score"] else "failed"


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a space to at most ``limit`` characters plus " …", so that no number or
    word is cut in two (a single word longer than ``limit`` is kept whole).

    >>> shorten("accuracy = 0.8123 on 10000 images", 20)
    'accuracy = 0.8123 on …'
    """
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    if cut <= 0:
        cut = text.find(" ") if text.find(" ") > 0 else len(text)
    return text[:cut].rstrip() + " …" if cut < len(text) else text


def summary_table(results: dict) -> str:
    """A short per-test summary for the terminal: ok / part / FAIL, points, the message's first
    line (cut between words)."""
    marks = {"passed": "ok  ", "partial": "part", "failed": "FAIL", "pending": "hand"}
    lines = []
    width = max([len(t["name"]) for t in results["tests"]] + [4])
    for t in results["tests"]:
        first = t["output"].splitlines()[0] if t["output"] else ""
        lines.append(
            f"{marks[status_word(t)]} {t['name']:<{width}} {t['score']:>6g} / "
            f"{t['max_score']:<6g} {shorten(first, SUMMARY_MESSAGE_CHARS)}".rstrip()
        )
    possible = sum(t["max_score"] for t in results["tests"])
    lines.append(f"{'':5}{'total':<{width}} {results['score']:>6g} / {possible:<6g}".rstrip())
    return "\n".join(lines)
