"""``python -m autograder package <a> --out autograder.zip``: a Gradescope autograder zip.

What Gradescope expects (https://gradescope-autograders.readthedocs.io/en/latest/specs/ and
``.../troubleshooting/``): a zip with ``setup.sh`` and ``run_autograder`` at its root, unpacked
into ``/autograder/source`` of an Ubuntu image; ``setup.sh`` runs once as root when the image is
built; for each submission the harness puts the student's files in ``/autograder/submission``,
runs ``/autograder/run_autograder`` (working folder ``/autograder``) and uploads
``/autograder/results/results.json`` (tests with name, score, max_score, status, output,
visibility; ``leaderboard``; ``execution_time``; ``output_format``). Defaults: 768 MB of memory,
half a CPU, 10 minutes (up to 40).

The zip::

    setup.sh, run_autograder     from autograder/gradescope/ (see their comments)
    requirements.txt             the kit's pins without torch and torchvision ...
    torch_requirements.txt       ... which setup.sh installs from PyTorch's CPU index
    apt-packages.txt             Debian/Ubuntu data packages the notebooks read
    kit/autograder, kit/helpers  the grading side: Python sources only
    private/package.json         the assignment, its tests and points, the time budget
    private/kit-root/assignments/<a>/assignment.toml
    private/bundles/<a>/         the bundle ``build`` made, less ``reference/`` and ``secret``
    README.md                    what is inside, and the container size the assignment needs

**What the zip holds, and who can read it.** The bundle holds the source notebook (with the
solutions: the grader assembles a submission from its locked and test cells), the expected
records of every input draw and the hidden labels. The zip is uploaded by course staff and
never shown to students, so it is not encrypted. What matters is the container: ``setup.sh``
copies ``private/`` to ``/autograder/private`` (root-owned, mode 0700, files 0600) and makes
``/autograder/source`` 0700; the kernel runs as an unprivileged user, so it cannot read either,
and the grader also covers both in the kernel's file tree (``KIT_HIDE``). The zip holds no
``source/`` tree of the repository, no reference weights, no ``grading_inputs.py`` and not the
bundle's ``secret`` (the seed of the input pool): grading needs none of them.

**Memory.** ``package`` grades the reference submission through the unpacked zip, as Gradescope
would run it, and samples the proportional set size of the grader and the kernel together
(:mod:`autograder.peak_memory`); the zip's README states the peak and the container size to pick
(the peak plus 25 %, rounded up to 256 MB), with a warning when it is above the default 768 MB.
Run it as root (the user and permissions of ``setup.sh`` need root); otherwise the size is not
measured and the README says so.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.config import Assignment
from autograder.contract import KERNEL_USER_ENV
from autograder.manifest import MANIFEST_FILE, read_manifest
from autograder.pipeline import BuildError, bundle_dir, write_submission

__all__ = ["GRADESCOPE_DEFAULT_MB", "Packaged", "container_mb", "package", "unpack_as_gradescope"]

#: Gradescope's default container memory (MB), its default timeout (s).
GRADESCOPE_DEFAULT_MB = 768
GRADESCOPE_DEFAULT_TIMEOUT_S = 600
#: Headroom over the measured peak: sampling misses short spikes, and submissions differ.
HEADROOM = 1.25
TEMPLATES = Path(__file__).resolve().parent / "gradescope"
#: Users whose every process counts in the measurement: none, since the kernel stays in the
#: grader's process tree (measured: the same peak with and without its user), and counting a
#: user would count another grading run of that user on this machine too.
USERS: tuple[str, ...] = ()
#: Bundle entries grading never reads (build's own), left out of the zip.
BUNDLE_LEFT_OUT = ("reference", "secret")
#: The requirements setup.sh installs from PyTorch's CPU wheel index.
TORCH_PACKAGES = ("torch", "torchvision")
APT_FOR_DATASET = {"fashion-mnist": "dataset-fashion-mnist"}


@dataclass
class Packaged:
    """What ``package`` made and measured."""

    zip_path: Path
    peak_mb: float | None  # grader + kernel, PSS, grading the reference; None: not measured
    grader_mb: float | None  # the grader process alone
    container_mb: int | None
    reference_score: str | None  # "12 of 22" as the packaged reference scored
    notes: list[str] = field(default_factory=list)


def container_mb(peak_mb: float) -> int:
    """The container memory to pick for a run that peaked at ``peak_mb``: the default when the
    peak plus headroom fits it, else that figure rounded up to 256 MB.

    >>> container_mb(500.0), container_mb(700.0), container_mb(1172.0)
    (768, 1024, 1536)
    """
    needed = peak_mb * HEADROOM
    if needed <= GRADESCOPE_DEFAULT_MB:
        return GRADESCOPE_DEFAULT_MB
    return int(math.ceil(needed / 256) * 256)


def _tests(assignment: Assignment, bundle: Path) -> list[dict]:
    """Every result line grading writes (tests, then performance), for the fallback results."""
    tests = [
        {"name": gid, "max_score": t.points,
         "visibility": assignment.hidden_tests_visibility if t.hidden else "visible"}
        for gid, t in read_manifest(bundle).tests.items()
    ]  # fmt: skip
    tests += [
        {"name": band.name, "max_score": band.max_score,
         "visibility": assignment.performance_visibility}
        for band in assignment.performance
    ]  # fmt: skip
    return tests


def _copy_sources(package_dir: Path, target: Path) -> None:
    """A package's Python sources (and the Gradescope templates), no caches."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    shutil.copytree(package_dir, target, ignore=ignore)


def _requirements(root: Path) -> tuple[str, str]:
    """(requirements without torch, torch's lines) from the kit's pinned requirements.txt."""
    rest, torch = [], []
    for line in (root / "requirements.txt").read_text().splitlines():
        name = line.split("==")[0].split("#")[0].strip().lower()
        (torch if name in TORCH_PACKAGES else rest).append(line)
    return "\n".join(rest) + "\n", "\n".join(torch) + "\n"


def _stage(assignment: Assignment, staging: Path, time_limit_s: int) -> None:
    """Write the zip's tree into ``staging`` (README.md comes later, with the measurement)."""
    bundle = bundle_dir(assignment)
    if not (bundle / MANIFEST_FILE).is_file():
        raise BuildError(
            f"No grader bundle for {assignment.name} at {bundle}. "
            f"Run `python -m autograder build {assignment.name}` first, then package again."
        )
    kit_root = Path(__file__).resolve().parents[1]
    for name in ("setup.sh", "run_autograder"):
        shutil.copy2(TEMPLATES / name, staging / name)
    rest, torch = _requirements(kit_root)
    (staging / "requirements.txt").write_text(rest)
    (staging / "torch_requirements.txt").write_text(torch)
    dataset = (assignment.hidden_data or {}).get("dataset")
    apt = [APT_FOR_DATASET[dataset]] if dataset in APT_FOR_DATASET else []
    (staging / "apt-packages.txt").write_text("".join(f"{name}\n" for name in apt))
    _copy_sources(kit_root / "autograder", staging / "kit" / "autograder")
    _copy_sources(kit_root / "helpers", staging / "kit" / "helpers")
    private = staging / "private"
    config = private / "kit-root" / "assignments" / assignment.name
    config.mkdir(parents=True)
    shutil.copy2(assignment.config_dir / "assignment.toml", config / "assignment.toml")
    shutil.copytree(bundle, private / "bundles" / assignment.name,
                    ignore=lambda folder, names: [n for n in names if Path(folder) == bundle
                                                  and n in BUNDLE_LEFT_OUT])  # fmt: skip
    package_json = {
        "assignment": assignment.name,
        "time_limit_s": time_limit_s,
        "tests": _tests(assignment, bundle),
    }
    (private / "package.json").write_text(json.dumps(package_json, indent=1))


def unpack_as_gradescope(
    zip_path: Path, root: Path, *, python: str, kernel_user: str | None = None
) -> dict[str, str]:
    """Unpack ``zip_path`` into ``root/source`` and run its ``setup.sh`` with installs skipped,
    as Gradescope's image build would (``root`` stands in for ``/autograder``; needs root).

    Returns:
        The environment ``run_autograder`` needs under this root.
    """
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            archive.extract(info, root / "source")
            mode = info.external_attr >> 16
            if mode:
                (root / "source" / info.filename).chmod(stat.S_IMODE(mode))
    env = {**os.environ, "KIT_AUTOGRADER_ROOT": str(root), "KIT_GRADESCOPE_SKIP_INSTALL": "1",
           "KIT_PYTHON": python}  # fmt: skip
    env.pop("PYTHONPATH", None)  # run_autograder sets its own: the zip's kit, nothing else
    if kernel_user:
        env[KERNEL_USER_ENV] = kernel_user
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"setup.sh failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    # Gradescope's image build copies run_autograder to /autograder/run_autograder.
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir(exist_ok=True)
    return env


def _measure(assignment: Assignment, zip_path: Path, python: str) -> tuple[Packaged, dict]:
    """Grade the reference submission through the unpacked zip; the peaks and its results."""
    from autograder.peak_memory import run_measured

    holder = Path(tempfile.mkdtemp(prefix="kit-package-"))
    holder.chmod(0o755)  # the kernel's user passes through to the kit, as in /autograder
    try:
        root = holder / "autograder"
        env = unpack_as_gradescope(zip_path, root, python=python)
        write_submission(assignment, root / "submission", assignment.source_dir,
                         reference_files=True)  # fmt: skip
        done, peak = run_measured(
            ["bash", str(root / "run_autograder")], env=env, users=USERS,
            focus=("autograder", "grade"),
        )  # fmt: skip
        results = json.loads((root / "results" / "results.json").read_text())
    finally:
        shutil.rmtree(holder, ignore_errors=True)
    possible = sum(t["max_score"] for t in results["tests"])
    score = f"{results['score']:g} of {possible:g}"
    measured = Packaged(zip_path, round(peak.total_mb), round(peak.focus_mb),
                        container_mb(peak.total_mb), score)  # fmt: skip
    if results["score"] < possible:
        measured.notes.append(
            f"The reference submission scored {measured.reference_score} through the package "
            f"(run_autograder said: {done.stdout.strip()[-300:]})."
        )
    return measured, results


def _readme(assignment: Assignment, packaged: Packaged, time_limit_s: int) -> str:
    if packaged.peak_mb is None:
        memory = (
            "Memory was not measured (run `python -m autograder package` as root to measure "
            "it). Set the container's memory in Gradescope's Autograder Settings after a test "
            "submission."
        )
    else:
        fits = packaged.container_mb == GRADESCOPE_DEFAULT_MB
        memory = (
            f"Grading the reference submission peaked at {packaged.peak_mb} MB (proportional "
            f"set size of the grader and the kernel together; the grader alone "
            f"{packaged.grader_mb} MB). Container memory needed: {packaged.container_mb} MB "
            + ("(Gradescope's default, 768 MB, fits)." if fits else
               "(above Gradescope's default of 768 MB: raise it in Autograder Settings).")
        )  # fmt: skip
    return (
        f"# Gradescope autograder: {assignment.name}\n\n"
        f"Made by `python -m autograder package {assignment.name}`. Upload this zip as the "
        "assignment's autograder (Configure Autograder, Zip file upload, Ubuntu base image).\n\n"
        f"- Memory: {memory}\n"
        f"- Time: grading stops itself after {time_limit_s - 20} s and still writes results; "
        f"set the autograder timeout to at least {math.ceil(time_limit_s / 60)} minutes.\n"
        "- `setup.sh` installs Python 3.11, the pinned requirements with CPU builds of torch "
        "and torchvision, creates the unprivileged user `kitgrader` and puts `private/` (source "
        "notebook, expected results, hidden labels) in `/autograder/private`, root only.\n"
        "- Do not share this zip with students: it holds the source notebook with solutions.\n"
    )


def _write_zip(staging: Path, out: Path) -> None:
    """Zip ``staging``'s tree at the archive's root (setup.sh beside run_autograder), keeping
    the scripts executable, in a stable order."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            name = path.relative_to(staging).as_posix()
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if os.access(path, os.X_OK) else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    os.replace(tmp, out)


def package(
    assignment: Assignment,
    out: Path,
    *,
    measure: bool = True,
    python: str | None = None,
    time_limit_s: int | None = None,
) -> Packaged:
    """Write the Gradescope zip for ``assignment`` to ``out`` (see the module docstring).

    Args:
        measure: grade the reference through the zip and state the container size it needs.
        python: the interpreter the measurement runs under (default: this one), which must have
            the requirements installed (setup.sh's installs are skipped here).
        time_limit_s: the whole run's budget in seconds; default Gradescope's 10 minutes, or the
            notebooks' own total limits plus two minutes when those are longer.

    Raises:
        BuildError: the assignment has no bundle (run ``build`` first).
    """
    notebooks_s = assignment.limits.total_timeout_s * len(assignment.notebooks)
    time_limit_s = time_limit_s or max(GRADESCOPE_DEFAULT_TIMEOUT_S, int(notebooks_s) + 120)
    staging = Path(tempfile.mkdtemp(prefix="kit-zip-"))
    try:
        _stage(assignment, staging, time_limit_s)
        packaged = Packaged(Path(out), None, None, None, None)
        if measure and os.geteuid() == 0:
            _write_zip(staging, Path(out))  # measured as Gradescope will run it
            packaged, _ = _measure(assignment, Path(out), python or sys.executable)
        elif measure:
            packaged.notes.append("Memory not measured: run package as root to measure it.")
        if packaged.container_mb and packaged.container_mb > GRADESCOPE_DEFAULT_MB:
            packaged.notes.append(
                f"Grading {assignment.name} peaks at {packaged.peak_mb} MB: set the container's "
                f"memory to {packaged.container_mb} MB in Gradescope's Autograder Settings (the "
                f"default, {GRADESCOPE_DEFAULT_MB} MB, would stop it)."
            )
        if time_limit_s > GRADESCOPE_DEFAULT_TIMEOUT_S:
            packaged.notes.append(
                f"Set Gradescope's autograder timeout to at least "
                f"{math.ceil(time_limit_s / 60)} minutes (the default is 10)."
            )
        (staging / "README.md").write_text(_readme(assignment, packaged, time_limit_s))
        _write_zip(staging, Path(out))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return packaged
