"""The executed notebook from every attempt's records: each cell's latest run, the kernel's
verdict on it (its execute_reply), the grader's error for cells it stopped, cells not run, notices.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import nbformat

from autograder.execute.cells import _Labeller
from autograder.execute.messages import (
    _error_output,
    _not_run_message,
    _notice_for_error,
    _plain,
    _stopped_by_grader,
)
from autograder.execute.output_budget import MAX_MESSAGE_BYTES, _OutputBudget
from autograder.execute.results import CellFailure, CellNotRun
from autograder.limits import Limits


def _assemble(
    nb: nbformat.NotebookNode,
    records: Mapping[int, tuple[nbformat.NotebookNode, str]],
    replies: Mapping[int, dict],
    stop: tuple[str, int | None] | None,
    budget: _OutputBudget,
    limits: Limits,
    label: _Labeller,
) -> tuple[nbformat.NotebookNode, dict[int, CellFailure], dict[int, CellNotRun], list[str]]:
    """The executed notebook from each cell's latest record; failures, cells not run, notices."""
    final = copy.deepcopy(nb)
    failures: dict[int, CellFailure] = {}
    not_run: dict[int, CellNotRun] = {}
    notices: list[str] = []
    for index in range(len(final.cells)):
        if final.cells[index].cell_type != "code":
            continue
        if index not in records:
            if final.cells[index].source.strip():
                total = stop is None or stop[0] == "total-timeout"
                reason = "total-timeout" if total else "restart-limit"
                not_run[index] = CellNotRun(index, reason, _not_run_message(reason, limits))
            continue
        cell, outcome = records[index]
        final.cells[index] = cell
        stopped = _stopped_by_grader(index, outcome, stop, limits, label)
        if stopped is not None:
            ename, evalue, notice = stopped
            cell.outputs.append(_error_output(ename, evalue))
            failures[index] = CellFailure(index, ename, evalue, "")
            notices.append(notice)
        note = budget.note(index)
        if note:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=note))
            name = label(index, capital=True)
            too_big = (
                f"{name} sent an output larger than the {MAX_MESSAGE_BYTES / 2**20:g} MB the "
                "grader accepts in one message; "
            )
            notices.append(
                too_big + "the rest of that cell's output was lost (the next cells ran normally)."
                if index in budget.lost
                else too_big + "that output was not kept (the rest was). Save large results to "
                "a file instead of printing or displaying them."
                if index in budget.refused
                else f"{name} printed more output than the grader keeps; the rest was cut."
            )
        if index in failures:
            continue
        failure = _verdict(index, cell, replies.get(index))
        if failure is not None:
            failures[index] = failure
            notices += _notice_for_error(failure, label, limits)
    if not_run:
        first = min(not_run)
        notices.append(
            f"{len(not_run)} cell{'s' if len(not_run) > 1 else ''} from {label(first)} on "
            f"did not run: {not_run[first].message}"
        )
    return final, failures, not_run, notices


def _verdict(index: int, cell: nbformat.NotebookNode, reply: Mapping | None) -> CellFailure | None:
    """The kernel's word on a cell that ran to its end: None when its execute_reply says ``ok``.

    The reply decides, not the outputs: an exception swallowed by ``set_custom_exc`` or one whose
    message cannot be encoded leaves no ``error`` output, but its reply still says ``error``.
    An error output gives the details when the reply lacks them.

    >>> ok = _verdict(3, nbformat.v4.new_code_cell("x = 1"), {"status": "ok"})
    >>> ok is None
    True
    >>> str(_verdict(3, nbformat.v4.new_code_cell("x = 1"), {"status": "error", "ename": "E",
    ...                                                     "evalue": "bad"}))
    'cell 3: E: bad'
    """
    if not cell.source.strip():
        return None  # nothing to run: nbclient sends no request, so there is no reply
    status = reply.get("status") if reply is not None else None
    if status == "ok":
        return None
    output = next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)
    if status == "error":
        ename = reply.get("ename") or (output.ename if output else "") or "Error"
        evalue = reply.get("evalue") or (output.evalue if output else "")
        traceback = reply.get("traceback") or (output.traceback if output else [])
        if not isinstance(traceback, list):
            traceback = [str(traceback)]
        return CellFailure(
            index, _plain(str(ename)), _plain(str(evalue)), _plain("\n".join(map(str, traceback)))
        )
    if status == "aborted":
        return CellFailure(index, "ExecutionAborted", "the kernel aborted the cell", "")
    evalue = (
        "the kernel did not say whether the cell succeeded"
        if reply is None
        else f"the kernel answered with the unknown status {status!r}"
    )
    return CellFailure(index, "NoExecuteReply", evalue, "")
