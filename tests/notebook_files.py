"""What the assignment tests read from the kit's files: a Python file loaded by path (a reference
script or grading_inputs.py, which are not in a package) and a notebook's code cells."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import nbformat


def module_from_path(path: Path, name: str) -> ModuleType:
    """Import the file at ``path`` as a module called ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def code_cells(path: Path) -> list[nbformat.NotebookNode]:
    """The code cells of the notebook at ``path``, in order."""
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
