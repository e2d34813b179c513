"""A cell's verdict is the kernel's execute_reply status, not the absence of an error output.

The fixtures follow tests/fixtures/execute's frame (see tests/test_execute.py): executed, the
case's first cell is cell 4 and the last cell prints ``after: 42``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_execute import AFTER, FAST, last, run

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root")


@needs_root
def test_an_exception_swallowed_by_set_custom_exc_still_fails(tmp_path: Path):
    """Does a cell whose exception a custom handler hides (no error output) count as failed?"""
    result = run("custom-exc-swallows", tmp_path, FAST)
    cell = result.notebook.cells[5]
    assert not [o for o in cell.outputs if o.output_type == "error"], "the fixture shows no error"
    assert 5 in result.failures
    assert result.failures[5].ename == "ValueError"
    assert 4 not in result.failures  # installing the handler itself succeeded
    assert last(result) == AFTER


@needs_root
def test_an_exception_message_with_a_lone_surrogate_still_fails(tmp_path: Path):
    """Does an exception whose message cannot be encoded as UTF-8 count as failed?"""
    result = run("surrogate-message", tmp_path, FAST)
    assert 4 in result.failures
    failure = result.failures[4]
    failure.evalue.encode("utf-8")  # what the grader keeps can be written to results.json
    assert last(result) == AFTER
