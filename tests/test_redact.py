"""Hidden-test text never shows: student code that prints the hidden tests' source (``In``,
``_ih``, the history manager, an input transformer raising with the cell's text) finds it
removed from results.json and from the feedback page."""

from __future__ import annotations

import html
import json
import os
import re
import time

import nbformat
import pytest
import toy_assignment as toy

from autograder import pipeline
from autograder.config import load_assignment
from autograder.redact import REPLACEMENT, Redactor, hidden_test_lines

ADD = "def add(a, b):\n    return a + b\n"
SCALE = "def scale(x, k):\n    return x * k\n"
#: The hidden lines of the toy's tests, as a reader would spot them.
HIDDEN = ('grading_input("a")', "HIDDEN TESTS", 'record("scale.hidden"', 'record("add.hidden"')

PRINT_HISTORY = (
    "print(In)\n"
    "print(_ih[-3:])\n"
    "hm = get_ipython().history_manager\n"
    "print(hm.input_hist_raw)\n"
    "print(list(hm.get_range(output=False)))\n"
    "display({'text/plain': In[-2], 'text/html': '<pre>' + In[-2] + '</pre>'}, raw=True)\n"
)
RAISE_WITH_TEXT = (
    "def _tell(lines):\n"
    "    raise ValueError(''.join(lines))\n"
    "get_ipython().input_transformers_cleanup.append(_tell)\n"
)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    root = toy.make_root(tmp_path_factory.mktemp("kit"))
    os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
    assignment = load_assignment(toy.NAME, root)
    pipeline.build(assignment, device="cpu")
    yield assignment
    os.environ.pop("KIT_BUNDLE_DIR", None)


def _shown(graded) -> tuple[str, str]:
    """(results.json as text, the feedback page's visible text)."""
    page = graded.feedback[0].read_text()
    return json.dumps(graded.results), html.unescape(re.sub(r"<[^>]+>", "", page)) + page


def test_printing_in_and_the_history_after_the_tests_shows_no_hidden_line(kit, tmp_path):
    """Does a cell after a test that prints In, _ih and the history leak the hidden test?"""
    path = toy.student(tmp_path / "toy.ipynb", q1=ADD, q2=PRINT_HISTORY + SCALE)
    graded = pipeline.grade(kit, path, device="cpu", feedback_dir=tmp_path / "fb")
    results, page = _shown(graded)
    for text in HIDDEN:
        assert text not in results, text
        assert text not in page, text
    assert REPLACEMENT in page  # the lines were there, and were removed
    assert "def add(a, b)" in page  # the student's own cells still show
    assert graded.results["score"] == 5


def test_an_input_transformer_raising_with_the_cell_text_shows_no_hidden_line(kit, tmp_path):
    """Does an exception carrying each later cell's text leak the hidden tests?"""
    path = toy.student(tmp_path / "toy.ipynb", q1=RAISE_WITH_TEXT + ADD, q2=SCALE)
    graded = pipeline.grade(kit, path, device="cpu", feedback_dir=tmp_path / "fb")
    results, page = _shown(graded)
    for text in HIDDEN:
        assert text not in results, text
        assert text not in page, text
    assert "raised ValueError" in results  # the failure itself is still reported
    assert graded.results["score"] == 0


def test_redaction_is_linear_in_the_text(tmp_path):
    """Is redacting 2 MB of output against 2,000 hidden lines a matter of a second or less?"""
    lines = [f"record('r{i}', f{i}(grading_input('a{i}')))" for i in range(2000)]
    cell = "\n".join(["### BEGIN HIDDEN TESTS", *lines, "### END HIDDEN TESTS"])
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    release = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
    assert len(hidden_test_lines(source, release)) == 2002
    redactor = Redactor.from_notebooks(source, release)
    text = ("an ordinary line of output, not a test\n" * 50_000) + lines[1999] + "\n"
    started = time.perf_counter()
    clean = redactor.text(text)
    elapsed = time.perf_counter() - started
    assert clean.endswith(REPLACEMENT + "\n") and clean.count(REPLACEMENT) == 1
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    # A printed list of the lines (one line of text, strings joined by "', '"): all found.
    assert redactor.text(repr(lines)).count(REPLACEMENT) == 2000
