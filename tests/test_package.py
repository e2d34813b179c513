"""The Gradescope package: a grader that scores without torch, and the zip run as Gradescope
runs it (``setup.sh``, then ``run_autograder`` on reference, blank and hostile submissions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Run in a fresh interpreter: score a prediction file for each metric the way ``grade`` does,
#: then list every torch module that got imported on the way.
SCORING_WITHOUT_TORCH = r"""
import sys, tempfile
from pathlib import Path
import numpy as np
from autograder import pipeline, score
from autograder.config import Performance
from helpers.data.hidden import public_test_paths, read_hidden_labels

public_test_paths([])
work = Path(tempfile.mkdtemp())
(work / "single").mkdir(); (work / "multi").mkdir(); (work / "out").mkdir()
(work / "single" / "labels.csv").write_text("id,label\nh0,1\nh1,0\nh2,2\n")
(work / "out" / "p.csv").write_text("id,label\nh0,1\nh1,0\nh2,1\n")
(work / "multi" / "labels.csv").write_text("id,a,b\nh0,1,0\nh1,0,1\nh2,1,-1\n")
(work / "out" / "m.csv").write_text("id,a,b\nh0,0.9,0.1\nh1,0.2,0.8\nh2,0.4,0.3\n")
for labels, name, metric in (("single", "p.csv", "accuracy"),
                             ("multi", "m.csv", "mean_average_precision")):
    band = Performance(name=metric, predictions=name, metric=metric)
    outcome, value = score.score_performance(band, work / "out", work / labels, "visible")
    print(metric, round(value, 6), outcome.score)
torch = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
print("torch modules:", torch)
"""


def test_the_grader_scores_predictions_without_importing_torch():
    """Does the grader's scoring path (pipeline, score, hidden labels, both metrics) run
    without importing torch or torchvision? Importing a CUDA build of torch costs the grader
    about 400 MB of its 768 MB container."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCORING_WITHOUT_TORCH], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "accuracy 0.666667 6.6667"
    assert lines[1].startswith("mean_average_precision 1.0 10.0"), lines[1]
    assert lines[-1] == "torch modules: []"


def test_the_graders_numpy_metrics_equal_the_students_torch_metrics():
    """Do the grader's torch-free accuracy and mAP give exactly what helpers.metrics gives
    students, ties and ignored targets included?"""
    from helpers import metrics
    from helpers.metrics.ranking_numpy import (
        accuracy_of_indices,
        mean_average_precision_of_arrays,
    )

    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(300, 6)).astype(np.float64)  # many ties
    targets = rng.integers(-1, 2, size=(300, 6))
    assert mean_average_precision_of_arrays(scores, targets) == metrics.mean_average_precision(
        scores, targets
    )
    pred, labels = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    assert accuracy_of_indices(pred, labels) == pytest.approx(metrics.accuracy(pred, labels))
