"""The set-up (`./kit`, pyproject.toml, nbgrader_config.py) is quiet and does each step once.

The stamp tests run the real `./kit` script in a temporary copy of the repository whose
`.venv/bin/python` is a stand-in that logs its arguments, so nothing is installed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The stand-in interpreter: logs every call, and answers `-c` probes with success.
FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/../calls.log"
"""


def test_pyproject_applies_without_warnings():
    """Does setuptools read the kit's pyproject.toml without a deprecation warning (the ~55
    lines every `pip install -e .` printed for a `project.license` table)?"""
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        distribution = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert [str(w.message).splitlines()[0] for w in caught] == []
    assert distribution.metadata.license_expression == "MIT"
    assert (ROOT / "LICENSE").is_file()


@pytest.fixture
def kit_copy(tmp_path: Path) -> Path:
    """A copy of the kit's set-up files with a logging stand-in for `.venv/bin/python` and a
    Fashion-MNIST folder in place, so `./kit` only decides what to install."""
    for name in ["kit", "pyproject.toml", "requirements.txt", "requirements-dev.txt"]:
        shutil.copy2(ROOT / name, tmp_path / name)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    data = tmp_path / "data" / "fashion-mnist"
    data.mkdir(parents=True)
    (data / "train-images-idx3-ubyte.gz").write_bytes(b"")
    return tmp_path


def run_kit(root: Path, *args: str) -> tuple[str, list[str]]:
    """Run `root/kit ARGS`; return what it printed and the interpreter calls it made."""
    log = root / ".venv" / "calls.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "KIT_DATA_DIR": str(root / "data"), "KIT_NO_BROWSER": "1"}
    run = subprocess.run(
        ["bash", str(root / "kit"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    calls = log.read_text().splitlines() if log.exists() else []
    return run.stdout + run.stderr, calls


def pip_installs(calls: list[str]) -> list[str]:
    return [call for call in calls if call.startswith("-m pip install")]


def test_second_setup_installs_nothing_and_says_only_done(kit_copy):
    """After `./kit setup`, does a second run install nothing and print one line?"""
    _, first = run_kit(kit_copy, "setup")
    assert pip_installs(first), "the first set-up should install the requirements"
    output, second = run_kit(kit_copy, "setup")
    assert pip_installs(second) == []
    assert output.strip().splitlines() == ["[kit] set-up done"]


def test_demo_after_setup_installs_nothing(kit_copy):
    """Does `./kit demo` after `./kit setup` go straight to the demo (requirements-dev.txt
    includes requirements.txt, so the runtime stack is already there)?"""
    run_kit(kit_copy, "setup")
    output, calls = run_kit(kit_copy, "demo", "--epochs", "1")
    assert pip_installs(calls) == []
    assert calls == ["-m helpers.demo --epochs 1"]
    assert output.strip() == ""


def test_changed_requirements_reinstall(kit_copy):
    """Does editing a requirements file still trigger an install (the stamp is not sticky)?"""
    run_kit(kit_copy, "setup")
    with (kit_copy / "requirements.txt").open("a") as file:
        file.write("# a new pin\n")
    _, calls = run_kit(kit_copy, "demo")
    assert pip_installs(calls)


def test_readme_names_every_kit_command():
    """Is every command `./kit` accepts named in the README (and in `./kit help`)?"""
    script = (ROOT / "kit").read_text()
    commands = re.findall(r"^    ([a-z][a-z-]*)\)$", script, flags=re.MULTILINE)
    assert {"demo", "test", "setup"} <= set(commands)
    readme = (ROOT / "README.md").read_text()
    usage = subprocess.run(
        ["bash", str(ROOT / "kit"), "help"], capture_output=True, text=True, timeout=30
    ).stdout
    for command in commands:
        assert f"./kit {command}" in readme, f"README.md does not mention `./kit {command}`"
        assert f"./kit {command}" in usage, f"`./kit help` does not mention `./kit {command}`"


def test_nbgrader_root_is_absolute(caplog):
    """Does nbgrader read an absolute course root from nbgrader_config.py, so that no command
    prints "root '.' is not absolute" (three times per command before)?"""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    with caplog.at_level(logging.WARNING):
        coursedir = CourseDirectory(config=config)
    assert coursedir.root == str(ROOT)
    assert "not absolute" not in caplog.text
    assert coursedir.db_url == f"sqlite:///{ROOT / 'gradebook.db'}"


def test_nbgrader_finds_alembic_without_an_activated_venv():
    """Does nbgrader's gradebook find `alembic` when JupyterLab is started as
    `.venv/bin/jupyter lab`, with the venv's bin folder not on PATH?"""
    code = (
        "from traitlets.config.loader import PyFileConfigLoader;"
        f"PyFileConfigLoader('nbgrader_config.py', path={str(ROOT)!r}).load_config();"
        "from nbgrader.api import get_alembic_version; print(get_alembic_version())"
    )
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.fullmatch(r"[0-9a-f]{12}", run.stdout.strip())


FAKE_JUPYTER = """#!/usr/bin/env bash
echo "jupyter $* | cwd=$PWD | JUPYTER_CONFIG_PATH=${JUPYTER_CONFIG_PATH:-} | PATH=$PATH" \\
    >> "$(dirname "$0")/../calls.log"
"""


@pytest.mark.parametrize("command", ["lab", "student"])
def test_lab_commands_start_jupyter_lab_from_the_root(kit_copy, command):
    """Do `./kit lab` and `./kit student` start the venv's JupyterLab from the repository root
    with the venv's bin folder on PATH, and does only `./kit student` add the student
    configuration?"""
    fake = kit_copy / ".venv" / "bin" / "jupyter"
    fake.write_text(FAKE_JUPYTER)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    run_kit(kit_copy, "setup")
    elsewhere = kit_copy / "data"
    log = kit_copy / ".venv" / "calls.log"
    log.unlink()
    run = subprocess.run(
        ["bash", str(kit_copy / "kit"), command, "--port=9999"], cwd=elsewhere,
        env={**os.environ, "KIT_DATA_DIR": str(elsewhere)}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    (call,) = log.read_text().splitlines()
    assert call.startswith("jupyter lab ") and "--port=9999" in call
    assert f"cwd={kit_copy} " in call
    assert f"PATH={kit_copy / '.venv' / 'bin'}:" in call
    student = f"JUPYTER_CONFIG_PATH={kit_copy / 'jupyter_config' / 'student'}"
    assert (student in call) == (command == "student")
