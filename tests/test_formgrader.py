"""Formgrader works from the README's command, and its manual-grading view shows written answers
with their points. Each test starts a real `jupyter lab` on a free localhost port (see
tests/lab_server.py) in a temporary copy of a course, queries formgrader over HTTP, and stops
it. Nothing is written into the repository: the gradebook lands in the copy's root."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import nbformat
import pytest
from lab_server import VENV_BIN, jupyter_lab
from nbgrader_toy import WRITTEN_ANSWER, solve, toy_source

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # each test starts JupyterLab (10-30 s on a busy 2-core machine)


def course_copy(tmp_path: Path) -> Path:
    """The kit's course (nbgrader_config.py, source/, release/) copied into ``tmp_path/course``."""
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for folder in ("source", "release"):
        shutil.copytree(ROOT / folder, course / folder)
    return course


def test_formgrader_lists_the_assignments_and_creates_its_gradebook(tmp_path):
    """Does formgrader's Manage Assignments load (its API answers with the course's
    assignments), with the gradebook created in the course root, stamped for `nbgrader db
    upgrade`, when JupyterLab runs as `.venv/bin/jupyter lab` (venv not activated)?"""
    course = course_copy(tmp_path)
    with jupyter_lab(course, log=tmp_path / "lab.log") as server:
        status, page = server.get("/formgrader/manage_assignments")
        assert status == 200, server.log_text()
        assert "Manage Assignments" in page
        assignments = server.get_json("/formgrader/api/assignments")
        names = sorted(entry["name"] for entry in assignments)
        # every assignment of the kit (a1-a5 today), as source/ holds them
        expected = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
        assert len(expected) >= 5 and names == expected, server.log_text()
        assert "FileNotFoundError" not in server.log_text()
        assert "is not absolute" not in server.log_text()
    with sqlite3.connect(course / "gradebook.db") as db:
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert len(version) == 12
    assert not (tmp_path / "gradebook.db").exists()


def nbgrader(course: Path, *args: str) -> None:
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # the venv not activated
    run = subprocess.run(
        [str(VENV_BIN / "nbgrader"), *args], cwd=course, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, f"nbgrader {' '.join(args)}:\n{run.stdout}\n{run.stderr}"
    assert "is not absolute" not in run.stderr


def test_manual_grading_shows_the_written_answer_with_its_points(tmp_path):
    """After `nbgrader generate_assignment` and `nbgrader autograde` (venv not activated), does
    formgrader's manual-grading view show the student's written answer, with 3 points to give
    by hand, beside the autograded 2?"""
    course = tmp_path / "course"
    (course / "source" / "toy").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    nbformat.write(toy_source(), course / "source" / "toy" / "toy.ipynb")
    nbgrader(course, "generate_assignment", "toy")

    submission = solve(nbformat.read(course / "release" / "toy" / "toy.ipynb", as_version=4))
    (course / "submitted" / "alice" / "toy").mkdir(parents=True)
    nbformat.write(submission, course / "submitted" / "alice" / "toy" / "toy.ipynb")
    nbgrader(course, "autograde", "toy")

    with jupyter_lab(course, log=tmp_path / "lab.log") as server:
        (submitted,) = server.get_json("/formgrader/api/submitted_notebooks/toy/toy")
        assert submitted["student"] == "alice"
        assert submitted["needs_manual_grade"] is True
        grades = {
            grade["name"]: grade
            for grade in server.get_json(f"/formgrader/api/grades?submission_id={submitted['id']}")
        }
        assert grades["q_written"]["max_score"] == 3
        assert grades["q_written"]["needs_manual_grade"] is True
        assert grades["q_code_tests"]["max_score"] == 2
        assert grades["q_code_tests"]["auto_score"] == 2
        status, page = server.get(f"/formgrader/submissions/{submitted['id']}/")
        assert status == 200, server.log_text()
        assert WRITTEN_ANSWER in page
        assert "q_written" in page


STUDENT_CONFIG = ROOT / "jupyter_config" / "student"
INSTRUCTOR_PANELS = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:menu",
]


def lab_page_config(server) -> dict:
    """The page config JupyterLab's /lab page hands the browser (which plugins are disabled)."""
    status, page = server.get("/lab")
    assert status == 200, server.log_text()
    config_script = r'id="jupyter-config-data" type="application/json">(.*?)</script>'
    match = re.search(config_script, page, re.S)
    assert match, page[:2000]
    return json.loads(match.group(1))


def test_student_lab_has_validate_but_no_instructor_or_exchange_panels(tmp_path):
    """With the student configuration (what `./kit student` sets), are the Create Assignment,
    formgrader, Assignment List and Course List plugins and their server parts off, and
    Validate still on; and does the instructor's lab keep them?"""
    course = course_copy(tmp_path)
    student_env = {"JUPYTER_CONFIG_PATH": str(STUDENT_CONFIG)}
    with jupyter_lab(course, log=tmp_path / "student.log", env=student_env) as server:
        disabled = lab_page_config(server)["disabledExtensions"]
        assert set(INSTRUCTOR_PANELS) <= set(disabled)
        assert "@jupyter/nbgrader:validate-assignment" not in disabled
        for path in ("/formgrader/manage_assignments", "/assignments", "/formgraders"):
            assert server.get(path)[0] == 404, path
        assert server.get("/nbgrader_version?version=0")[0] != 404  # validate's server part
    with jupyter_lab(course, log=tmp_path / "instructor.log") as server:
        disabled = lab_page_config(server).get("disabledExtensions", [])
        assert not set(INSTRUCTOR_PANELS) & set(disabled)
        assert server.get("/formgrader/manage_assignments")[0] == 200


def test_labextension_list_shows_the_student_panels_disabled():
    """Does `jupyter labextension list` under the student configuration list the four nbgrader
    panels as disabled (and leave Validate enabled)?"""
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(STUDENT_CONFIG)}
    run = subprocess.run(
        [str(VENV_BIN / "jupyter"), "labextension", "list"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    disabled = run.stdout + run.stderr
    disabled = disabled[disabled.index("Disabled extensions:") :]
    for plugin in INSTRUCTOR_PANELS:
        assert plugin in disabled
    assert "validate-assignment" not in disabled
