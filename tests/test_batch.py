"""Batch grading on one machine: workers, resumability, tables, and hostile exports."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile

import pytest
import toy_assignment as toy

from autograder import batch, batch_worker, exports, gradebook, pipeline
from autograder.config import load_assignment

SOLVED = {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"}


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """The toy assignment, built once; children inherit KIT_BUNDLE_DIR."""
    root = toy.make_root(tmp_path_factory.mktemp("kit"))
    os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
    assignment = load_assignment(toy.NAME, root)
    pipeline.build(assignment, device="cpu")
    yield assignment
    os.environ.pop("KIT_BUNDLE_DIR", None)


def submissions(folder):
    """Four submissions: solved (folder), half done (bare notebook), broken JSON, and one
    whose grader will be made to crash."""
    toy.student(folder / "alice" / "toy.ipynb", **SOLVED)
    toy.student(folder / "bob.ipynb", q1=SOLVED["q1"])
    (folder / "carol").mkdir()
    (folder / "carol" / "toy.ipynb").write_text("{ this is not json")
    toy.student(folder / "dave" / "toy.ipynb", **SOLVED)
    (folder / "notes.txt").write_text("not a submission")
    return folder


def crashing_for(name):
    """A grader_command that crashes (exit 4, no results) for submission ``name`` only."""
    real = batch_worker.grader_command

    def command(assignment, submission, folder, **kwargs):
        if submission.name == name:
            return [sys.executable, "-c", "import sys; print('error: boom'); sys.exit(4)"]
        return real(assignment, submission, folder, **kwargs)

    return command


def read_grades(out):
    return list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))


def test_a_batch_grades_everyone_survives_a_crash_and_resumes(kit, tmp_path):
    """Do two workers grade every submission with their own kernel users, does a crashing
    grader cost only its own submission, and does a second run grade only what is left?"""
    subs = submissions(tmp_path / "subs")
    out = tmp_path / "out"
    seen = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch_worker, "grader_command", crashing_for("dave"))
        summary = batch.run_batch(toy.NAME, subs, out, jobs=2, root=kit.root,
                                  on_outcome=seen.append)  # fmt: skip
    assert summary.found == 4 and summary.graded == 3 and list(summary.failed) == ["dave"]
    assert "exit code 4 (grader error): error: boom" in summary.failed["dave"]
    assert any("notes.txt" in n for n in summary.notes)
    base = os.environ.get("KIT_KERNEL_USER") or "kitgrader"
    assert {o.kernel_user for o in seen} <= {f"{base}1", f"{base}2"}
    for name in ("alice", "bob", "carol"):
        assert json.loads((out / name / "results.json").read_text())["tests"]
        assert (out / name / "feedback").is_dir() or name == "carol"
    assert not (out / "dave" / "results.json").exists()

    rows = {r["submission"]: r for r in read_grades(out)}
    assert list(rows) == ["alice", "bob", "carol", "dave"]
    assert rows["alice"]["q1_tests"] == "2.0" and rows["alice"]["total"] == "5.0"
    assert rows["bob"]["q1_tests"] == "2.0" and rows["bob"]["q2_tests"] == "0.0"
    assert rows["carol"]["total"] == "0.0" and rows["carol"]["status"] == "graded"
    assert rows["dave"]["status"].startswith("not graded: exit code 4")
    assert rows["dave"]["total"] == ""

    again = batch.run_batch(toy.NAME, subs, out, jobs=2, root=kit.root)
    assert (again.skipped, again.graded, again.failed) == (3, 1, {})
    assert read_grades(out)[3]["total"] == "5.0"


def test_cli_batch_exit_codes_and_second_run(kit, tmp_path):
    """Does `python -m autograder batch` grade, say where the tables are, and skip on rerun?"""
    toy.student(tmp_path / "subs" / "erin" / "toy.ipynb", **SOLVED)
    command = [sys.executable, "-m", "autograder", "batch", toy.NAME, str(tmp_path / "subs"),
               "--out", str(tmp_path / "out"), "--root", str(kit.root), "--jobs", "2"]  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 graded now, 0 already graded, 0 not graded" in first.stdout
    second = subprocess.run(command, capture_output=True, text=True)
    assert "0 graded now, 1 already graded" in second.stdout
    missing = subprocess.run([*command[:5], str(tmp_path / "nowhere"), *command[6:]],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_without_a_bundle_the_batch_stops_before_grading(tmp_path):
    root = toy.make_root(tmp_path / "kit")
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "batch", toy.NAME, str(tmp_path), "--out",
         str(tmp_path / "out"), "--root", str(root)],
        capture_output=True, text=True, env={**os.environ, "KIT_BUNDLE_DIR": str(tmp_path / "b")},
    )  # fmt: skip
    assert run.returncode == 3 and "autograder build toy" in run.stderr


def fake_grader(code: str):
    """A grader_command whose child runs ``code`` with the results path as argv[1]."""

    def command(assignment, submission, folder, **kwargs):
        return [sys.executable, "-c", code, str(folder / "results.json"), kwargs["device"]]

    return command


ENV_DUMP = (
    "import json, os, sys\n"
    "json.dump({'score': 1, 'tests': [], 'env': {k: os.environ.get(k) for k in "
    "('KIT_KERNEL_USER', 'CUDA_VISIBLE_DEVICES', 'KIT_KERNEL_GPUS')}, 'device': sys.argv[2]}, "
    "open(sys.argv[1], 'w'))"
)


def test_gpu_workers_see_only_their_gpu_and_cpu_workers_none(tmp_path, monkeypatch):
    """Does each GPU worker's grader get its own GPU and user, and a CPU worker no GPU? (The
    GPU also in KIT_KERNEL_GPUS: the kernel's /dev then holds no other GPU's node.)"""
    monkeypatch.setattr(batch_worker, "grader_command", fake_grader(ENV_DUMP))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    sub = batch_worker.Submission("s", tmp_path / "s.ipynb")
    for worker, gpu, device in (
        (batch_worker.make_workers(1, ["2", "3"], "kgx")[1], "3", "cuda"),
        (batch_worker.make_workers(2, (), "kgx")[0], "", "cpu"),
    ):
        outcome = batch_worker.grade_one("toy", sub, tmp_path / "out", worker)
        seen = json.loads((tmp_path / "out" / "s" / "results.json").read_text())
        assert seen["env"] == {
            "KIT_KERNEL_USER": worker.kernel_user, "CUDA_VISIBLE_DEVICES": gpu,
            "KIT_KERNEL_GPUS": gpu,
        }  # fmt: skip
        assert seen["device"] == device and outcome.exit_code == 0


def test_the_cpu_time_of_each_grading_is_recorded(tmp_path, monkeypatch):
    """Does status.json say how much CPU time the grading used, its children's included (the
    kernel is a grandchild of the grader), so a batch's speed-up can be judged?"""
    burn = (
        "import json, subprocess, sys, time\n"
        "subprocess.run([sys.executable, '-c', 'import time\\nend = time.process_time() + 0.4\\n"
        "while time.process_time() < end: pass'])\n"
        "json.dump({'score': 1, 'tests': []}, open(sys.argv[1], 'w'))"
    )
    monkeypatch.setattr(batch_worker, "grader_command", fake_grader(burn))
    sub = batch_worker.Submission("busy", tmp_path / "busy.ipynb")
    outcome = batch_worker.grade_one("toy", sub, tmp_path / "out", batch_worker.Worker("kgx1"))
    assert outcome.graded and 0.4 <= outcome.cpu_s < outcome.elapsed_s + 1, outcome
    status = json.loads((tmp_path / "out" / "busy" / "status.json").read_text())
    assert status["cpu_s"] == outcome.cpu_s


def test_a_hanging_grader_is_ended_and_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_worker, "grader_command", fake_grader("import time; time.sleep(60)"))
    sub = batch_worker.Submission("slow", tmp_path / "slow.ipynb")
    outcome = batch_worker.grade_one(
        "toy", sub, tmp_path / "out", batch_worker.Worker("kgx1"), timeout_s=1
    )
    assert not outcome.graded and "ran past the batch's limit of 1 s" in outcome.message
    assert outcome.elapsed_s < 30


def write_graded(out, name, score, leaderboard=None, code=1, students=""):
    (out / name).mkdir(parents=True)
    results = {"score": score, "tests": [{"name": "q1_tests", "score": score, "max_score": 5}]}
    if leaderboard is not None:
        results["leaderboard"] = [{"name": "Accuracy", "value": leaderboard}]
    (out / name / "results.json").write_text(json.dumps(results))
    (out / name / "status.json").write_text(json.dumps({"exit_code": code, "message": ""}))
    return batch_worker.Submission(name, out / name, students)


def test_interrupted_grading_is_regraded_and_a_finished_one_kept(tmp_path):
    """Is a submission whose status was never written (a killed run) graded again, and one
    with a link in place of its results never read through the link?"""
    done = write_graded(tmp_path, "done", 3)
    killed = write_graded(tmp_path, "killed", 3)
    (tmp_path / "killed" / "status.json").unlink()
    linked = write_graded(tmp_path, "linked", 3)
    (tmp_path / "linked" / "results.json").unlink()
    (tmp_path / "linked" / "results.json").symlink_to(tmp_path / "done" / "results.json")
    assert [batch_worker.is_graded(tmp_path / s.name) for s in (done, killed, linked)] == [
        True, False, False,
    ]  # fmt: skip
    assert batch_worker.read_json(tmp_path / "linked" / "results.json") is None
    os.mkfifo(tmp_path / "fifo.json")
    assert batch_worker.read_json(tmp_path / "fifo.json") is None  # returns, never hangs


def test_leaderboard_best_first_and_csv_cells_are_not_formulas(tmp_path):
    subs = [
        write_graded(tmp_path, "a", 1, leaderboard=0.71, students='=HYPERLINK("http://x")'),
        write_graded(tmp_path, "b", 5, leaderboard=0.93, code=0, students="Bo | Li"),
        write_graded(tmp_path, "c", 2, leaderboard=0.80),
    ]
    _, board = gradebook.write_tables(tmp_path, subs)
    text = board.read_text()
    assert text.index("| 1 | b | Bo / Li | 0.9300 |") < text.index("| 2 | c | - | 0.8000 |")
    assert text.index("| 2 | c |") < text.index("| 3 | a |")
    rows = read_grades(tmp_path)
    assert rows[0]["students"] == '\'=HYPERLINK("http://x")'


# -- exports -----------------------------------------------------------------------------------

GRADESCOPE_YAML = """\
submission_101:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
    :email: ada@example.org
  :created_at: 2026-11-01 10:00:00.000000000 -07:00
  :score: 0.0
submission_102:
  :submitters:
  - :name: Alan Turing
    :sid: '1912'
  - :name: Grace Hopper
    :sid: '1906'
"""


def make_zip(path, members, links=()):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        for name, target in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16  # a symbolic link
            z.writestr(info, target)
    return path


def test_gradescope_export_gives_a_folder_per_submission_with_names(tmp_path):
    z = make_zip(tmp_path / "e.zip", {
        "assignment_9_export/submission_metadata.yml": GRADESCOPE_YAML,
        "assignment_9_export/submission_101/toy.ipynb": "{}",
        "assignment_9_export/submission_102/toy.ipynb": "{}",
        "assignment_9_export/submission_102/weights/net.pt": "w",
    })  # fmt: skip
    got = exports.unpack_export(z, tmp_path / "x")
    assert got.layout == "gradescope" and sorted(got.folders) == [
        "submission_101",
        "submission_102",
    ]
    assert got.students["submission_102"] == "Alan Turing; Grace Hopper"
    assert (got.folders["submission_102"] / "weights" / "net.pt").read_text() == "w"


def test_an_export_of_one_submission_keeps_its_folder(tmp_path):
    one = exports.unpack_export(make_zip(tmp_path / "e.zip", {"submission_7/toy.ipynb": "{}"}),
                                tmp_path / "x")  # fmt: skip
    assert (one.layout, list(one.folders)) == ("gradescope", ["submission_7"])


def test_canvas_and_moodle_exports(tmp_path):
    canvas = exports.unpack_export(make_zip(tmp_path / "c.zip", {
        "lovelaceada_1815_99001_toy.ipynb": "{}",
        "lovelaceada_1815_99002_net.pt": "w",
        "turingalan_late_1912_99003_toy-1.ipynb": "{}",
    }), tmp_path / "c")  # fmt: skip
    assert canvas.layout == "canvas"
    assert sorted(canvas.folders) == ["lovelaceada_1815", "turingalan_1912"]
    assert sorted(p.name for p in canvas.folders["lovelaceada_1815"].iterdir()) == [
        "net.pt", "toy.ipynb",
    ]  # fmt: skip
    moodle = exports.unpack_export(make_zip(tmp_path / "m.zip", {
        "Ada Lovelace_1815_assignsubmission_file_/toy.ipynb": "{}",
        "Alan Turing_1912_assignsubmission_file_toy.ipynb": "{}",
    }), tmp_path / "m")  # fmt: skip
    assert moodle.layout == "moodle"
    assert moodle.students == {"Ada_Lovelace_1815": "Ada Lovelace",
                               "Alan_Turing_1912": "Alan Turing"}  # fmt: skip
    assert (moodle.folders["Alan_Turing_1912"] / "toy.ipynb").is_file()


@pytest.mark.parametrize(
    ("members", "links", "message"),
    [
        ({"../../evil.ipynb": "{}"}, (), "points outside the export"),
        ({"/etc/evil.ipynb": "{}"}, (), "points outside the export"),
        ({"submission_1/a/../../../x": "{}"}, (), "points outside the export"),
        (
            {"submission_1/toy.ipynb": "{}"},
            [("submission_1/w.pt", "/etc/shadow")],
            "is a symbolic link",
        ),
    ],
    ids=["dotdot", "absolute", "nested-dotdot", "symlink"],
)
def test_hostile_zip_members_are_refused(tmp_path, members, links, message):
    """Can a crafted export write outside its folder or plant a link? (It must not.)"""
    z = make_zip(tmp_path / "e.zip", members, links)
    with pytest.raises(exports.ExportError, match=message):
        exports.unpack_export(z, tmp_path / "x" / "y")
    assert not (tmp_path / "evil.ipynb").exists() and not (tmp_path / "x" / "y" / "x").exists()


def test_zip_bombs_and_member_floods_stop_at_the_caps(tmp_path, monkeypatch):
    z = make_zip(tmp_path / "bomb.zip", {f"submission_{i}/toy.ipynb": "0" * 5000 for i in range(3)})
    monkeypatch.setattr(exports, "MAX_FILE_BYTES", 4000)
    with pytest.raises(exports.ExportError, match="larger than"):
        exports.unpack_export(z, tmp_path / "a")
    monkeypatch.setattr(exports, "MAX_FILE_BYTES", 10_000)
    monkeypatch.setattr(exports, "MAX_TOTAL_BYTES", 12_000)
    with pytest.raises(exports.ExportError, match="decompresses to more than"):
        exports.unpack_export(z, tmp_path / "b")
    monkeypatch.setattr(exports, "MAX_MEMBERS", 2)
    with pytest.raises(exports.ExportError, match="holds 3 files"):
        exports.unpack_export(z, tmp_path / "c")


def test_metadata_yaml_cannot_run_code(tmp_path):
    """Is a Python object tag in submission_metadata.yml refused, never constructed?"""
    z = make_zip(tmp_path / "e.zip", {
        "submission_metadata.yml": "x: !!python/object/apply:os.system ['touch pwned']",
        "submission_1/toy.ipynb": "{}",
    })  # fmt: skip
    with pytest.raises(exports.ExportError, match="not valid YAML"):
        exports.unpack_export(z, tmp_path / "x")


def test_a_bad_export_is_noted_and_the_rest_graded(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    toy.student(tmp_path / "subs" / "ok.ipynb")
    found, notes = batch.find_submissions(tmp_path / "subs", tmp_path / "out")
    assert [s.name for s in found] == ["ok"]
    assert "broken.zip: not read:" in notes[0] and "Download the export again" in notes[0]


def test_a_failed_regrade_leaves_no_old_grade_behind(tmp_path, monkeypatch):
    """Does a regrade (--force) that crashes drop the earlier results instead of keeping them?"""
    sub = write_graded(tmp_path, "s", 5, code=0)
    monkeypatch.setattr(batch_worker, "grader_command", fake_grader("import sys; sys.exit(5)"))
    outcome = batch_worker.grade_one("toy", sub, tmp_path, batch_worker.Worker("kgx1"))
    assert "exit code 5 (the kernel did not start)" in outcome.message
    assert not (tmp_path / "s" / "results.json").exists() and not batch_worker.is_graded(
        tmp_path / "s"
    )


def test_an_output_folder_inside_the_submissions_is_not_a_submission(tmp_path):
    toy.student(tmp_path / "subs" / "ann" / "toy.ipynb")
    (tmp_path / "subs" / "graded" / "ann").mkdir(parents=True)
    found, _ = batch.find_submissions(tmp_path / "subs", tmp_path / "subs" / "graded")
    assert [s.name for s in found] == ["ann"]


def test_an_export_in_the_folder_is_unpacked_once_with_student_names(tmp_path):
    """Is a Gradescope zip among the submissions unpacked once (a half-done unpack redone),
    with the submitters' names carried to the grades?"""
    (tmp_path / "subs").mkdir()
    make_zip(tmp_path / "subs" / "a2 export.zip", {
        "submission_metadata.yml": GRADESCOPE_YAML,
        "submission_101/toy.ipynb": "{}",
        "submission_102/toy.ipynb": "{}",
    })  # fmt: skip
    out = tmp_path / "out"
    found, _ = batch.find_submissions(tmp_path / "subs", out)
    assert [(s.name, s.students) for s in found] == [
        ("submission_101", "Ada Lovelace"), ("submission_102", "Alan Turing; Grace Hopper"),
    ]  # fmt: skip
    index = out / "_exports" / "a2_export" / "export.json"
    stamp = index.stat().st_mtime_ns
    assert batch.find_submissions(tmp_path / "subs", out)[0] == found
    assert index.stat().st_mtime_ns == stamp  # not unpacked again
    index.unlink()  # as if the first unpack had been interrupted
    assert batch.find_submissions(tmp_path / "subs", out)[0] == found


def test_ctrl_c_keeps_what_is_graded_and_the_next_run_finishes(kit, tmp_path):
    """Does an interrupted batch keep the submissions it finished, stop its running grader,
    and leave the rest to the next run?"""
    import signal
    import time

    subs = tmp_path / "subs"
    for name in ("a1", "a2", "a3"):
        toy.student(subs / name / "toy.ipynb", **SOLVED)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "batch", toy.NAME, str(subs), "--out",
               str(out), "--root", str(kit.root), "--jobs", "1"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (out / "a1" / "status.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # a2's grader is now running
    process.send_signal(signal.SIGINT)
    printed, _ = process.communicate(timeout=60)
    assert process.returncode == 130, printed
    assert "Interrupted: everything graded so far is kept" in printed
    assert batch_worker.is_graded(out / "a1") and not batch_worker.is_graded(out / "a3")
    rows = {r["submission"]: r for r in read_grades(out)}
    assert rows["a1"]["total"] == "5.0" and rows["a3"]["status"] == "not graded yet"
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0 and "1 already graded" in again.stdout, again.stdout


def test_gpu_ids_are_checked(kit, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "batch", toy.NAME, str(tmp_path), "--out",
         str(tmp_path / "out"), "--root", str(kit.root), "--gpus", "0,$(reboot)"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2 and "--gpus takes GPU indices or UUIDs" in run.stderr


def test_a_gpu_the_machine_does_not_have_is_refused_before_grading(kit, tmp_path, monkeypatch):
    """``--gpus 0,7`` on a machine whose driver lists one GPU: is it refused at once, naming
    the id and how to list the real ones, rather than grading every submission without a GPU?"""
    fake = tmp_path / "machine"
    (fake / "dev").mkdir(parents=True)
    (fake / "dev" / "nvidiactl").touch()
    info = fake / "proc" / "driver" / "nvidia" / "gpus" / "0000:3b:00.0" / "information"
    info.parent.mkdir(parents=True)
    info.write_text("GPU UUID: \t GPU-aaaa\nDevice Minor: \t 0\n")
    monkeypatch.setenv("KIT_GPU_ROOT", str(fake))
    toy.student(tmp_path / "subs" / "a" / "toy.ipynb", **SOLVED)
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "batch", toy.NAME, str(tmp_path / "subs"), "--out",
         str(tmp_path / "out"), "--root", str(kit.root), "--gpus", "0,7"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip() == (
        "error: --gpus 7 is not a GPU of this machine: the driver lists 1 GPU. "
        "`nvidia-smi -L` lists them."
    ), run.stderr
    assert not (tmp_path / "out" / "a").exists()


def test_batch_modules_state_their_job_and_stay_short():
    """Does each module of batch grading say its job and stay under the project's ~400 lines?"""
    import ast
    from pathlib import Path

    for name in ("batch", "batch_worker", "gradebook", "exports", "slurm"):
        path = Path(batch.__file__).with_name(f"{name}.py")
        source = path.read_text()
        assert source.count("\n") <= 400, f"{path.name}: {source.count(chr(10))} lines"
        assert ast.get_docstring(ast.parse(source)), f"{path.name} has no module docstring"


def test_force_regrades_what_a_plain_rerun_skips(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_worker, "grader_command", fake_grader(ENV_DUMP))
    toy.student(tmp_path / "subs" / "ann.ipynb")
    write_graded(tmp_path / "out", "ann", 2)
    plain = batch.run_batch("toy", tmp_path / "subs", tmp_path / "out")
    assert (plain.skipped, plain.graded) == (1, 0)
    forced = batch.run_batch("toy", tmp_path / "subs", tmp_path / "out", force=True)
    assert (forced.skipped, forced.graded) == (0, 1)
    assert json.loads((tmp_path / "out" / "ann" / "results.json").read_text())["score"] == 1
