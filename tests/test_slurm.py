"""The Slurm backend against fake ``sbatch``/``squeue``/``scontrol``/``sacct`` on PATH.

The fake ``sbatch`` runs each array task at once, in order, with ``SLURM_ARRAY_TASK_ID`` set,
the way Slurm would run the batch script; ``FAKE_SLURM_SKIP`` names manifest indices whose task
"dies" without writing anything. The real-Slurm test is in ``test_slurm_real.py``.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import toy_assignment as toy

from autograder import pipeline, slurm
from autograder.batch_worker import Submission
from autograder.config import load_assignment

SOLVED = {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"}

FAKE_SBATCH = """\
#!{python}
import json, os, subprocess, sys
args = sys.argv[1:]
lo, hi = map(int, next(a for a in args if a.startswith("--array=")).split("=")[1].split("-"))
script, *script_args = [a for a in args if not a.startswith("--")]
state = os.environ["FAKE_SLURM_DIR"]
jobs = len(open(os.path.join(state, "sbatch.log")).readlines()) if os.path.exists(
    os.path.join(state, "sbatch.log")) else 0
job = str(5000 + jobs)
with open(os.path.join(state, "sbatch.log"), "a") as log:
    log.write(json.dumps({{"job": job, "args": args}}) + "\\n")
skip = os.environ.get("FAKE_SLURM_SKIP", "").split(",")
for task in range(lo, hi + 1):
    if "all" in skip or str(int(script_args[0]) + task) in skip:
        with open(os.path.join(state, "sacct.txt"), "a") as f:
            f.write(f"{{job}}_{{task}}|NODE_FAIL\\n")
        continue
    with open(os.path.join(state, f"task-{{job}}_{{task}}.out"), "w") as out:
        subprocess.run(["/bin/bash", script, *script_args], stdout=out, stderr=out,
                       env={{**os.environ, "SLURM_ARRAY_TASK_ID": str(task)}})
print(job)
"""
FAKE_SCONTROL = '#!/bin/sh\necho "MaxArraySize            = 2"\n'
FAKE_SQUEUE = "#!/bin/sh\nexit 0\n"  # nothing queued
FAKE_SACCT = '#!/bin/sh\ncat "$FAKE_SLURM_DIR/sacct.txt" 2>/dev/null\nexit 0\n'


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    root = toy.make_root(tmp_path_factory.mktemp("kit"))
    os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
    assignment = load_assignment(toy.NAME, root)
    pipeline.build(assignment, device="cpu")
    yield assignment
    os.environ.pop("KIT_BUNDLE_DIR", None)


def fake_slurm(folder, tools=("sbatch", "scontrol", "squeue", "sacct")):
    """A folder of fake Slurm commands (only ``tools``)."""
    folder.mkdir(parents=True)
    scripts = {"sbatch": FAKE_SBATCH.format(python=sys.executable), "scontrol": FAKE_SCONTROL,
               "squeue": FAKE_SQUEUE, "sacct": FAKE_SACCT}  # fmt: skip
    for tool in tools:
        (folder / tool).write_text(scripts[tool])
        (folder / tool).chmod(0o755)
    return folder


def batch(kit, subs, out, bin_dir, *extra, skip="", path=None):
    path = path if path is not None else f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "FAKE_SLURM_DIR": str(bin_dir), "FAKE_SLURM_SKIP": skip,
           "KIT_SLURM_POLL_S": "0.1", "PATH": path}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "autograder", "batch", toy.NAME, str(subs), "--out", str(out),
         "--root", str(kit.root), "--backend", "slurm", *extra],
        capture_output=True, text=True, env=env,
    )  # fmt: skip


def sbatch_calls(bin_dir):
    log = bin_dir / "sbatch.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def three_submissions(folder):
    toy.student(folder / "alice" / "toy.ipynb", **SOLVED)
    toy.student(folder / "bob.ipynb", q1=SOLVED["q1"])
    (folder / "carol").mkdir(parents=True)
    (folder / "carol" / "toy.ipynb").write_text("not json")
    return folder


def test_arrays_split_at_max_array_size_and_results_are_collected(kit, tmp_path):
    """Are 3 submissions sent as arrays of at most MaxArraySize (2) tasks, graded by the same
    code as a local batch, and tabulated from their JSON files?"""
    subs, out = three_submissions(tmp_path / "subs"), tmp_path / "out"
    bin_dir = fake_slurm(tmp_path / "bin")
    run = batch(kit, subs, out, bin_dir, "--wait")
    assert run.returncode == 0, run.stdout + run.stderr
    calls = sbatch_calls(bin_dir)
    assert [c["args"][1] for c in calls] == ["--array=0-1", "--array=0-0"]
    assert calls[0]["args"][2] == f"--output={out / 'slurm' / 'logs'}/%A_%a.out"
    assert [c["args"][-1] for c in calls] == ["0", "2"]  # offsets into the manifest
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert [(r["submission"], r["status"], r["total"]) for r in rows] == [
        ("alice", "graded", "5.0"), ("bob", "graded", "2.0"), ("carol", "graded", "0.0"),
    ]  # fmt: skip
    users = {json.loads((out / n / "status.json").read_text())["kernel_user"]
             for n in ("alice", "bob")}  # fmt: skip
    assert len(users) == 2  # tasks 0 and 1 of an array run as different kernel users
    again = batch(kit, subs, out, bin_dir)
    assert again.returncode == 2 and "already holds a Slurm batch" in again.stderr


def test_a_lost_task_is_listed_and_resubmitted_with_resume(kit, tmp_path):
    """Is a task that left nothing listed with sacct's state, and does --resume send only it?"""
    subs, out = tmp_path / "subs", tmp_path / "out"
    toy.student(subs / "alice" / "toy.ipynb", **SOLVED)
    toy.student(subs / "bob" / "toy.ipynb", q1=SOLVED["q1"])
    bin_dir = fake_slurm(tmp_path / "bin")
    run = batch(kit, subs, out, bin_dir, "--wait", skip="1")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "not graded: bob: no result from task 5000_1 (Slurm state NODE_FAIL)" in run.stdout
    assert "--resume" in run.stdout
    resumed = batch(kit, subs, out, bin_dir, "--resume", "--wait")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    last = sbatch_calls(bin_dir)[-1]["args"]
    assert last[1] == "--array=0-0"
    manifest = json.loads((out / "slurm" / "round-2.json").read_text())
    assert [s["name"] for s in manifest["submissions"]] == ["bob"]
    assert "2 submissions: 2 graded, 0 not graded." in resumed.stdout


def test_gres_and_options_reach_sbatch(kit, tmp_path):
    subs = three_submissions(tmp_path / "subs")
    bin_dir = fake_slurm(tmp_path / "bin")
    run = batch(kit, subs, tmp_path / "out", bin_dir, "--gres", "gpu:1", "--partition", "gpu",
                "--time", "00:20:00", "--sbatch-arg=--mem=8G", skip="all")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Collect the results with the same command and --collect" in run.stdout
    args = sbatch_calls(bin_dir)[0]["args"]
    assert {"--gres=gpu:1", "--partition=gpu", "--time=00:20:00", "--mem=8G"} <= set(args)
    manifest = json.loads((tmp_path / "out" / "slurm" / "round-1.json").read_text())
    assert manifest["device"] == "cuda"
    script = (tmp_path / "out" / "slurm" / "round-1.sh").read_text()
    assert "-m autograder.slurm task" in script and '"$1"' in script


def test_without_squeue_sacct_or_sbatch_the_messages_are_plain(kit, tmp_path):
    subs = three_submissions(tmp_path / "subs")
    only_sbatch = fake_slurm(tmp_path / "bin", tools=("sbatch",))
    run = batch(kit, subs, tmp_path / "out", only_sbatch, "--wait", skip="all",
                path=str(only_sbatch))  # fmt: skip
    assert "squeue was not found on PATH" in run.stdout
    assert "sacct was not found on PATH" in run.stdout
    assert "scontrol was not found on PATH; assuming Slurm's default MaxArraySize" in run.stdout
    assert run.returncode == 1 and "not graded: alice: no result from task" in run.stdout
    none = batch(kit, subs, tmp_path / "out2", tmp_path / "empty", path=str(tmp_path / "empty"))
    assert none.returncode == 2
    assert "sbatch was not found on PATH: this machine is not a Slurm submit host" in none.stderr


def test_collect_never_unpickles_and_reads_json_only(tmp_path):
    """Does collect treat a pickle in place of results.json as "no result"?"""
    import pickle

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "results.json").write_bytes(pickle.dumps({"score": 99}))
    (tmp_path / "x" / "status.json").write_text(json.dumps({"exit_code": 0}))
    summary = slurm.collect(tmp_path, [Submission("x", tmp_path / "x")])
    assert summary.graded == 0 and "x" in summary.failed


def test_batch_script_is_plain_bash():
    text = slurm._script(Path("/m j.json"), "toy")
    assert text.startswith("#!/bin/bash\n#SBATCH --job-name=kit-toy\n")
    assert textwrap.dedent(text) == text and "'/m j.json'" in text
