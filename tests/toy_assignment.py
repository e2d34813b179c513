"""A tiny assignment, ``toy``, written into a temporary kit root for the autograder's tests.

Two answers and two tests, so that one part failing can be seen not to cost the other:

- ``q1`` defines ``add(a, b)``; ``q1_tests`` asserts a visible case and records ``add`` on grader
  inputs (hidden part);
- ``q2`` defines ``scale(x, k)``; ``q2_tests`` likewise.

Visible checks are asserts, not records: a record of ``add(1, 2)`` is a constant, which build
refuses (see ``autograder.evidence``).

The helpers below write the source, the release (as nbgrader would make it) and the config, and
make student versions with whatever answers a test needs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NAME = "toy"

PARAMETERS = 'GRADING = False\nDEVICE = "cpu"\nDATA_DIR = None\nOUTPUT_DIR = "outputs"\nSEED = 0'
SETUP = "import numpy as np\nfrom autograder.record import grading_input, record"
Q1 = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
Q1_BLANK = "def add(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
Q2 = "def scale(x, k):\n    ### BEGIN SOLUTION\n    return x * k\n    ### END SOLUTION"
Q2_BLANK = "def scale(x, k):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
T1_VISIBLE = "assert add(1, 2) == 3"
T1 = T1_VISIBLE + (
    '\n### BEGIN HIDDEN TESTS\nrecord("add.hidden", add(grading_input("a"), grading_input("b")),'
    " rtol=1e-9)\n### END HIDDEN TESTS"
)
T2_VISIBLE = "assert np.allclose(scale(np.ones(3), 2.0), 2.0)"
T2 = T2_VISIBLE + (
    '\n### BEGIN HIDDEN TESTS\nrecord("scale.hidden", scale(grading_input("a"), 3.0))'
    "\n### END HIDDEN TESTS"
)

CONFIG = textwrap.dedent(
    """\
    [assignment]
    title = "Toy"
    notebooks = ["toy.ipynb"]
    grading_inputs = "grading_inputs.py"

    [limits]
    cell_timeout_s = 20
    total_timeout_s = 60
    memory_mb = 2048
    max_processes = 64
    """
)
INPUTS = textwrap.dedent(
    """\
    import numpy as np


    def make_inputs(rng):
        return {"a": rng.normal(size=(4, 3)), "b": rng.normal(size=(4, 3))}
    """
)


def _meta(gid: str, **flags) -> dict:
    nbg = {"grade_id": gid, "schema_version": 3, "solution": False, "grade": False,
           "locked": False}  # fmt: skip
    nbg.update(flags)
    return {"nbgrader": nbg}


def notebook(q1: str = Q1, q2: str = Q2, t1: str = T1, t2: str = T2) -> nbformat.NotebookNode:
    """The toy notebook with the given cell texts (defaults: the source)."""
    params = new_code_cell(PARAMETERS, metadata=_meta("parameters", locked=True))
    params.metadata["tags"] = ["parameters"]
    cells = [
        new_markdown_cell("# Toy assignment"),
        params,
        new_code_cell(SETUP, metadata=_meta("setup", locked=True)),
        new_code_cell(q1, metadata=_meta("q1", solution=True)),
        new_code_cell(t1, metadata=_meta("q1_tests", grade=True, locked=True, points=2)),
        new_code_cell(q2, metadata=_meta("q2", solution=True)),
        new_code_cell(t2, metadata=_meta("q2_tests", grade=True, locked=True, points=3)),
    ]
    return new_notebook(
        cells=cells,
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}},
    )  # fmt: skip


def release() -> nbformat.NotebookNode:
    return notebook(Q1_BLANK, Q2_BLANK, T1_VISIBLE, T2_VISIBLE)


def make_root(root: Path) -> Path:
    """Write the toy assignment's source, release and config under ``root``."""
    (root / "assignments" / NAME).mkdir(parents=True)
    (root / "assignments" / NAME / "assignment.toml").write_text(CONFIG)
    (root / "assignments" / NAME / "grading_inputs.py").write_text(INPUTS)
    for kind, nb in (("source", notebook()), ("release", release())):
        (root / kind / NAME).mkdir(parents=True)
        nbformat.write(nb, root / kind / NAME / "toy.ipynb")
    return root


def student(path: Path, **answers: str) -> Path:
    """A student's notebook: the release with some answers filled (``q1=...``, ``q2=...``)."""
    nb = release()
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    for gid, text in answers.items():
        by_id[gid].source = text
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
