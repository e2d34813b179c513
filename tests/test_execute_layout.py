"""autograder.execute is cut by job: small modules, and papermill's, nbclient's, jupyter_client's
and pyzmq's internals used in one module only, with version bounds in pyproject.toml."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "autograder" / "execute"
PRIVATE_API = "_private_api.py"
#: Modules whose non-public parts the grader relies on (see autograder/execute/_private_api.py).
#: The public entry points used elsewhere are allowed: KernelSpecManager, DeadKernelError,
#: papermill's parameterize_notebook.
PUBLIC_IMPORTS = {"jupyter_client.kernelspec", "nbclient.exceptions", "papermill.parameterize"}
ENGINES = ("zmq", "papermill", "nbclient", "jupyter_client", "jupyter_core", "traitlets")
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(PACKAGE.glob("*.py"))


def _imported(path: Path) -> set[str]:
    """The absolute module names ``path`` imports (``import a.b`` and ``from a.b import c``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_execute_is_a_package_of_small_modules():
    """Is every module of autograder/execute/ under the line limit, with a docstring?"""
    assert PACKAGE.is_dir() and not (ROOT / "autograder" / "execute.py").exists()
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines < MAX_LINES, f"{path.name}: {lines} lines"
        assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), path.name


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_engine_internals_are_used_in_one_module(path):
    """Does only _private_api.py import from papermill/nbclient/jupyter_client/pyzmq beyond their
    public entry points?"""
    if path.name == PRIVATE_API:
        return
    engine = {n for n in _imported(path) if n.split(".")[0] in ENGINES} - PUBLIC_IMPORTS
    assert engine == set(), f"{path.name} imports {sorted(engine)}: move that use to {PRIVATE_API}"


def test_engine_versions_are_bounded():
    """Does pyproject.toml bound each library _private_api.py relies on, above and below?"""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for name in ("papermill", "nbclient", "jupyter_client", "pyzmq"):
        spec = next((d for d in dependencies if d.split(">")[0].split("<")[0] == name), None)
        assert spec is not None and ">=" in spec and "<" in spec.replace("<=", ""), (name, spec)
