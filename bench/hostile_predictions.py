"""The grader's peak memory and time for a normal prediction file against a 250 MB one.

    .venv/bin/python bench/hostile_predictions.py

Builds the toy assignment with a hidden Fashion-MNIST subset (50 images) and a performance band,
then grades two submissions, each in a fresh process: one whose last cell writes the prediction
file as ``save_predictions`` does, and one whose last cell writes a 250 MB CSV (the same rows
repeated, as a student's bug would). Reports the grading's wall time and the grader process's
peak resident memory (``ru_maxrss`` of the grading process only: the kernel is another process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import toy_assignment as toy

from autograder import pipeline
from autograder.config import load_assignment

PERFORMANCE = """
[hidden_data]
dataset = "fashion-mnist"
seed = 5
limit = 50

[[performance]]
name = "accuracy"
predictions = "p.csv"
metric = "accuracy"
zero_at = 0.0
full_at = 1.0
max_score = 1.0
"""
PREDICT = (
    "import os\nfrom helpers.data.hidden import read_hidden_inputs\n"
    "from helpers.predictions import save_predictions\n"
    "ids, _ = read_hidden_inputs(DATA_DIR)\n"
    "path = os.path.join(OUTPUT_DIR, 'p.csv')\n"
    "save_predictions(path, ids, [0] * len(ids))\n"
)
BLOW_UP = (
    "rows = open(path).read().split('\\n', 1)[1]\n"
    "with open(path, 'a') as f:\n"
    "    while f.tell() < 250 * 2**20:\n"
    "        f.write(rows * 1000)\n"
)
#: Run in a fresh process per case, so that ru_maxrss is that grading's alone.
GRADE_ONCE = """
import json, resource, sys, time
from pathlib import Path
from autograder import pipeline
from autograder.config import load_assignment
assignment = load_assignment("toy", Path(sys.argv[1]))
started = time.monotonic()
results = pipeline.grade(assignment, Path(sys.argv[2]), device="cpu").results
print(json.dumps({"s": time.monotonic() - started,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "output": results["tests"][-1]["output"][:110]}))
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = toy.make_root(Path(tmp) / "kit")
        config = root / "assignments" / toy.NAME / "assignment.toml"
        config.write_text(config.read_text() + PERFORMANCE)
        os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
        pipeline.build(load_assignment(toy.NAME, root), device="cpu")
        for label, cell in (("normal file", PREDICT), ("250 MB file", PREDICT + BLOW_UP)):
            path = toy.student(Path(tmp) / label.replace(" ", "-") / "toy.ipynb")
            import nbformat

            nb = nbformat.read(path, as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell(cell))
            nbformat.write(nb, path)
            run = subprocess.run(
                [sys.executable, "-c", GRADE_ONCE, str(root), str(path)],
                capture_output=True, text=True, check=True, env=os.environ,
            )  # fmt: skip
            found = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"{label}: graded in {found['s']:.1f} s, grader peak RSS "
                  f"{found['peak_mb']:.0f} MB; {found['output']}")  # fmt: skip


if __name__ == "__main__":
    main()
