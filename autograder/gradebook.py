"""The course's grade book from the graded submissions' JSON files: ``grades.csv`` and
``leaderboard.md``.

Names and numbers come from each submission's ``results.json`` and ``status.json`` only (JSON,
never pickle); a missing or malformed file makes a row "not graded", never an error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from autograder.batch_worker import (
    GRADED_CODES,
    RESULTS,
    STATUS,
    Submission,
    max_score_of,
    number,
    read_json,
    results_tests,
)  # fmt: skip
from autograder.contract import write_atomic_text

__all__ = ["write_tables"]


def _cell(value):
    """A CSV cell that a spreadsheet will not run as a formula (names come from exports)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_tables(out: Path, submissions: Sequence[Submission]) -> tuple[Path, Path]:
    """``out/grades.csv`` and ``out/leaderboard.md`` from each submission's JSON files.

    grades.csv: ``submission, students, status, <one column per test, in the assignment's
    order>, total, max_total``; a submission not graded has an empty score row and its status
    says why. leaderboard.md: one table per leaderboard item, best value first.
    """
    out = Path(out)
    rows, columns, boards = [], [], {}
    for sub in submissions:
        folder = out / sub.name
        results, status = read_json(folder / RESULTS), read_json(folder / STATUS) or {}
        scores = {}
        for test in results_tests(results):
            if test["name"] not in columns:
                columns.append(test["name"])
            scores[test["name"]] = number(test, "score")
        for entry in (results or {}).get("leaderboard") or []:
            value = number(entry, "value") if isinstance(entry, dict) else None
            if value is not None and isinstance(entry.get("name"), str):
                boards.setdefault(entry["name"], []).append((value, sub.name, sub.students))
        if status.get("exit_code") in GRADED_CODES and results is not None:
            state = "graded"
        elif status:
            state = f"not graded: {status.get('message') or 'unknown'}"
        else:
            state = "not graded yet"
        rows.append((sub, state, scores, number(results, "score"), max_score_of(results)))
    grades = out / "grades.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission", "students", "status", *columns, "total", "max_total"])
    for sub, state, scores, total, possible in rows:
        writer.writerow(
            [
                _cell(sub.name),
                _cell(sub.students),
                _cell(state),
                *(scores.get(c, "") for c in columns),
                "" if total is None else total,
                "" if possible is None else possible,
            ]
        )
    write_atomic_text(grades, buffer.getvalue())
    lines = []
    for name, entries in sorted(boards.items()):
        lines += [f"## {name}", "", "| rank | submission | students | value |",
                  "|---:|---|---|---:|"]  # fmt: skip
        for rank, (value, sub_name, students) in enumerate(
            sorted(entries, key=lambda e: (-e[0], e[1])), start=1
        ):
            who = students.replace("|", "/") or "-"
            lines.append(f"| {rank} | {sub_name} | {who} | {value:.4f} |")
        lines.append("")
    board = out / "leaderboard.md"
    write_atomic_text(board, "\n".join(lines) if lines else "No leaderboard items were recorded.\n")
    return grades, board
