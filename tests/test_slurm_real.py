"""The Slurm backend against a real one-node Slurm cluster that the test starts itself.

Skipped, with the reason, when not root or when ``slurm-wlm``/``munge`` are not installed.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
import slurm_cluster
import toy_assignment as toy

from autograder import pipeline
from autograder.config import load_assignment

SOLVED = {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"}

REASON = slurm_cluster.why_not_available()


@pytest.mark.slow
@pytest.mark.skipif(REASON is not None, reason=REASON or "")
def test_a_real_slurm_array_grades_every_submission(tmp_path):
    """Does `batch --backend slurm --wait` on a real cluster split at MaxArraySize (2), grade
    each submission in its own array task, and collect every result from JSON?"""
    root = toy.make_root(tmp_path / "kit")
    env = {**os.environ, "KIT_BUNDLE_DIR": str(root / "bundles"), "KIT_SLURM_POLL_S": "1"}
    os.environ["KIT_BUNDLE_DIR"] = env["KIT_BUNDLE_DIR"]
    try:
        pipeline.build(load_assignment(toy.NAME, root), device="cpu")
    finally:
        os.environ.pop("KIT_BUNDLE_DIR")
    subs = tmp_path / "subs"
    toy.student(subs / "alice" / "toy.ipynb", **SOLVED)
    toy.student(subs / "bob.ipynb", q1=SOLVED["q1"])
    (subs / "carol").mkdir()
    (subs / "carol" / "toy.ipynb").write_text("not json")
    out = tmp_path / "out"
    with slurm_cluster.one_node_cluster(max_array_size=2) as conf:
        run = subprocess.run(
            [sys.executable, "-m", "autograder", "batch", toy.NAME, str(subs), "--out", str(out),
             "--root", str(root), "--backend", "slurm", "--wait"],
            capture_output=True, text=True, env={**env, "SLURM_CONF": str(conf)}, timeout=300,
        )  # fmt: skip
    logs = "".join(p.read_text() for p in sorted((out / "slurm" / "logs").glob("*.out")))
    assert run.returncode == 0, run.stdout + run.stderr + logs
    assert "as job array(s)" in run.stdout and "3 submissions: 3 graded, 0 not graded" in run.stdout
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert [(r["submission"], r["total"]) for r in rows] == [
        ("alice", "5.0"), ("bob", "2.0"), ("carol", "0.0"),
    ]  # fmt: skip
    assert len(list((out / "slurm" / "logs").glob("*.out"))) == 3  # one log per array task
    jobs = json.loads((out / "slurm" / "jobs.json").read_text())["arrays"]
    assert [(a["offset"], a["count"]) for a in jobs] == [(0, 2), (2, 1)]
