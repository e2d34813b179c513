"""``python -m autograder handout``: what students download holds no solution, no hidden test and
no instructor file, and ``check`` can read the assignment from it."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
import zipfile
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.config import load_assignment
from autograder.handout import HandoutError, write_handout

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.parent.name for p in ROOT.glob("assignments/*/assignment.toml"))
MARKERS = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL)


def cell_sources(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def source_secrets(name: str) -> set[str]:
    """Every solution and hidden-test line of the source, stripped, at least 8 characters, not
    also in the release (nor in the source with those parts cut out, so that a stale release
    holding a solution cannot make it public). Written apart from
    ``autograder.handout.secret_lines`` on purpose, so that one bug cannot hide a leak from
    both."""
    source = cell_sources(ROOT / "source" / name / f"{name}.ipynb")
    release = "\n".join(cell_sources(ROOT / "release" / name / f"{name}.ipynb"))
    visible = "\n".join(MARKERS.sub("", cell) for cell in source)
    lines = {line.strip() for cell in source for _, part in MARKERS.findall(cell)
             for line in part.splitlines()}  # fmt: skip
    return {line for line in lines if len(line) >= 8 and line not in release + visible}


def handout_texts(zip_path: Path) -> dict[str, str]:
    """The text of every file of a handout zip except the wheel (tests/test_student_wheel.py
    opens that); a notebook's cells are added to its JSON, where quotes are escaped."""
    texts = {}
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.namelist():
            if member.endswith(".whl"):
                continue
            text = archive.read(member).decode("utf-8")
            if member.endswith(".ipynb"):
                text += "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
            texts[member] = text
    return texts


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def handout_zip(request, tmp_path_factory) -> tuple[str, Path]:
    name = request.param
    out = tmp_path_factory.mktemp(name) / f"{name}.zip"
    write_handout(load_assignment(name, ROOT), out)
    return name, out


def test_the_grep_finds_secrets_to_look_for():
    """Would the grep below find anything at all (a test that cannot fail proves nothing)?"""
    assert all(len(source_secrets(name)) > 50 for name in ASSIGNMENTS)


def test_handout_holds_no_solution_or_hidden_test_line(handout_zip):
    """Does any file of the handout hold a solution or hidden-test line of the source?"""
    name, out = handout_zip
    secrets = source_secrets(name)
    leaks = {member: sorted(line for line in secrets if line in text)
             for member, text in handout_texts(out).items()}  # fmt: skip
    assert {m: lines for m, lines in leaks.items() if lines} == {}


def test_handout_holds_only_what_students_get(handout_zip):
    """Is every file of the handout one students should get, and nothing from source/,
    reference/, grading_inputs.py or the bundle?"""
    name, out = handout_zip
    with zipfile.ZipFile(out) as archive:
        members = set(archive.namelist())
    notebook = f"{name}.ipynb"
    expected = {f"{name}/{f}" for f in (
        "README.md", notebook, "handout.md", "report_template.md", "requirements.txt",
        f"kit/assignments/{name}/assignment.toml", f"kit/release/{name}/{notebook}",
        "cv_course_kit_student-0.1.0-py3-none-any.whl")}  # fmt: skip
    assert members == expected
    with zipfile.ZipFile(out) as archive:
        pins = archive.read(f"{name}/requirements.txt").decode()
        config = tomllib.loads(
            archive.read(f"{name}/kit/assignments/{name}/assignment.toml").decode()
        )
        release = archive.read(f"{name}/{notebook}")
    assert pins == (ROOT / "requirements.txt").read_text()
    assert set(config) == {"assignment", "limits", "grading"}  # no [hidden_data], performance
    assert "grading_inputs" not in config["assignment"] and set(config["grading"]) == {"seed"}
    assert release == (ROOT / "release" / name / notebook).read_bytes()


def test_check_reads_the_assignment_from_the_handout(handout_zip, tmp_path):
    """Does the handout's kit/ folder give check the assignment as the kit's own config does?"""
    name, out = handout_zip
    with zipfile.ZipFile(out) as archive:
        archive.extractall(tmp_path)
    theirs = load_assignment(name, tmp_path / name / "kit")
    ours = load_assignment(name, ROOT)
    assert (theirs.notebooks, theirs.files, theirs.limits, theirs.seed) == (
        ours.notebooks, ours.files, ours.limits, ours.seed)  # fmt: skip
    assert (theirs.release_dir / ours.notebooks[0]).is_file()


def _kit_copy(tmp_path: Path, name: str = "a1_mlp_numpy") -> Path:
    """The assignment's config, source and release in a kit of its own (no reference/)."""
    for part in ("source", "release"):
        shutil.copytree(ROOT / part / name, tmp_path / part / name)
    config = tmp_path / "assignments" / name
    config.mkdir(parents=True)
    for file in ("assignment.toml", "handout.md", "report_template.md"):
        shutil.copyfile(ROOT / "assignments" / name / file, config / file)
    shutil.copyfile(ROOT / "requirements.txt", tmp_path / "requirements.txt")
    return tmp_path


def test_a_release_out_of_date_with_a_solution_line_is_refused(tmp_path):
    """Is a release notebook that still holds a solution line (stale, or edited by hand)
    refused, with the file named, rather than handed out?"""
    kit = _kit_copy(tmp_path / "kit")
    path = kit / "release" / "a1_mlp_numpy" / "a1_mlp_numpy.ipynb"
    leaked = sorted(source_secrets("a1_mlp_numpy"))[0]
    notebook = json.loads(path.read_text())
    notebook["cells"][-1]["source"] = [leaked]
    path.write_text(json.dumps(notebook))
    with pytest.raises(HandoutError, match=r"a1_mlp_numpy.ipynb holds 1 line\(s\) of the source"):
        write_handout(load_assignment("a1_mlp_numpy", kit), tmp_path / "h.zip", wheel=False)
    assert not (tmp_path / "h.zip").exists()


def test_hidden_data_seeds_stay_out_of_the_handout(tmp_path):
    """Are [hidden_data]'s seeds and the performance bands left out of the student config?"""
    kit = _kit_copy(tmp_path / "kit")
    config = kit / "assignments" / "a1_mlp_numpy" / "assignment.toml"
    text = config.read_text().replace("[hidden_data]\n", "[hidden_data]\nseed = 987654\n")
    config.write_text(text)
    write_handout(load_assignment("a1_mlp_numpy", kit), tmp_path / "h", wheel=False)
    texts = {p: p.read_text() for p in (tmp_path / "h").rglob("*") if p.is_file()}
    assert not [p for p, text in texts.items() if "987654" in text or "zero_at" in text]


def test_a_folder_with_files_is_not_overwritten(tmp_path):
    """Does handout refuse to write into a folder that has files (they would ride along)?"""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "solutions.ipynb").write_text("{}")
    with pytest.raises(HandoutError, match="exists and is not an empty folder"):
        write_handout(load_assignment("a1_mlp_numpy", ROOT), tmp_path / "out", wheel=False)


def test_cli_writes_a_folder_without_the_wheel(tmp_path, capsys):
    """Does `handout --no-wheel` write a folder whose README says where the wheel comes from?"""
    out = tmp_path / "a1"
    assert main(["handout", "a1_mlp_numpy", "--out", str(out), "--no-wheel"]) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    assert not list(out.glob("*.whl"))
    readme = (out / "README.md").read_text()
    assert "the wheel your course gives you" in readme
    assert "python -m autograder check a1_mlp_numpy.ipynb --root kit" in readme


def test_a_release_out_of_date_with_its_source_is_refused(tmp_path):
    """Is a release whose locked cell no longer matches the source (no solution in it, but
    check would hold students to the wrong cell) refused with the command that fixes it?"""
    kit = _kit_copy(tmp_path / "kit")
    path = kit / "release" / "a1_mlp_numpy" / "a1_mlp_numpy.ipynb"
    notebook = json.loads(path.read_text())
    notebook["cells"][0]["source"] = ["# An older title\n"]
    path.write_text(json.dumps(notebook))
    with pytest.raises(HandoutError, match="out of date: run `nbgrader generate_assignment"):
        write_handout(load_assignment("a1_mlp_numpy", kit), tmp_path / "h.zip", wheel=False)


def test_a_missing_report_template_is_a_warning_not_a_failure(tmp_path, capsys):
    """Does an assignment without report_template.md still get a handout, with a warning?"""
    kit = _kit_copy(tmp_path / "kit")
    (kit / "assignments" / "a1_mlp_numpy" / "report_template.md").unlink()
    args = ["handout", "a1_mlp_numpy", "--root", str(kit), "--out", str(tmp_path / "h"),
            "--no-wheel"]  # fmt: skip
    assert main(args) == 0
    assert "report_template.md does not exist: not included" in capsys.readouterr().err
    assert (tmp_path / "h" / "handout.md").is_file()
