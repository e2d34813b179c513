"""Which records are evidence: values the kernel could not have produced without the student's code.

The kernel runs student code, so everything it does can be forged: the execute reply, the
record files, the order of cells. What it cannot forge is the output of a correct function on
inputs it did not know in advance. ``build`` therefore runs the source solution on several input
draws (``[grading] input_pool``) and refuses any record that is not evidence:

- a **scalar boolean** (or a one-element boolean array): a guess is right half the time, and a
  kernel that patches ``record`` or the comparison always guesses right;
- a **constant**: a value that, within the record's own tolerance, is the same in every draw.
  A student could record it without calling any of their code;
- a **copy of an input**: a value equal (within its tolerance) to one of that draw's grading
  inputs, which the kernel can read and record back;
- a **uniform boolean array**: all True (or all False) in every draw, so only its shape varies,
  and the shape comes from the inputs (``isfinite(out)`` of a stub returning zeros);
- **the inputs' sizes**: whole numbers that are all among the draw's input shapes and whole
  scalar inputs (``out.shape == (len(images), classes)``), which a kernel reads off the inputs.

The rule is per record, not per cell: every record of a test cell must be evidence, because the
cell's points need every record to match and a cell whose only real check is one record among
forgeable ones is only as strong as that record. Keep the checks a test makes that are not
evidence (dtypes, flags, "loss went down") as ``assert``s in the cell: they still help the
student, and they cost nothing to the grader's trust.

A boolean *array* whose values change with the inputs (a dropout mask, a per-class NaN flag) is
evidence: it is as hard to guess as the data that made it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["NotEvidence", "check_evidence"]


@dataclass(frozen=True)
class NotEvidence:
    """One record ``build`` refuses: which cell, which record, why, and how to fix it."""

    grade_id: str
    record: str
    reason: str
    fix: str

    def __str__(self) -> str:
        return f"{self.grade_id}: record '{self.record}' {self.reason}. {self.fix}"


_FIX_BOOL = (
    "Record the values the check is made from (the student function's output on grading "
    "inputs) and keep the check itself as an assert."
)
_FIX_CONSTANT = (
    "Make it depend on the grading inputs: draw what the test uses (sizes, seeds, data) in "
    "grading_inputs.py and record the student function's output on those inputs."
)
_FIX_COPY = "Record what the student's function computes from the input, not the input itself."
_FIX_SIZES = (
    "Record values the student's code computes (outputs, parameter counts of an architecture the "
    "test specifies), not sizes the test's inputs already give; check shapes with an assert."
)


def _input_sizes(draw_inputs: Mapping[str, np.ndarray]) -> set[int]:
    """Every whole number a kernel can read off a draw's inputs: their shapes and whole scalars.

    >>> sorted(_input_sizes({"x": np.zeros((5, 3)), "k": np.array(7)}))
    [3, 5, 7]
    """
    sizes: set[int] = set()
    for given in draw_inputs.values():
        given = np.asarray(given)
        sizes.update(int(n) for n in given.shape)
        if given.size == 1 and given.dtype.kind in "iu":
            sizes.add(int(given.reshape(())))
    return sizes


def _matches(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    """Would ``a`` pass as ``b`` under the grader's comparison (``autograder.score``)?"""
    if a.shape != b.shape:
        return False
    numeric = "biuf"
    if a.dtype.kind in numeric and b.dtype.kind in numeric:
        return bool(
            np.isclose(
                a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True
            ).all()
        )
    if a.dtype.kind == b.dtype.kind == "c":
        return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
    if a.dtype.kind in "US" and b.dtype.kind in "US":
        return bool(np.array_equal(a.astype(str), b.astype(str)))
    return False


def check_evidence(
    grade_id: str,
    name: str,
    draws: Sequence[np.ndarray],
    inputs: Sequence[Mapping[str, np.ndarray]],
    *,
    rtol: float,
    atol: float,
) -> NotEvidence | None:
    """``None`` when record ``name`` is evidence, else why it is not.

    Args:
        grade_id: the test cell that made the record (for the message).
        name: the record's name.
        draws: the record's value in each input draw, in draw order (at least two).
        inputs: each draw's grading inputs, ``{input name: array}``, in the same order.
        rtol, atol: the record's tolerance, as the grader will compare it.

    >>> a, b = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    >>> check_evidence("t", "r", [a, b], [{}, {}], rtol=1e-6, atol=0) is None
    True
    >>> print(check_evidence("t", "r", [np.array(True)] * 2, [{}, {}], rtol=0, atol=0))
    ... # doctest: +ELLIPSIS
    t: record 'r' is a single boolean...
    """
    first = draws[0]
    if first.dtype.kind == "b" and first.size <= 1:
        return NotEvidence(
            grade_id, name,
            "is a single boolean, which a kernel can decide without the student's code",
            _FIX_BOOL,
        )  # fmt: skip
    if all(_matches(first, value, rtol, atol) for value in draws[1:]):
        return NotEvidence(
            grade_id, name,
            f"has the same value in all {len(draws)} input draws (within rtol={rtol:g}, "
            f"atol={atol:g}), so a constant would pass", _FIX_CONSTANT,
        )  # fmt: skip
    if first.dtype.kind == "b" and all(v.size and (v.all() or not v.any()) for v in draws):
        return NotEvidence(
            grade_id, name,
            "is all True or all False in every input draw, so only its shape varies, and the "
            "shape comes from the inputs", _FIX_BOOL,
        )  # fmt: skip
    if first.dtype.kind in "iu" and all(
        v.size and set(v.reshape(-1).tolist()) <= _input_sizes(d)
        for v, d in zip(draws, inputs, strict=True)
    ):
        return NotEvidence(
            grade_id, name,
            "is made only of the sizes of the grading inputs (their shapes and whole numbers), "
            "which a kernel reads off the inputs without the student's code", _FIX_SIZES,
        )  # fmt: skip
    for value, draw_inputs in zip(draws, inputs, strict=True):
        for input_name, given in draw_inputs.items():
            if _matches(value, np.asarray(given), rtol, atol):
                return NotEvidence(
                    grade_id, name,
                    f"equals the grading input '{input_name}', which the kernel can record "
                    "back without the student's code", _FIX_COPY,
                )  # fmt: skip
    return None
