"""Attacks on private settings kept outside the kit (``KIT_PRIVATE_DIR``) and on the search
for ``grading_inputs.py`` outside the grader (``helpers.grading.find_assignment_dir``).

Each test is the fixture of one attack: a student's kernel reading a seed it should not see, or
another user of the machine planting code that ``grading_input()`` would run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder import workfolder
from autograder.config import load_assignment
from helpers.grading import grading_input

ROOT = Path(__file__).resolve().parents[1]


class _CapturedError(Exception):
    """Raised by the stand-in for execute_notebook, carrying the paths it was asked to hide."""

    def __init__(self, hide):
        super().__init__("captured")
        self.hide = hide


def _hidden_paths(tmp_path: Path, monkeypatch) -> set[str]:
    """The paths ``_run_in`` asks the sandbox to hide for a run of a1 (resolved as the
    sandbox resolves them)."""
    from autograder import execute

    def capture(*args, hide, **kwargs):
        raise _CapturedError(hide)

    monkeypatch.setattr(execute, "execute_notebook", capture)
    assignment = load_assignment("a1_mlp_numpy", ROOT)
    bundle, private, workdir = tmp_path / "bundle", tmp_path / "grader", tmp_path / "work"
    for folder in (bundle, private, workdir):
        folder.mkdir()
    with pytest.raises(_CapturedError) as captured:
        workfolder._run_in(
            assignment, bundle, "a1.ipynb", type("Assembled", (), {"notebook": None})(), None,
            device="cpu", isolate=False, private=private, workdir=workdir, grading_inputs=None,
        )  # fmt: skip
    return {os.path.realpath(p) for p in captured.value.hide}


def _private_dir(folder: Path, name: str = "a3_multilabel_voc") -> Path:
    (folder / name).mkdir(parents=True)
    path = folder / name / "private.toml"
    path.write_text("[hidden_data]\ngenerate_seed = 6198390687510869576\n")
    path.chmod(0o644)  # umask 022: what `echo ... > private.toml` makes
    return path


def test_a_private_dir_that_cannot_be_hidden_whole_still_hides_its_seeds(tmp_path, monkeypatch):
    """KIT_PRIVATE_DIR beside the kit's checkout, in a folder the kernel needs (here: on
    PYTHONPATH; likewise one holding the kit or the venv): the sandbox refuses to hide the
    folder whole. Is every private.toml in it hidden all the same? (It was left readable.)"""
    shared = tmp_path / "course"
    seeds = _private_dir(shared)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        os.environ.get("PYTHONPATH"), str(shared)])))  # fmt: skip
    monkeypatch.setenv("KIT_PRIVATE_DIR", str(shared))
    assert not workfolder._may_hide(shared)
    hidden = _hidden_paths(tmp_path, monkeypatch)
    assert str(seeds) in hidden
    assert str(shared) not in hidden  # the kernel still needs the folder


def test_a_private_toml_that_links_elsewhere_has_its_target_hidden(tmp_path, monkeypatch):
    """KIT_PRIVATE_DIR/<a>/private.toml a link to the course's secrets elsewhere: hiding the
    folder hides the link, not the file it names. Is the file hidden too?"""
    real = tmp_path / "vault" / "a3-seeds.toml"
    real.parent.mkdir()
    real.write_text("[hidden_data]\ngenerate_seed = 6198390687510869576\n")
    real.chmod(0o644)
    (tmp_path / "private" / "a3_multilabel_voc").mkdir(parents=True)
    (tmp_path / "private" / "a3_multilabel_voc" / "private.toml").symlink_to(real)
    monkeypatch.setenv("KIT_PRIVATE_DIR", str(tmp_path / "private"))
    hidden = _hidden_paths(tmp_path, monkeypatch)
    assert str(tmp_path / "private") in hidden
    assert str(real) in hidden


def test_a_hideable_private_dir_is_hidden_whole(tmp_path, monkeypatch):
    """The ordinary case stays as it was: the whole folder is hidden (other assignments' seeds
    and anything else kept there with them)."""
    _private_dir(tmp_path / "private")
    monkeypatch.setenv("KIT_PRIVATE_DIR", str(tmp_path / "private"))
    assert str(tmp_path / "private") in _hidden_paths(tmp_path, monkeypatch)


# ------------------------------------------------------ grading_input() outside the grader


@pytest.fixture
def outside_grader(monkeypatch):
    for name in ("KIT_GRADING", "KIT_RECORD_DIR", "KIT_GRADING_INPUTS", "KIT_ASSIGNMENT_DIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _kit(tmp_path: Path, marker: Path) -> Path:
    config = tmp_path / "assignments" / "demo"
    config.mkdir(parents=True)
    (config / "assignment.toml").write_text(
        '[assignment]\nnotebooks = ["demo.ipynb"]\ngrading_inputs = "grading_inputs.py"\n'
    )
    (config / "grading_inputs.py").write_text(
        f"open({str(marker)!r}, 'w').close()\ndef make_inputs(rng):\n    return {{'x': 1}}\n"
    )
    for path in (tmp_path / "assignments", config):
        path.chmod(0o755)
    for path in config.iterdir():
        path.chmod(0o644)
    (tmp_path / "source" / "demo").mkdir(parents=True)
    return tmp_path


@pytest.mark.parametrize("planted", ["grading_inputs.py", "assignment.toml"])
def test_grading_input_never_runs_a_file_every_user_may_write(tmp_path, outside_grader, planted):
    """The folders are yours, but the file is writable by everyone (a kit unpacked with umask 0,
    a `chmod -R a+w`): anyone may put code in grading_inputs.py, or point assignment.toml's
    grading_inputs at a file of theirs. Is the file passed over, with the reason?"""
    marker = tmp_path / "ran"
    kit = _kit(tmp_path / "kit", marker)
    (kit / "assignments" / "demo" / planted).chmod(0o666)
    outside_grader.chdir(kit / "source" / "demo")
    with pytest.raises(RuntimeError, match=r"every user of this machine may write"):
        grading_input("x")
    assert not marker.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="a file owned by another user needs root")
def test_grading_input_never_runs_a_linked_file_of_another_user(tmp_path, outside_grader):
    """grading_inputs.py in your folder is a link to a file another user owns (and so may
    rewrite at any time): is it passed over?"""
    marker = tmp_path / "ran"
    kit = _kit(tmp_path / "kit", marker)
    theirs = tmp_path / "theirs.py"
    theirs.write_text((kit / "assignments" / "demo" / "grading_inputs.py").read_text())
    os.chown(theirs, 12345, 12345)
    (kit / "assignments" / "demo" / "grading_inputs.py").unlink()
    (kit / "assignments" / "demo" / "grading_inputs.py").symlink_to(theirs)
    outside_grader.chdir(kit / "source" / "demo")
    with pytest.raises(RuntimeError, match=r"belongs to the user with id 12345"):
        grading_input("x")
    assert not marker.exists()


def test_grading_input_still_runs_your_own_files(tmp_path, outside_grader):
    """The honest case: your folders, your files (mode 644 / 755): the draw is made."""
    marker = tmp_path / "ran"
    kit = _kit(tmp_path / "kit", marker)
    outside_grader.chdir(kit / "source" / "demo")
    assert grading_input("x") == 1
    assert marker.exists()


# ------------------------------------------------------------------ a whole graded run


@pytest.mark.skipif(os.geteuid() != 0, reason="the kernel user exists only as root")
def test_a_graded_notebook_cannot_read_a_seed_beside_the_kit(tmp_path, monkeypatch):
    """End to end: KIT_PRIVATE_DIR on PYTHONPATH (so the sandbox binds it back into the
    kernel's /tmp), private.toml mode 644. The student's last cell raises with what it read:
    the file beside it comes through (the channel works), the seed must not."""
    import nbformat
    import toy_assignment as toy

    from autograder import pipeline

    root = toy.make_root(tmp_path / "kit")
    monkeypatch.setenv("KIT_BUNDLE_DIR", str(root / "bundles"))
    assignment = load_assignment(toy.NAME, root)
    pipeline.build(assignment, device="cpu")
    shared = tmp_path / "course"
    seeds = _private_dir(shared, toy.NAME)
    (shared / "notes.txt").write_text("CONTROL-VISIBLE")
    (shared / "notes.txt").chmod(0o644)
    for folder in (tmp_path, shared, seeds.parent):
        folder.chmod(0o755)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        os.environ.get("PYTHONPATH"), str(shared)])))  # fmt: skip
    monkeypatch.setenv("KIT_PRIVATE_DIR", str(shared))
    solved = {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"}
    path = toy.student(tmp_path / "toy.ipynb", **solved)
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "seen = []\n"
        f"for p in ({str(shared / 'notes.txt')!r}, {str(seeds)!r}):\n"
        "    try:\n        seen.append(open(p).read())\n"
        "    except OSError as e:\n        seen.append(type(e).__name__)\n"
        "raise RuntimeError(' | '.join(seen))\n"
    ))  # fmt: skip
    nbformat.write(nb, path)
    graded = pipeline.grade(assignment, path, device="cpu", feedback_dir=tmp_path / "feedback")
    text = "".join(page.read_text(errors="replace") for page in graded.feedback)
    assert "CONTROL-VISIBLE" in text
    assert "6198390687510869576" not in text
