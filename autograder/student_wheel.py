"""The student wheel: ``helpers`` and the code ``python -m autograder check`` runs, nothing else.

    python -m autograder.student_wheel --out dist/

:func:`build_student_wheel` copies the ``.py`` files of ``helpers/`` and ``autograder/``, the
kit's own pretrained backbone (``helpers/models/weights/resnet18_kit_*.pt``), ``LICENSE`` and
``student/pyproject.toml`` (the build configuration) into an empty temporary folder and runs
``pip wheel --no-deps --no-build-isolation`` there. Staging by hand, rather than building from
the repository root, is what keeps instructor files out: a build from the root could pick up
anything its ``MANIFEST``/package data named, a staged folder holds only code (and the one
weight file every student needs offline). ``--no-build-isolation`` because students' and
graders' machines are often offline: the build uses the setuptools already installed
(``student/pyproject.toml`` says which version).

:func:`instructor_files` lists the members of a wheel that are not code of the two packages
(for the tests and for ``handout``, which refuses such a wheel).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

__all__ = ["PACKAGES", "StudentWheelError", "build_student_wheel", "instructor_files"]

ROOT = Path(__file__).resolve().parents[1]
#: The packages the wheel holds (their ``.py`` files only).
PACKAGES = ("helpers", "autograder")
DIST_NAME = "cv_course_kit_student"
#: The one folder of non-code files the wheel carries: the kit's pretrained backbone
#: (helpers.models.kit_backbone), which students need offline and which holds no secret.
SHIPPED_WEIGHTS = "helpers/models/weights"
#: Modules of helpers that stay out of the wheel: instructor tools students never run, whose
#: training loop holds lines that are an assignment's answer (a2's training step).
INSTRUCTOR_MODULES = frozenset({"helpers/models/pretrain_kit_backbone.py"})
STUDENT_README = """\
# cv-course-kit-student

The student side of the CV course kit: the `helpers` package the notebooks import (including
`helpers.grading`), and `python -m autograder check <notebook>`, which runs your notebook's
visible tests the way the grader will (it reads the `kit/` folder the handout puts beside it).
Install it next to a handout's `requirements.txt`; the handout's README says how.
"""


class StudentWheelError(RuntimeError):
    """The wheel could not be built; the message says what pip said and what to do."""


def _stage(root: Path, stage: Path) -> None:
    """Copy what the wheel may hold into the empty folder ``stage``."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if "__pycache__" in relative.parts or relative.as_posix() in INSTRUCTOR_MODULES:
                continue
            (stage / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, stage / relative)
    for path in sorted((root / SHIPPED_WEIGHTS).glob("resnet18_kit_*.pt")):
        (stage / SHIPPED_WEIGHTS).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, stage / SHIPPED_WEIGHTS / path.name)
    shutil.copyfile(root / "student" / "pyproject.toml", stage / "pyproject.toml")
    shutil.copyfile(root / "LICENSE", stage / "LICENSE")
    (stage / "README.md").write_text(STUDENT_README, encoding="utf-8")


def build_student_wheel(out_dir: Path, *, root: Path | None = None) -> Path:
    """Build the student wheel into ``out_dir`` and return its path.

    Raises:
        StudentWheelError: pip failed (its last lines are in the message), or the wheel holds
            a file that is not code of :data:`PACKAGES`.
    """
    root = Path(root) if root is not None else ROOT
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="student-wheel-") as tmp:
        stage, wheels = Path(tmp) / "stage", Path(tmp) / "wheels"
        stage.mkdir()
        _stage(root, stage)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                   "--no-index", "--quiet", "--wheel-dir", str(wheels), str(stage)]  # fmt: skip
        run = subprocess.run(command, capture_output=True, text=True, cwd=tmp)
        built = sorted(wheels.glob(f"{DIST_NAME}-*.whl")) if wheels.is_dir() else []
        if run.returncode != 0 or len(built) != 1:
            raise StudentWheelError(
                f"pip wheel failed (exit {run.returncode}):\n{(run.stdout + run.stderr)[-2000:]}"
                "\nIt needs setuptools>=77 in this Python (pip install 'setuptools>=77')."
            )
        stray = instructor_files(built[0])
        if stray:
            raise StudentWheelError(
                f"The student wheel would hold files that are not code: {', '.join(stray)}."
            )
        target = out_dir / built[0].name
        shutil.copyfile(built[0], target)
    return target


def instructor_files(wheel: Path) -> list[str]:
    """Members of ``wheel`` other than ``.py`` files of :data:`PACKAGES`, the kit's backbone
    weights (:data:`SHIPPED_WEIGHTS`) and its own metadata (an empty list for a good wheel)."""
    allowed = re.compile(rf"^(({'|'.join(PACKAGES)})/([\w.-]+/)*[\w.-]+\.py|{DIST_NAME}-[^/]+"
                         rf"\.dist-info/[\w.-]+(/[\w.-]+)*"
                         rf"|{SHIPPED_WEIGHTS}/resnet18_kit_[\w-]+\.pt)$")  # fmt: skip
    with zipfile.ZipFile(wheel) as archive:
        return [name for name in archive.namelist() if not allowed.match(name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("dist"), help="folder for the wheel")
    args = parser.parse_args(argv)
    try:
        print(f"Wrote {build_student_wheel(args.out)}")
    except StudentWheelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
