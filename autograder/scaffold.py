"""``python -m autograder new <a>``: a working assignment to start from.

It writes, and refuses to overwrite:

- ``source/<a>/<a>.ipynb``: the parameters cell, set-up, one answer cell, one test cell whose
  hidden part records the answer's output on grading inputs, one written-answer cell;
- ``assignments/<a>/assignment.toml``, ``grading_inputs.py``, ``handout.md``,
  ``report_template.md``;
- ``release/<a>/<a>.ipynb``, by ``nbgrader generate_assignment``,

so that ``lint`` and ``verify`` pass as generated. The instructor then edits the notebook in
JupyterLab (docs/authoring.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

__all__ = ["NAME_PATTERN", "ScaffoldError", "new_assignment"]

#: A folder name, a Python identifier and an nbgrader assignment name at once.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ScaffoldError(ValueError):
    """The name is not usable or the assignment already exists; the message says what to do."""


def _meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    """nbgrader metadata as its toolbar writes it (schema 3)."""
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


PARAMETERS = """\
# Parameters: the autograder replaces these values (papermill) when it grades.
GRADING = False       # True while the autograder runs the notebook: skip long work
DEVICE = "auto"       # "cpu" or "cuda" under the autograder
DATA_DIR = None       # the hidden test images (images only) under the autograder
OUTPUT_DIR = "outputs"  # where prediction files go
SEED = 0"""

SETUP = """\
import numpy as np

from helpers.grading import grading_input, record

rng = np.random.default_rng(SEED)"""

ANSWER = '''\
def scaled_softmax(scores, temperature):
    """Softmax of each row of ``scores`` divided by ``temperature``.

    Args:
        scores: float array (N, K).
        temperature: a positive float.
    Returns:
        probs: float array (N, K), each row sums to 1. Subtract each row's maximum first, so
            that large scores do not overflow. About 3 lines, no loop.
    """
    probs = None
    ### BEGIN SOLUTION
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    ### END SOLUTION
    return probs'''

TEST = """\
# Tests: scaled_softmax (2 points)
probs = scaled_softmax(np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 0.0]]), 1.0)
assert probs is not None and probs.shape == (2, 3), "probs must be (N, K) = (2, 3)"
assert np.allclose(probs.sum(axis=1), 1.0), "each row must sum to 1"
assert np.isfinite(probs).all(), "large scores overflowed: subtract each row's maximum first"
print("scaled_softmax looks right.")

### BEGIN HIDDEN TESTS
record("scaled_softmax.probs", scaled_softmax(grading_input("scores"),
                                              float(grading_input("temperature"))), rtol=1e-6)
### END HIDDEN TESTS"""

GRADING_INPUTS = '''\
"""The hidden tests' inputs: ``make_inputs(rng)`` returns every array a hidden test cell reads
with ``grading_input(name)``. ``build`` calls it with several secret seeds and refuses a record
that is the same in every draw, so draw sizes and values from wide ranges."""

from __future__ import annotations

import numpy as np


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every hidden-test input, drawn from ``rng`` (same seed, same arrays)."""
    rows, classes = int(rng.integers(2, 9)), int(rng.integers(3, 11))
    return {
        "scores": rng.normal(scale=5.0, size=(rows, classes)),
        "temperature": np.array(rng.uniform(0.5, 3.0)),
    }
'''

TOML = """\
# {name}. Schema and every key: autograder/config.py.

[assignment]
title = "{title}"
notebooks = ["{name}.ipynb"]
grading_inputs = "grading_inputs.py"

[limits]
cell_timeout_s = 60
total_timeout_s = 300
memory_mb = 2048

[grading]
seed = 0                 # the public seed: SEED, and grading_input() outside the grader
"""

HANDOUT = """\
# {title}

Open `{name}.ipynb` in JupyterLab, fill the `# YOUR CODE HERE` cells and answer the questions.
Run the tests beside each exercise; the autograder runs more tests on inputs of its own.

## Grading

| part | points |
|---|---|
| autograded tests (1 test cell) | 2 |
| written answers (question 1) | 1 |

## What you submit

- `{name}.ipynb`, run top to bottom, with its outputs.
"""

REPORT = """\
# {title}: report

The figures and tables the notebook made. Question 1 is answered in the notebook only.
"""
Q1_CRITERION = "says the probabilities flatten towards uniform, because the scores shrink"


def notebook(name: str, title: str) -> nbformat.NotebookNode:
    """The starting source notebook (cell ids equal grade ids, so they stay stable)."""
    cells = [
        new_markdown_cell(
            f"# {title}\n\nWhat this assignment teaches, in two sentences.", id="intro"
        ),
        new_code_cell(
            PARAMETERS,
            id="parameters",
            metadata={"tags": ["parameters"], **_meta("parameters", locked=True)},
        ),
        new_code_cell(SETUP, id="setup", metadata=_meta("setup", locked=True)),
        new_markdown_cell(
            "## Part 1: a stable softmax\n\nWrite `scaled_softmax` below.", id="part1"
        ),
        new_code_cell(ANSWER, id="scaled_softmax", metadata=_meta("scaled_softmax", solution=True)),
        new_code_cell(
            TEST,
            id="test_scaled_softmax",
            metadata=_meta("test_scaled_softmax", grade=True, locked=True, points=2),
        ),
        new_markdown_cell(
            "**Question 1.** What does a temperature above 1 do to the probabilities, and why?"
            f"\n\n*Rubric (1 point, graded by hand):*\n\n- {Q1_CRITERION} (1 point)",
            id="q1_text",
        ),
        new_markdown_cell(
            "### BEGIN SOLUTION\nIt flattens them towards uniform: dividing the "
            "scores shrinks their differences.\n### END SOLUTION",
            id="q1",
            metadata={
                **_meta("q1", grade=True, solution=True, points=1),
                "kit": {"rubric": [{"criterion": Q1_CRITERION, "points": 1}]},  # autograder.rubric
            },
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata.update(
        {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        }
    )
    return nb


def new_assignment(name: str, root: Path, *, title: str | None = None) -> list[Path]:
    """Write assignment ``name`` under the kit's ``root`` and its release; returns the files.

    Raises:
        ScaffoldError: ``name`` is not a lower-case identifier, or one of its folders exists.
    """
    if not NAME_PATTERN.match(name):
        raise ScaffoldError(
            f"Assignment name {name!r} is not usable: use lower-case letters, digits and '_', "
            "starting with a letter (e.g. a3_detection)."
        )
    folders = [root / "assignments" / name, root / "source" / name, root / "release" / name]
    existing = [str(f) for f in folders if f.exists()]
    if existing:
        raise ScaffoldError(
            f"{', '.join(existing)} already exist(s): `new` never overwrites. Pick another name "
            "or remove the folders."
        )
    title = title or name.replace("_", " ").capitalize()
    config = root / "assignments" / name
    config.mkdir(parents=True)
    texts = {
        config / "assignment.toml": TOML.format(name=name, title=title.replace('"', "'")),
        config / "grading_inputs.py": GRADING_INPUTS,
        config / "handout.md": HANDOUT.format(name=name, title=title),
        config / "report_template.md": REPORT.format(title=title),
    }
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
    source = root / "source" / name / f"{name}.ipynb"
    source.parent.mkdir(parents=True)
    nbformat.write(notebook(name, title), source)

    from autograder.verify import generate_release

    problem = generate_release(root, name, root / "release")
    if problem:
        raise ScaffoldError(f"Wrote {config} and {source.parent}, but {problem}")
    return [*texts, source, root / "release" / name / f"{name}.ipynb"]
