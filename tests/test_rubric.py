"""Written answers graded by hand: rubrics in the source, an export for graders, pending in
results.json, and lint keeping the handout, the notebook and the report template in agreement."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.config import load_assignment
from autograder.lint import lint
from autograder.report import results_json, summary_table
from autograder.rubric import (
    Criterion,
    WrittenAnswer,
    export_rubric,
    pending_outcomes,
    read_answers,
    rubric_problems,
)
from autograder.score import TestOutcome

ROOT = Path(__file__).resolve().parents[1]
A1 = "a1_mlp_numpy"


def _a1_answers() -> list[WrittenAnswer]:
    return read_answers(ROOT / "source" / A1, [f"{A1}.ipynb"])


def test_a1_written_answers_carry_rubrics_that_fit_their_points():
    """Do a1's three written answers each have a rubric adding up to their points (11 in all),
    shown in the question above them?"""
    answers = _a1_answers()
    assert [(a.grade_id, a.points) for a in answers] == [
        ("q1_study", 4.0), ("q2_curves", 4.0), ("q3_errors", 3.0),
    ]  # fmt: skip
    assert [p for a in answers for p in rubric_problems(a)] == []
    assert all("*Rubric" in a.question for a in answers)


@pytest.mark.parametrize(
    ("rubric", "question", "message"),
    [
        ((), "", r"has no rubric"),
        ((Criterion("a", 1.0), Criterion("b", 1.0)), "a b", r"worth 3 points but .* add up to 2"),
        ((Criterion("says why", 3.0),), "no rubric text here", r"does not show the rubric"),
    ],
)
def test_a_rubric_that_does_not_fit_is_a_problem(rubric, question, message):
    """Does a missing rubric, one that adds up wrong, or one graders cannot see get a sentence?"""
    import re

    problems = rubric_problems(WrittenAnswer("n.ipynb", "q9", 3.0, question, rubric))
    assert any(re.search(message, p) for p in problems), problems


def test_export_has_one_row_per_criterion(tmp_path):
    """Does `rubric` write one CSV row per rubric item (Gradescope-ready), and JSON per question?"""
    out = tmp_path / "a1.csv"
    assert main(["rubric", A1, "--root", str(ROOT), "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 11 and {r["question"] for r in rows} == {"q1_study", "q2_curves",
                                                                  "q3_errors"}  # fmt: skip
    assert sum(float(r["points"]) for r in rows) == 11
    questions = json.loads(export_rubric(_a1_answers(), "json"))
    assert [q["max_points"] for q in questions] == [4.0, 4.0, 3.0]
    with pytest.raises(ValueError, match=r"Unknown rubric format 'pdf'"):
        export_rubric([], "pdf")


def test_results_list_written_answers_as_pending_outside_the_score():
    """Is the autograded total kept apart from the hand-graded points, with no pass or fail
    given to an answer no one has read?"""
    outcomes = [TestOutcome("test_affine", 2.25, 3.0, False, "record ..."),
                *pending_outcomes(_a1_answers())]  # fmt: skip
    results = results_json(outcomes, notices=[], execution_time=1.0)
    assert results["score"] == 2.25
    written = [t for t in results["tests"] if "written answer" in t["name"]]
    assert (
        len(written) == 3
        and written[0]["name"] == "q1_study (written answer, 4 points, graded by hand)"
    )
    assert all("status" not in t and t["max_score"] == 0 and t["score"] == 0 for t in written)
    assert all(t["output"].startswith("Graded by hand: ") for t in written)
    assert results["output"].startswith("Autograded score: 2.25 of 3. Written answers, graded "
                                        "by hand: 11 more points, pending; the assignment's "
                                        "total is out of 14.")  # fmt: skip
    assert "hand q1_study" in summary_table(results)
    from autograder.gradescope.run import schema_problems

    assert schema_problems(results) == []  # Gradescope's status is optional


def _a1_kit(tmp_path) -> Path:
    """A copy of what lint reads for a1 (config, source, release), to break."""
    kit = tmp_path / "kit"
    for part in ("assignments", "source", "release"):
        shutil.copytree(ROOT / part / A1, kit / part / A1)
    return kit


def test_lint_finds_questions_asked_in_both_notebook_and_report(tmp_path):
    """Does lint refuse a report template that asks the notebook's written questions again?"""
    kit = _a1_kit(tmp_path)
    assert [str(f) for f in lint(load_assignment(A1, kit))] == []
    template = kit / "assignments" / A1 / "report_template.md"
    template.write_text(template.read_text() + "\n**Question 1.** Which change helped most?\n")
    found = [str(f) for f in lint(load_assignment(A1, kit))]
    assert len(found) == 1 and "asks 1 questions" in found[0] and "answer twice" in found[0]


def test_lint_finds_a_rubric_that_disagrees_with_the_points(tmp_path):
    """Does lint name a written answer whose rubric adds up to other than its points?"""
    kit = _a1_kit(tmp_path)
    path = kit / "source" / A1 / f"{A1}.ipynb"
    nb = nbformat.read(path, as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") ==
                  "q3_errors")  # fmt: skip
    answer.metadata.kit.rubric[0]["points"] = 2
    nbformat.write(nb, path)
    found = [str(f) for f in lint(load_assignment(A1, kit)) if not str(f).startswith("release")]
    assert any("'q3_errors' is worth 3 points but its rubric's criteria add up to 4" in f
               for f in found), found  # fmt: skip
