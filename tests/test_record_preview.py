"""Outside the grader (an instructor's Run All in JupyterLab), `grading_input` computes the hidden
tests' inputs from `grading_inputs.py` with the public `[grading] seed`, and `record` shows what
it would record. Under the grader nothing of this applies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import grading as record_module
from helpers.grading import grading_input, record

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def outside_grader(monkeypatch):
    for name in ("KIT_GRADING", "KIT_RECORD_DIR", "KIT_GRADING_INPUTS", "KIT_ASSIGNMENT_DIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _kit(tmp_path: Path, seed: int = 5) -> Path:
    """A minimal kit: assignments/demo/ with a seed and grading_inputs.py, source/demo/."""
    config = tmp_path / "assignments" / "demo"
    config.mkdir(parents=True)
    (config / "assignment.toml").write_text(
        '[assignment]\nnotebooks = ["demo.ipynb"]\ngrading_inputs = "grading_inputs.py"\n'
        f"[grading]\nseed = {seed}\n"
    )
    (config / "grading_inputs.py").write_text(
        "def make_inputs(rng):\n    return {'x': rng.normal(size=(3, 2)), 'n': rng.integers(5)}\n"
    )
    (tmp_path / "source" / "demo").mkdir(parents=True)
    return tmp_path


def test_grading_input_in_the_source_folder_uses_the_public_seed(tmp_path, outside_grader):
    """Run from source/<a>/ (JupyterLab's cwd), does grading_input give make_inputs(rng(seed))?"""
    kit = _kit(tmp_path, seed=5)
    outside_grader.chdir(kit / "source" / "demo")
    expected = np.random.default_rng(5).normal(size=(3, 2))
    np.testing.assert_array_equal(grading_input("x"), expected)
    assert grading_input("x") is not grading_input("x")  # a copy: a test may change it


def test_grading_input_sees_an_edit_of_grading_inputs_py(tmp_path, outside_grader):
    """Does an edited grading_inputs.py take effect without restarting the kernel?"""
    kit = _kit(tmp_path)
    outside_grader.chdir(kit / "source" / "demo")
    assert grading_input("n").shape == ()
    path = kit / "assignments" / "demo" / "grading_inputs.py"
    path.write_text("def make_inputs(rng):\n    return {'n': rng.integers(5, size=4)}\n")
    assert grading_input("n").shape == (4,)


def test_grading_input_names_what_exists(tmp_path, outside_grader):
    """Does an unknown name list the names grading_inputs.py makes?"""
    outside_grader.chdir(_kit(tmp_path) / "source" / "demo")
    with pytest.raises(KeyError, match=r"'y'.*grading_inputs\.py.*Available: n, x"):
        grading_input("y")


def test_grading_input_outside_any_kit_says_where_it_looked(tmp_path, outside_grader):
    """Away from a kit, does the error say what to do (run from source/<a>/ or set the env)?"""
    outside_grader.chdir(tmp_path)
    with pytest.raises(RuntimeError, match="KIT_ASSIGNMENT_DIR"):
        grading_input("x")


@pytest.mark.parametrize("planted", ["assignments", "assignments/demo"])
def test_grading_input_never_runs_inputs_code_another_user_could_have_planted(
    tmp_path, outside_grader, planted
):
    """A notebook opened under a world-writable folder (a /tmp/source/demo/ next to a
    /tmp/assignments/demo/ anyone could write) must not run that grading_inputs.py: is the
    folder passed over, with the reason in the error?"""
    kit = _kit(tmp_path)
    marker = tmp_path / "ran"
    (kit / "assignments" / "demo" / "grading_inputs.py").write_text(
        f"open({str(marker)!r}, 'w').close()\ndef make_inputs(rng):\n    return {{'x': 1}}\n"
    )
    (kit / planted).chmod(0o777)
    outside_grader.chdir(kit / "source" / "demo")
    with pytest.raises(RuntimeError, match=r"passed over: every user of this machine may write"):
        grading_input("x")
    assert not marker.exists()


def test_grading_input_never_draws_public_inputs_while_grading(tmp_path, outside_grader):
    """Under the grader without an inputs folder (`check`), is there no silent public draw?"""
    outside_grader.chdir(_kit(tmp_path) / "source" / "demo")
    outside_grader.setenv("KIT_GRADING", "1")
    with pytest.raises(RuntimeError, match="only works while the autograder"):
        grading_input("x")


def test_kit_assignment_dir_points_at_the_assignment(tmp_path, outside_grader):
    """From anywhere, does KIT_ASSIGNMENT_DIR=assignments/<a> select the inputs?"""
    kit = _kit(tmp_path, seed=9)
    outside_grader.setenv("KIT_ASSIGNMENT_DIR", str(kit / "assignments" / "demo"))
    outside_grader.chdir(tmp_path)
    np.testing.assert_array_equal(grading_input("x"), np.random.default_rng(9).normal(size=(3, 2)))


def test_record_shows_what_it_would_record(tmp_path, outside_grader, capsys):
    """Does record() print name, dtype, shape and tolerance instead of writing anything?"""
    outside_grader.chdir(tmp_path)
    record("layer.out", np.zeros((6, 5)), rtol=1e-6)
    out = capsys.readouterr().out
    assert "layer.out" in out and "float64 (6, 5)" in out and "rtol=1e-06" in out
    assert list(tmp_path.iterdir()) == []


def test_record_warns_about_a_single_boolean(tmp_path, outside_grader, capsys):
    """Does a single boolean get the warning that build will refuse it, with the fix?"""
    outside_grader.chdir(tmp_path)
    record("ok", True)
    assert "build will refuse" in capsys.readouterr().out


def test_record_warns_about_a_copy_of_a_grading_input(tmp_path, outside_grader, capsys):
    """Does recording a grading input back get the warning that build will refuse it?"""
    outside_grader.chdir(_kit(tmp_path) / "source" / "demo")
    record("echo", grading_input("x"))
    out = capsys.readouterr().out
    assert "build will refuse" in out and "'x'" in out


def test_record_under_the_grader_prints_nothing(tmp_path, outside_grader, capsys):
    """With KIT_RECORD_DIR set, is the record saved and nothing printed?"""
    outside_grader.setenv("KIT_RECORD_DIR", str(tmp_path))
    record("r", np.arange(3))
    assert capsys.readouterr().out == "" and (tmp_path / "r.npy").is_file()
    assert record_module.RECORD_DIR_ENV == "KIT_RECORD_DIR"
