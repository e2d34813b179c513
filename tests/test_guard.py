"""The guard around grading: whatever fails, results.json is written, results come before the
feedback, and the CLI ends with a plain message and its documented exit code."""

from __future__ import annotations

import errno
import functools
import json
import os

import pytest
import toy_assignment as toy

from autograder import cli, pipeline
from autograder.config import load_assignment

SOLVED = {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"}


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A kit root holding the toy assignment, built once for the module."""
    root = toy.make_root(tmp_path_factory.mktemp("kit"))
    os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
    assignment = load_assignment(toy.NAME, root)
    pipeline.build(assignment, device="cpu")
    yield assignment
    os.environ.pop("KIT_BUNDLE_DIR", None)


def grade_cli(assignment, submission, out, *extra):
    argv = ["grade", toy.NAME, str(submission), "--root", str(assignment.root), "--out", str(out),
            "--device", "cpu", *extra]  # fmt: skip
    return cli.main(argv)


def assert_every_test_listed_at_zero(out, what):
    results = json.loads(out.read_text())
    tests = {t["name"]: t for t in results["tests"]}
    assert sorted(tests) == ["q1_tests", "q2_tests"]
    assert results["score"] == 0
    for test in tests.values():
        assert test["score"] == 0 and test["status"] == "failed"
        assert what in test["output"] and "not of your notebook" in test["output"]
    assert what in results["output"]
    return results


def test_a_100000_deep_json_notebook_still_gets_results(kit, tmp_path, capsys):
    """Does a notebook that crashes the grader's Python (RecursionError) still get results.json,
    every test listed, and exit code 4?"""
    submission = tmp_path / "toy.ipynb"
    submission.write_text('{"cells": [], "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}")
    out = tmp_path / "results.json"
    code = grade_cli(kit, submission, out)
    if code != cli.EXIT_GRADER_ERROR:  # intake now reads it: nothing crashed to guard against
        pytest.skip(f"this input no longer crashes the grader (exit {code})")
    assert_every_test_listed_at_zero(out, "RecursionError")
    err = capsys.readouterr().err
    assert "the grader failed on this submission (RecursionError)" in err and "Traceback" in err


def test_a_full_disk_while_grading_still_gets_results(kit, tmp_path, monkeypatch, capsys):
    """ENOSPC while the executed notebook is written: results.json, every test, exit code 4."""
    from autograder.execute import run

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run, "_write_private", full)
    out = tmp_path / "results.json"
    code = grade_cli(kit, toy.student(tmp_path / "toy.ipynb", **SOLVED), out)
    assert code == cli.EXIT_GRADER_ERROR
    assert_every_test_listed_at_zero(out, "OSError")
    assert "No space left on device" in capsys.readouterr().err  # the details, for the instructor


@pytest.mark.parametrize(
    "error, code, message",
    [
        ("KernelStartError", cli.EXIT_KERNEL_START, "could not start"),
        ("IsolationUnavailableError", cli.EXIT_ISOLATION, "cannot isolate"),
    ],
)
def test_machine_problems_get_their_own_exit_code(kit, tmp_path, monkeypatch, capsys, error, code,
                                                  message):  # fmt: skip
    """Does a kernel that cannot start, or isolation that is unavailable, end with a plain
    message (no traceback), its own exit code, and results.json listing every test?"""
    from autograder import execute, sandbox

    exc = {"KernelStartError": execute.KernelStartError,
           "IsolationUnavailableError": sandbox.IsolationUnavailableError}[error]  # fmt: skip

    def fail(*args, **kwargs):
        raise exc("the machine said no")

    monkeypatch.setattr(execute, "execute_notebook", fail)
    out = tmp_path / "results.json"
    assert grade_cli(kit, toy.student(tmp_path / "toy.ipynb", **SOLVED), out) == code
    results = json.loads(out.read_text())
    assert sorted(t["name"] for t in results["tests"]) == ["q1_tests", "q2_tests"]
    assert message in results["output"]
    err = capsys.readouterr().err
    assert "the machine said no" in err and "Traceback" not in err


def test_missing_bundle_keeps_exit_code_3_and_writes_results(kit, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KIT_BUNDLE_DIR", str(tmp_path / "no-bundles"))
    out = tmp_path / "results.json"
    code = grade_cli(kit, toy.student(tmp_path / "toy.ipynb", **SOLVED), out)
    assert code == cli.EXIT_BUNDLE
    results = json.loads(out.read_text())
    assert results["score"] == 0 and "not set up" in results["output"]
    assert "autograder build toy" in capsys.readouterr().err


def test_results_are_written_before_the_feedback(kit, tmp_path, monkeypatch):
    """Is results.json complete on disk when the feedback starts rendering?"""
    from autograder import feedback

    out = tmp_path / "results.json"
    seen = []
    real = feedback.write_feedback_page

    def spy(nb, page, **kwargs):
        seen.append(json.loads(out.read_text())["score"] if out.exists() else None)
        return real(nb, page, **kwargs)

    monkeypatch.setattr(feedback, "write_feedback_page", spy)
    code = grade_cli(kit, toy.student(tmp_path / "toy.ipynb", **SOLVED), out,
                     "--feedback", str(tmp_path / "fb"))  # fmt: skip
    assert code == cli.EXIT_OK
    assert seen == [5]
    assert (tmp_path / "fb" / "toy.html").is_file()


def test_a_feedback_that_cannot_render_leaves_results_and_a_short_page(kit, tmp_path, monkeypatch):
    from autograder import feedback

    slow = functools.partial(
        feedback.write_feedback_page, limits=feedback.RenderLimits(time_s=0.01)
    )
    monkeypatch.setattr(feedback, "write_feedback_page", slow)
    out = tmp_path / "results.json"
    code = grade_cli(kit, toy.student(tmp_path / "toy.ipynb", **SOLVED), out,
                     "--feedback", str(tmp_path / "fb"))  # fmt: skip
    assert code == cli.EXIT_OK
    assert json.loads(out.read_text())["score"] == 5
    assert "feedback page not available" in (tmp_path / "fb" / "toy.html").read_text()


def test_a_grader_error_leaves_a_short_feedback_page(kit, tmp_path, monkeypatch):
    """With --feedback, does a grader error still leave a page saying why there is no feedback?"""
    from autograder.execute import run

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run, "_write_private", full)
    out = tmp_path / "results.json"
    code = grade_cli(kit, toy.student(tmp_path / "toy.ipynb", **SOLVED), out,
                     "--feedback", str(tmp_path / "fb"))  # fmt: skip
    assert code == cli.EXIT_GRADER_ERROR
    page = (tmp_path / "fb" / "toy.html").read_text()
    assert "feedback page not available" in page and "(OSError)" in page
    assert "No space left" not in page  # the exception's text is for the instructor only


def test_a_bug_outside_grade_exits_4_not_1(kit, monkeypatch, capsys):
    """Does an unexpected exception in `build` end with exit 4 and a plain line (1 would read as
    'graded, points missing')?"""

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(pipeline, "build", broken)
    code = cli.main(["build", toy.NAME, "--root", str(kit.root), "--device", "cpu"])
    assert code == cli.EXIT_GRADER_ERROR
    err = capsys.readouterr().err
    assert "error: the grader failed (a bug in the kit" in err and "ZeroDivisionError" in err


def test_a_crash_while_making_feedback_keeps_the_results(kit, tmp_path, monkeypatch):
    """Results are written first: does a crash in the feedback step leave them as graded (not
    replaced by a grader error)?"""
    from autograder import feedback

    def crash(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(feedback, "write_feedback_page", crash)
    out = tmp_path / "results.json"
    code = grade_cli(kit, toy.student(tmp_path / "toy.ipynb", **SOLVED), out,
                     "--feedback", str(tmp_path / "fb"))  # fmt: skip
    assert code == cli.EXIT_OK
    assert json.loads(out.read_text())["score"] == 5
