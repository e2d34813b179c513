"""The notebook as the kernel runs it (papermill's parameter injection) and cell names as the
student counts them (position in their notebook, grade_id).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping

import nbformat
from papermill.parameterize import parameterize_notebook

from autograder import sandbox


def _prepare(notebook: nbformat.NotebookNode, parameters: Mapping[str, object]):
    """A parameterised deep copy (papermill's injection) and its map to input positions."""
    nb = nbformat.from_dict(copy.deepcopy(dict(notebook)))
    nb = nbformat.v4.upgrade(nb)
    nb.metadata.setdefault("papermill", {"parameters": {}, "environment_variables": {}})
    nb.metadata.setdefault("kernelspec", {"name": sandbox.KERNEL_NAME, "language": "python"})
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
        cell.metadata.setdefault("papermill", {})
    if parameters:
        values = {
            key: os.fspath(v) if isinstance(v, os.PathLike) else v for key, v in parameters.items()
        }
        nb = parameterize_notebook(nb, values, language="python", kernel_name="python3")
    positions: list[int | None] = []
    seen = 0
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            positions.append(None)
        else:
            seen += 1
            positions.append(seen)
    return nb, positions


class _Labeller:
    """Names cells the way a student finds them: position in their notebook and grade_id."""

    def __init__(self, nb: nbformat.NotebookNode, positions: list[int | None]) -> None:
        self.nb, self.positions = nb, positions

    def __call__(self, index: int, capital: bool = False) -> str:
        position = self.positions[index]
        name = "the parameters cell" if position is None else f"cell {position}"
        meta = self.nb.cells[index].metadata
        grade_id = meta.get("kit", {}).get("grade_id") or meta.get("nbgrader", {}).get("grade_id")
        if grade_id:
            name += f" ({grade_id!r})"
        return name[0].upper() + name[1:] if capital else name
