"""Every assignment passes `python -m autograder verify`: the source gets full marks, the blank
release gets zero, the release leaks nothing and is what nbgrader generates now."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.parent.name for p in (ROOT / "assignments").glob("*/assignment.toml"))


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_assignment_verifies(assignment, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "verify", assignment, "--device", "cpu"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
        env={**os.environ, "KIT_BUNDLE_DIR": str(tmp_path / "bundles")},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert "FAIL" not in run.stdout
