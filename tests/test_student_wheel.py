"""The student side: ``helpers`` stands alone, and the student wheel works on a machine that has
only the handout and the wheel."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.student_wheel import build_student_wheel, instructor_files

ROOT = Path(__file__).resolve().parents[1]


def autograder_imports(path: Path) -> list[int]:
    """The line of every import of ``autograder`` in ``path`` (top level or in a function).

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "m.py"
    >>> _ = f.write_text("import os\\ndef g():\\n    from autograder.config import x\\n")
    >>> autograder_imports(f)
    [3]
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name == "autograder" or name.startswith("autograder.") for name in names):
            found.append(node.lineno)
    return found


def test_helpers_never_imports_autograder():
    """Does any module of helpers import autograder (the student wheel would break)?"""
    found = [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / "helpers").rglob("*.py"))
             for line in autograder_imports(path)]  # fmt: skip
    assert found == [], f"helpers imports autograder at {found}; move that code to autograder/."


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_student_wheel(tmp_path_factory.mktemp("wheel"), root=ROOT)


def test_the_wheel_holds_only_code_of_helpers_and_autograder(wheel):
    """Does the student wheel hold any instructor file (source/, assignments/, weights, a
    bundle, grading_inputs.py), or anything but the two packages' Python files?"""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert instructor_files(wheel) == []
    assert {"helpers/grading.py", "helpers/data/hidden.py", "autograder/check.py",
            "autograder/record.py"} <= set(names)  # fmt: skip
    tracked = subprocess.run(["git", "ls-files", "source", "release", "assignments"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert tracked and not [n for n in names if n in tracked or Path(n).name in
                            {Path(t).name for t in tracked}]  # fmt: skip


def test_instructor_files_finds_what_does_not_belong(tmp_path):
    """Would instructor_files notice a source notebook or weights slipped into a wheel?"""
    wheel = tmp_path / "cv_course_kit_student-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in ("helpers/__init__.py", "source/a1/a1.ipynb", "helpers/ref.pt",
                     "assignments/a1/grading_inputs.py"):  # fmt: skip
            archive.writestr(name, "")
    assert instructor_files(wheel) == [
        "source/a1/a1.ipynb", "helpers/ref.pt", "assignments/a1/grading_inputs.py"]  # fmt: skip


# Lines that are solutions in a notebook and ordinary code in helpers (idioms, not answers).
IDIOMS = {"model.eval()", "with torch.no_grad():", "nn.ReLU(inplace=True),",
          "return nn.Sequential(", "self.epoch += 1", "n, h, w = images.shape"}  # fmt: skip


@pytest.mark.parametrize("name", ["a1_mlp_numpy", "a2_cnn_fashion"])
def test_the_wheel_holds_no_solution_line(wheel, name):
    """Does the code students install hold an assignment's solution or hidden-test lines?"""
    from test_handout import source_secrets

    with zipfile.ZipFile(wheel) as archive:
        code = "\n".join(archive.read(n).decode() for n in archive.namelist() if n.endswith(".py"))
    assert sorted(line for line in source_secrets(name) - IDIOMS if line in code) == []


#: The kit's own versions of exercises, under other names: a student who imports one passes the
#: exercise without writing it, so none may be importable from the wheel.
EXERCISE_EQUIVALENTS = {
    "scramble": "a2 scramble_images",
    "to_three_classes": "a2 to_three_class_labels",
    "THREE_CLASS_OF": "a2 to_three_class_labels (its lookup table is the answer)",
    "per_class_accuracy": "a2 class_accuracies",
}


def solution_names(name: str) -> set[str]:
    """The functions and classes the answer cells of ``source/<name>`` ask students to write."""
    import nbformat

    notebook = nbformat.read(ROOT / "source" / name / f"{name}.ipynb", as_version=4)
    return {node.name for cell in notebook.cells if cell.cell_type == "code"
            and cell.metadata.get("nbgrader", {}).get("solution")
            for node in ast.parse(cell.source).body
            if isinstance(node, ast.FunctionDef | ast.ClassDef)}  # fmt: skip


def importable_names(source: str) -> set[str]:
    """Names a module binds at its top level (functions, classes, assignments) or exports by
    string (``__all__``, the tables of :func:`helpers._lazy.lazy_exports`): what ``from m import
    x`` finds (a lazy table's keys are submodules: importable too).

    >>> code = "A = 1\\ndef f(): pass\\n__all__ = ['g']\\nlazy_exports(__name__, {'m': ['h']})"
    >>> sorted(importable_names(code))
    ['A', '__all__', 'f', 'g', 'h', 'm']
    """
    tree = ast.parse(source)
    names, exported = set(), []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if "__all__" in names and any(isinstance(t, ast.Name) and t.id == "__all__"
                                          for t in targets):  # fmt: skip
                exported.append(node.value)
    exported += [call for call in ast.walk(tree) if isinstance(call, ast.Call)
                 and getattr(call.func, "id", None) == "lazy_exports"]  # fmt: skip
    for table in exported:
        strings = [n for n in ast.walk(table) if isinstance(n, ast.Constant)]
        names |= {n.value for n in strings if isinstance(n.value, str) and n.value.isidentifier()}
    names.discard("__name__")
    return names


def test_no_exercise_can_be_imported_from_the_wheel(wheel):
    """Can a student import, from the kit they install, a function an a1 or a2 exercise asks them
    to write (under its own name, or the kit's version under another name)?"""
    with zipfile.ZipFile(wheel) as archive:
        modules = {n: importable_names(archive.read(n).decode()) for n in archive.namelist()
                   if n.endswith(".py")}  # fmt: skip
    asked = {n: f"{a} {n}" for a in ("a1_mlp_numpy", "a2_cnn_fashion") for n in solution_names(a)}
    assert {"scramble_images", "to_three_class_labels", "class_accuracies",
            "affine_forward", "train_mlp"} <= set(asked)  # fmt: skip
    found = sorted(f"{module} binds {name!r}: the exercise {what}"
                   for name, what in {**asked, **EXERCISE_EQUIVALENTS}.items()
                   for module, names in modules.items() if name in names)  # fmt: skip
    assert found == []


@pytest.mark.slow
def test_check_runs_from_the_wheel_and_the_handout_alone(tmp_path):
    """On a machine with only the handout and the wheel, does `python -m autograder check
    NOTEBOOK` (no other argument) find the assignment, run the blank notebook and say which
    tests are not written yet?

    Packages cannot be downloaded here, so the new venv sees the kit's site-packages (torch,
    papermill, ...) through a path file, which adds that folder but runs none of its own path
    files: the kit's editable install of helpers/autograder stays off. The repository is on no
    path: helpers and autograder must come from the wheel."""
    import sysconfig

    from autograder.config import load_assignment
    from autograder.handout import write_handout

    write_handout(load_assignment("a1_mlp_numpy", ROOT), tmp_path / "a1.zip")
    with zipfile.ZipFile(tmp_path / "a1.zip") as archive:
        archive.extractall(tmp_path / "student")
    handout = tmp_path / "student" / "a1_mlp_numpy"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    (wheel,) = handout.glob("*.whl")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True)  # fmt: skip
    show_purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = subprocess.run([python, "-c", show_purelib],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (Path(purelib) / "kit-runtime.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}

    where = subprocess.run(
        [python, "-c", "import helpers, autograder; print(helpers.__file__, autograder.__file__)"],
        cwd=handout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where

    run = subprocess.run(
        [python, "-m", "autograder", "check", "a1_mlp_numpy.ipynb"],  # no --root: kit/ is beside
        cwd=handout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert (
        "FAILED   test_affine: raised NotImplementedError: the code it tests is not written" in out
    )
    assert "mlp_weights.npz is missing" in out and "Traceback" not in out
