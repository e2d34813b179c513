"""The student side: ``helpers`` stands alone, and the student wheel works on a machine that has
only the handout and the wheel."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def autograder_imports(path: Path) -> list[int]:
    """The line of every import of ``autograder`` in ``path`` (top level or in a function).

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "m.py"
    >>> _ = f.write_text("import os\\ndef g():\\n    from autograder.config import x\\n")
    >>> autograder_imports(f)
    [3]
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name == "autograder" or name.startswith("autograder.") for name in names):
            found.append(node.lineno)
    return found


def test_helpers_never_imports_autograder():
    """Does any module of helpers import autograder (the student wheel would break)?"""
    found = [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / "helpers").rglob("*.py"))
             for line in autograder_imports(path)]  # fmt: skip
    assert found == [], f"helpers imports autograder at {found}; move that code to autograder/."
