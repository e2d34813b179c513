"""Plain sentences about errors a notebook raised, for the student.

A performance item only sees its prediction file: when the file is missing or the metric earned
no points, the cause is usually an error earlier in the notebook (weights that do not load, a
cell that crashed), which ``results.json`` would otherwise not mention. ``grade`` adds the first
such error to the item's message (:func:`performance_hint`), and ``check`` lists every one.

The grader cannot know the notebook's internals, so this reads only what any run leaves: the
error outputs of the executed notebook, in cell order, and each failing cell's source (to name
a submitted file it loads). One error is recognised by its text: PyTorch's
``Error(s) in loading state_dict for Net: size mismatch for ...`` becomes "The submitted weights
F do not fit Net as defined in the notebook: ...".

Test cells are left out: each has its own item in the results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from autograder.contract import assembled_grade_id

__all__ = ["RaisedError", "describe_error", "performance_hint", "raised_errors"]

#: PyTorch's ``Module.load_state_dict`` message (torch/nn/modules/module.py, stable since 1.0).
_STATE_DICT = re.compile(
    r"Error\(s\) in loading state_dict for (?P<net>[\w.]+):\s*(?P<detail>.+)", re.DOTALL
)
MAX_DETAIL_CHARS = 300


@dataclass(frozen=True)
class RaisedError:
    """One error output of an executed notebook.

    ``position``: the cell's 1-based number in the student's notebook (papermill's injected
    parameters cell not counted); ``grade_id``: the nbgrader id, or None for an added cell.
    """

    position: int
    grade_id: str | None
    ename: str
    evalue: str
    source: str

    @property
    def where(self) -> str:
        return (
            f"cell {self.position} ('{self.grade_id}')"
            if self.grade_id
            else f"cell {self.position}"
        )


def _text(value: object) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def raised_errors(
    executed: dict, skip_ids: set[str] = frozenset(), *, before: str | None = None
) -> list[RaisedError]:
    """The errors of ``executed``'s code cells in cell order, one per cell.

    Args:
        executed: the executed notebook (papermill's; its injected parameters cell is skipped).
        skip_ids: grade_ids left out (the test cells: they are scored on their own).
        before: stop after the first cell whose source mentions this text (a prediction
            file's name: errors after the cell that writes it cannot explain it).
    """
    found: list[RaisedError] = []
    position = 0
    for cell in executed.get("cells", []):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        position += 1
        if cell.get("cell_type") != "code":
            continue
        source = _text(cell.get("source"))
        gid = assembled_grade_id(cell)
        if gid not in skip_ids:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    found.append(RaisedError(position, gid, _text(out.get("ename")),
                                             _text(out.get("evalue")), source))  # fmt: skip
                    break
        if before and before in source:
            break
    return found


def describe_error(error: RaisedError, files: tuple[str, ...] = ()) -> str:
    """One sentence a student can act on; ``files``: the assignment's submitted files.

    >>> e = RaisedError(7, "train", "RuntimeError",
    ...     "Error(s) in loading state_dict for Net:\\n\\tsize mismatch for fc.weight: copying a "
    ...     "param with shape torch.Size([10, 64]) from checkpoint, the shape in current model "
    ...     "is torch.Size([10, 32]).", 'net.load_state_dict(torch.load("net.pt"))')
    >>> print(describe_error(e, ("net.pt",)))  # doctest: +NORMALIZE_WHITESPACE
    The submitted weights net.pt do not fit Net as defined in the notebook: size mismatch for
    fc.weight: copying a param with shape torch.Size([10, 64]) from checkpoint, the shape in
    current model is torch.Size([10, 32]) (cell 7 ('train')). Train again and save, or restore
    the definition you trained.
    """
    misfit = _STATE_DICT.search(error.evalue)
    if misfit:
        # PyTorch lists one mismatch per line: the first says what to look at.
        lines = [line.strip() for line in misfit["detail"].splitlines() if line.strip()]
        detail = lines[0][:MAX_DETAIL_CHARS].rstrip(". ")
        if len(lines) > 1:
            detail += f" (and {len(lines) - 1} more like it)"
        named = [f for f in files if f in error.source]
        weights = f"The submitted weights {named[0]}" if named else "The loaded weights"
        return (
            f"{weights} do not fit {misfit['net']} as defined in the notebook: {detail} "
            f"({error.where}). Train again and save, or restore the definition you trained."
        )
    first_line = (error.evalue.strip().splitlines() or [""])[0][:MAX_DETAIL_CHARS]
    sentence = f"{error.where[0].upper()}{error.where[1:]} raised {error.ename}: {first_line}"
    return sentence.rstrip(": .") + "."


def performance_hint(
    executed: dict, test_ids: set[str], predictions: str, files: tuple[str, ...]
) -> str | None:
    """The sentence to add to a performance item that earned nothing: the first error raised
    before the cell that writes ``predictions`` (outside test cells), or None when there was
    none."""
    errors = raised_errors(executed, test_ids, before=predictions)
    if not errors:
        return None
    return (
        f"An error earlier in the notebook is the likely cause: {describe_error(errors[0], files)}"
    )
