""".gitignore: reference weights are committed, every other checkpoint stays out of git."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(),
    reason="needs git and a checkout of the kit (not an installed copy)",
)


def ignored(path: str) -> bool:
    """Whether .gitignore's patterns hide ``path`` (tracked or not: ``--no-index``)."""
    run = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode in (0, 1), run.stderr  # 128: git could not answer
    return run.returncode == 0


@pytest.mark.parametrize(
    "path",
    [
        "assignments/a2_cnn_fashion/reference/improved_net.pt",
        "assignments/a3_new_assignment/reference/weights.pth",
        "helpers/models/weights/resnet18_kit_shapes_v1.pt",
    ],
)
def test_reference_weights_are_not_hidden(path):
    """Can an assignment's reference weights be added with a plain `git add` (no -f)?"""
    assert not ignored(path)


@pytest.mark.parametrize(
    "path",
    [
        "model.pt",
        "best.pth",
        "assignments/a2_cnn_fashion/checkpoint.pt",
        "assignments/a2_cnn_fashion/reference/old/epoch3.pt",
        "release/a2_cnn_fashion/improved_net.pt",
        "source/a2_cnn_fashion/reference/improved_net.pt",
        "runs/lr-0.01/best.pt",
    ],
)
def test_other_checkpoints_stay_ignored(path):
    """Does every other .pt/.pth (a student's or a run's checkpoint) stay out of git?"""
    assert ignored(path)


@pytest.mark.parametrize(
    "path",
    ["assignments/a2_cnn_fashion/private.toml", "assignments/a3_new_assignment/private.toml"],
)
def test_private_seeds_stay_out_of_git(path):
    """Would `git add` pick up an assignment's private.toml (its hidden sets' seeds)?"""
    assert ignored(path)


def test_only_the_assignments_private_toml_is_hidden():
    """Is assignment.toml, next to private.toml, still committed?"""
    assert not ignored("assignments/a2_cnn_fashion/assignment.toml")
