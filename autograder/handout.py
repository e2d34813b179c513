"""``python -m autograder handout <a> --out DIR_OR_ZIP``: what students download.

The handout (a folder, or a ``.zip`` holding one folder named after the assignment)::

    README.md                 how to install, work, check and submit (written here)
    <notebook>.ipynb          each release notebook: the copy the student works in
    handout.md                the assignment's text           (assignments/<a>/, when present)
    report_template.md        the report to fill in           (assignments/<a>/, when present)
    requirements.txt          the kit's pinned runtime stack (torch, jupyterlab, nbgrader, ...)
    cv_course_kit_student-<version>-py3-none-any.whl
                              helpers + what ``check`` runs (:mod:`autograder.student_wheel`)
    kit/assignments/<a>/assignment.toml
                              what ``check`` needs: notebook names, files to submit, time and
                              memory limits, the public seed; no [hidden_data], no performance
                              bands, no grading_inputs
    kit/release/<a>/<notebook>.ipynb
                              untouched copies: ``check`` compares the student's protected cells
                              with them (``python -m autograder check <nb> --root kit``)

Nothing comes from ``source/``, ``assignments/<a>/reference/``, ``grading_inputs.py`` or the
bundle. Before writing, every text file is searched for the source's solution and hidden-test
lines (:func:`secret_lines`), and ``release/<a>/`` is compared with a fresh ``nbgrader
generate_assignment`` (``autograder.verify.release_differences``); either problem stops the
handout with what to run, so a release out of date with its source never reaches students.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.config import Assignment, load_assignment
from autograder.contract import MARKERS, NBGRADER_KEY
from autograder.verify import release_differences

__all__ = ["Handout", "HandoutError", "secret_lines", "write_handout"]

#: Files of ``assignments/<a>/`` that students get, when the assignment has them.
STUDENT_DOCUMENTS = ("handout.md", "report_template.md")
#: Where, inside the handout, ``check`` finds the assignment (its ``--root``).
CHECK_ROOT = "kit"
#: Shortest solution line that counts as a leak (shorter ones, like ``pass``, are everywhere).
MIN_SECRET_LENGTH = 8
_MARKERS = dict(MARKERS.values())  # begin -> end


class HandoutError(ValueError):
    """The handout cannot be written; the message says why and what to do."""


@dataclass(frozen=True)
class Handout:
    """A written handout: where it is, the files in it (relative paths, sorted), and what the
    instructor should know (a student document the assignment lacks)."""

    path: Path
    files: tuple[str, ...]
    notes: tuple[str, ...] = ()


def secret_lines(assignment: Assignment) -> set[str]:
    """Stripped lines of the source notebooks that students must not get: those between
    ``### BEGIN SOLUTION``/``### END SOLUTION`` and ``### BEGIN HIDDEN TESTS``/``### END HIDDEN
    TESTS`` (every line of a solution cell without markers), at least
    :data:`MIN_SECRET_LENGTH` characters long and not also in the source's visible part (as a
    line or inside one: a continuation line such as ``True, rng)`` may be part of a visible
    call). The visible part, not ``release/``, says what is public: a stale release that still
    holds a solution must not make that solution public."""
    secrets, public = set(), []
    for name in assignment.notebooks:
        for cell in nbformat.read(assignment.source_dir / name, as_version=4).cells:
            hidden, visible = _split(cell)
            secrets |= set(hidden)
            public += visible
    text = "\n".join(public)
    return {line for line in secrets if len(line) >= MIN_SECRET_LENGTH and line not in text}


def _split(cell) -> tuple[list[str], list[str]]:
    """The stripped lines of ``cell`` that nbgrader removes from the release, and the others."""
    lines = [line.strip() for line in cell.source.splitlines()]
    nbgrader = cell.get("metadata", {}).get(NBGRADER_KEY, {})
    if nbgrader.get("solution") and not any(line in _MARKERS for line in lines):
        return lines, []  # nbgrader replaces a solution cell without markers as a whole
    hidden, visible, end = [], [], None
    for line in lines:
        if end is None and line in _MARKERS:
            end = _MARKERS[line]
        elif line == end:
            end = None
        else:
            (visible if end is None else hidden).append(line)
    return hidden, visible


def _student_config(assignment: Assignment) -> str:
    """``assignment.toml`` less what students must not see or do not need.

    Kept: ``[assignment]`` title, notebooks and files, all of ``[limits]``, the public ``[grading]
    seed``. Dropped: ``grading_inputs``, ``[hidden_data]`` (its seeds) and ``[[performance]]``.
    Written by hand because the standard library reads TOML but does not write it; every value
    is a string, number, boolean or list of strings, and ``json.dumps`` spells those as TOML
    does.
    """
    data = tomllib.loads((assignment.config_dir / "assignment.toml").read_text(encoding="utf-8"))
    meta = {k: v for k, v in data["assignment"].items() if k in ("title", "notebooks", "files")}
    tables = {"assignment": meta, "limits": data.get("limits", {}),
              "grading": {"seed": assignment.seed}}  # fmt: skip
    lines = [f"# {assignment.name}: what `python -m autograder check` needs (student copy)."]
    for table, values in tables.items():
        lines.append(f"\n[{table}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _readme(assignment: Assignment, wheel: str | None) -> str:
    """The handout's README: install, work, check, submit."""
    notebook = assignment.notebooks[0]
    wheel_line = wheel or "cv_course_kit_student-*.whl   # the wheel your course gives you"
    install = f"   pip install {wheel_line}\n"
    files = ", ".join(f"`{f}`" for f in (*assignment.notebooks, *assignment.files))
    return f"""\
# {assignment.title}

`handout.md` says what to do; `report_template.md` is the report to fill in.

1. Install (Python 3.11 or newer; a virtual environment is best):

   ```bash
   python -m venv .venv && . .venv/bin/activate
   pip install -r requirements.txt
{install}   ```

2. Work in `{notebook}` with JupyterLab (`jupyter lab`): fill the `# YOUR CODE HERE` cells and
   run the tests beside them. Leave the folder `{CHECK_ROOT}/` as it is.
3. Before submitting, check your notebook the way the grader will run it (visible tests only):

   ```bash
   python -m autograder check {notebook} --root {CHECK_ROOT}
   ```

4. Submit {files}.
"""


def write_handout(assignment: Assignment, out: Path, *, wheel: bool = True) -> Handout:
    """Write the handout of ``assignment`` to ``out`` (a ``.zip`` file, else a folder that
    must not exist yet or be empty); ``wheel=False`` leaves the student wheel out (the README
    then says to install the one the course gives).

    Raises:
        HandoutError: ``out`` is a folder with files in it, a release notebook is missing, or a
            file would hold a solution or hidden-test line of the source.
    """
    from autograder.student_wheel import StudentWheelError, build_student_wheel

    out = Path(out)
    if out.suffix != ".zip" and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HandoutError(f"{out} exists and is not an empty folder: choose a new --out.")
    if not (assignment.root / "requirements.txt").is_file():
        raise HandoutError(
            f"{assignment.root / 'requirements.txt'} is missing: students install the kit's "
            "pinned packages from it. Run from the kit's root or pass --root."
        )
    missing = [n for n in assignment.notebooks if not (assignment.release_dir / n).is_file()]
    if missing:
        raise HandoutError(
            f"release/{assignment.name}/ lacks {', '.join(missing)}: run `nbgrader "
            f"generate_assignment {assignment.name}` from the kit's root first."
        )
    with tempfile.TemporaryDirectory(prefix="handout-") as tmp:
        folder = Path(tmp) / assignment.name
        kit_config = folder / CHECK_ROOT / "assignments" / assignment.name
        kit_release = folder / CHECK_ROOT / "release" / assignment.name
        for path in (kit_config, kit_release):
            path.mkdir(parents=True)
        for name in assignment.notebooks:
            shutil.copyfile(assignment.release_dir / name, folder / name)
            shutil.copyfile(assignment.release_dir / name, kit_release / name)
        notes = []
        for name in STUDENT_DOCUMENTS:
            if (assignment.config_dir / name).is_file():
                shutil.copyfile(assignment.config_dir / name, folder / name)
            else:
                notes.append(f"assignments/{assignment.name}/{name} does not exist: not included.")
        shutil.copyfile(assignment.root / "requirements.txt", folder / "requirements.txt")
        (kit_config / "assignment.toml").write_text(_student_config(assignment), "utf-8")
        load_assignment(assignment.name, folder / CHECK_ROOT)  # check must be able to read it
        wheel_name = None
        if wheel:
            try:
                wheel_name = build_student_wheel(folder, root=assignment.root).name
            except StudentWheelError as error:
                raise HandoutError(f"The student wheel could not be built: {error}") from error
        (folder / "README.md").write_text(_readme(assignment, wheel_name), encoding="utf-8")
        _refuse_leaks(folder, secret_lines(assignment))
        stale = release_differences(assignment)  # after the leak check: that one names a line
        if stale:
            raise HandoutError("; ".join(stale))
        files = tuple(sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()))
        if out.suffix == ".zip":
            _zip(folder, out)
        else:
            out.mkdir(parents=True, exist_ok=True)
            shutil.copytree(folder, out, dirs_exist_ok=True)
    return Handout(out, files, tuple(notes))


def _refuse_leaks(folder: Path, secrets: set[str]) -> None:
    """Raise if a text file of ``folder`` holds one of ``secrets`` (the wheel holds only code,
    checked by :func:`autograder.student_wheel.instructor_files`)."""
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix == ".whl":
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":  # JSON escapes quotes: search the cells' own text too
            cells = nbformat.reads(text, as_version=4).cells
            text += "\n".join(cell.source for cell in cells)
        found = sorted(line for line in secrets if line in text)
        if found:
            raise HandoutError(
                f"{path.relative_to(folder)} holds {len(found)} line(s) of the source's solutions "
                f"or hidden tests, e.g. {found[0]!r}. Is release/ out of date? Run `nbgrader "
                "generate_assignment` and `python -m autograder verify`, then try again."
            )


def _zip(folder: Path, out: Path) -> None:
    """Zip ``folder`` (as its own top folder) to ``out``, replacing it only when complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder.parent).as_posix())
    os.replace(partial, out)
