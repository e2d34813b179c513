"""The grading pipeline: build an assignment's private bundle, and grade one submission.

``build`` draws a pool of ``[grading] input_pool`` input sets (``grading_inputs.py``, seeded
from a secret made with :mod:`secrets` that only the bundle keeps), runs the source solution
through the same pipeline a submission takes once per draw, and keeps what it recorded on each
draw as that draw's expected results. It refuses a record that is not evidence (see
:mod:`autograder.evidence`). ``grade`` picks one draw per submission at random, gives the kernel
only that draw's inputs, and scores against that draw's expected results. Both call
``run_notebook``, so the expected results and the graded ones come from identical conditions.

The private bundle (``build/autograder/<a>/`` by default, mode 0700)::

    source/<nb>.ipynb, release/<nb>.ipynb   the notebooks, as built
    secret                                  the pool's seed (32 random bytes), bundle only
    draws/<k>/inputs/<name>.npy             draw k's hidden-test inputs (grading_inputs.py)
    draws/<k>/expected/<name>.npy           what the source recorded on draw k
    expected.json                           per test cell: points, records and tolerances
    hidden/inputs/, hidden/labels/          the hidden test set (helpers.data.hidden), the
                                            inputs untransformed: never given to a kernel as is
    hidden/redraw.json                      the ``[hidden_data] transform`` each run's copy gets
    reference/                              the files a reference submission includes

One execution's work folder (``kit-work-*/work``, made by ``run_notebook``, removed after
scoring; where root may mount, a tmpfs capped at ``limits.disk_mb`` beyond what the grader copies
in, so filling it costs only the student: autograder.disk)::

    kit-work-XXXX/work/ root's, 0711: the kernel user passes through, cannot rename or replace
      student/          the kernel's cwd: the submitted files   (the kernel user's: it may write)
      outputs/          OUTPUT_DIR: prediction files              (the kernel user's)
      records/          KIT_RECORD_DIR: record() writes here      (the kernel user's)
      data/, inputs/    DATA_DIR and the hidden tests' inputs     (root's, read-only to the kernel)

DATA_DIR holds this run's own copy of the hidden inputs (``helpers.data.hidden.
redraw_hidden_inputs``): new ids, a new order and new noise, drawn from :mod:`secrets` per run,
so what one submission printed of them names nothing in the next. The map from those ids to the
bundle's lives in ``NotebookRun.hidden_ids``, in the grader's memory only.

After the run, records and outputs are read only through handles opened relative to the work
folder, never following a link (``autograder.safe_fs``); the folder is removed with
``safe_fs.remove_tree`` in a ``finally`` block, whatever the student left in it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np

from autograder.assemble import assemble, is_autograded_test
from autograder.config import Assignment
from autograder.contract import (
    BUNDLE_DIR_ENV,
    GRADING_ENV,
    HIDDEN_MARK,
    HIDE_ENV,
    INPUTS_DIR_ENV,
    NBGRADER_KEY,
    RECORD_DIR_ENV,
    RECORD_MIMETYPE,
    grade_id,
    grading_parameters,
    kit_grade_id,
)
from autograder.evidence import check_evidence
from autograder.intake import read_submission
from autograder.manifest import (
    MANIFEST_FILE,
    BundleManifest,
    PerformanceEntry,
    TestEntry,
    read_manifest,
    write_manifest,
)
from autograder.redact import Redactor
from autograder.safe_fs import Folder, UnsafeFileError, remove_tree
from autograder.score import (
    MAX_RECORD_BYTES,
    Expected,
    TestOutcome,
    load_npy_bytes,
    score_performance,
    score_test_cell,
)

__all__ = [
    "BuildError",
    "Graded",
    "build",
    "bundle_dir",
    "grade",
    "resolve_device",
    "write_submission",
]

#: The folders of a work folder (see the module docstring).
STUDENT, OUTPUTS, RECORDS, DATA, INPUTS = "student", "outputs", "records", "data", "inputs"
#: record()'s index of names and tolerances; a few hundred bytes per record.
MAX_INDEX_BYTES = 4 * 1024 * 1024


class BuildError(RuntimeError):
    """The source solution does not pass its own tests, or the bundle cannot be made."""


def bundle_dir(assignment: Assignment) -> Path:
    """Where ``build`` keeps the assignment's private bundle (``$KIT_BUNDLE_DIR/<a>`` if set)."""
    base = os.environ.get(BUNDLE_DIR_ENV) or assignment.root / "build" / "autograder"
    return Path(base) / assignment.name


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when an NVIDIA GPU is visible, else ``cpu``.

    Checked without importing torch in the grader (a second or two per submission): the
    device node is what a CUDA kernel would open.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"Unknown device {device!r}. Valid values are 'auto', 'cpu', 'cuda'.")
    if device != "auto":
        return device
    return "cuda" if Path("/dev/nvidia0").exists() or Path("/dev/nvidiactl").exists() else "cpu"


@dataclass
class NotebookRun:
    """What one notebook's execution left, for scoring."""

    executed: nbformat.NotebookNode
    errors: dict[str, str]  # grade_id -> one sentence ("raised ValueError: ...")
    not_run: dict[str, str]  # grade_id -> why it did not run
    records_dir: Path  # for messages; read through ``records``
    output_dir: Path  # for messages; read through ``outputs``
    notices: list[str]
    elapsed_s: float
    workdir: Path
    #: Verified handles of the records folder and OUTPUT_DIR (None: it was not a real folder
    #: of the kernel user's; scoring then says so for each record and prediction file).
    records: Folder | None = None
    outputs: Folder | None = None
    #: {id in DATA_DIR: id in the bundle's labels} for this run's copy of the hidden inputs
    #: (None: the kernel got the bundle's ids, as in ``check``'s stand-in bundle).
    hidden_ids: dict[str, str] | None = None

    #: Unmounts the work folder's size-capped file system (see ``_work_folder``).
    unmount: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def discard(self) -> None:
        """Close the handles and remove the work folder, whatever the student left in it."""
        try:
            for folder in (self.records, self.outputs):
                if folder is not None:
                    folder.close()
        finally:
            try:
                self.unmount.close()
            finally:
                remove_tree(self.workdir.parent)


def _private_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o700)
    return path


def _copy_submitted_files(
    files_dir: Path | None, names: tuple[str, ...], target: Path, max_bytes: int
) -> list[str]:
    """Copy the files ``[assignment] files`` names from the submission into ``target``.

    Each is opened without following a link and size-checked before a byte is read (weights of
    many gigabytes, a link to a root-only file); what is refused gets a note, the rest is copied.
    """
    notes = []
    try:
        source = Folder(os.open(files_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), files_dir)
    except (OSError, TypeError):
        source = None
    try:
        for name in names:
            missing = f"The file {name} was not in the submission; cells that need it fail."
            if source is None:
                notes.append(missing)
                continue
            try:
                stream = source.open_binary(name, max_bytes)
            except UnsafeFileError as error:
                message = str(error)
                if message.endswith("does not exist."):
                    notes.append(missing)
                    continue
                hint = (
                    "Save a smaller model (fewer or smaller layers) and submit again."
                    if "byte limit" in message
                    else "Submit the file itself."
                )
                notes.append(f"{message} It was not copied; cells that need it fail. {hint}")
                continue
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            with stream, open(os.open(destination, flags, 0o644), "wb") as out:
                shutil.copyfileobj(stream, out)  # bounded: fstat said at most max_bytes
    finally:
        if source is not None:
            source.close()
    return notes


def _copy_read_only(source: Path, target: Path) -> None:
    """Copy the bundle's folder ``source`` to ``target``, readable by all, writable by root only."""
    shutil.copytree(source, target)
    _make_read_only(target)


def _make_read_only(target: Path) -> None:
    """Make the grader's folder ``target`` readable by all, writable by root only.

    The folder is the grader's own copy (no links, a few levels deep), so os.walk is safe here.
    """
    for folder, _, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def _open_kernel_folders(workdir: Path, kernel_uid: int) -> tuple[Folder | None, ...]:
    """Verified handles of ``records/`` and ``outputs/``: opened relative to the work folder
    (root's, checked), not links, owned by the kernel's user. ``None`` for one that is not."""
    handles: list[Folder | None] = []
    with Folder.open(workdir, owner=os.geteuid()) as work:
        for name in (RECORDS, OUTPUTS):
            try:
                handles.append(work.folder(name, owner=kernel_uid))
            except UnsafeFileError:
                handles.append(None)
    return tuple(handles)


def describe_failure(failure) -> str:
    """How a cell failed, e.g. 'raised ValueError: shapes differ'; an unanswered part (a bare
    NotImplementedError from the release's stub) says so in words."""
    if failure.ename == "NotImplementedError" and not failure.evalue.strip():
        return "raised NotImplementedError: the code it tests is not written yet."
    return f"raised {failure.ename}: {failure.evalue}".strip()


def _cell_outcomes(result, executed) -> tuple[dict[str, str], dict[str, str]]:
    """Map the executor's per-cell findings to grade_ids."""
    errors, not_run = {}, {}
    for index, cell in enumerate(executed.cells):
        gid = kit_grade_id(cell)
        if gid is None:
            continue
        if index in result.not_run:
            not_run[gid] = result.not_run[index].message
        elif index in result.failures:
            errors[gid] = f"The cell {describe_failure(result.failures[index])}"
    return errors, not_run


def run_notebook(
    assignment: Assignment,
    bundle: Path,
    notebook_name: str,
    student: nbformat.NotebookNode | None,
    submission_files: Path | None,
    *,
    device: str,
    isolate: bool | None,
    private: Path,
    grading_inputs: Path | None = None,
) -> tuple[NotebookRun, list[str]]:
    """Assemble and execute one notebook; returns the run and the assembly's repairs.

    ``grading_inputs``: the folder of the one input draw the kernel gets (see ``build``). The
    caller scores the run and then calls ``run.discard()`` (in a ``finally`` block).
    """
    source = nbformat.read(bundle / "source" / notebook_name, as_version=4)
    release = nbformat.read(bundle / "release" / notebook_name, as_version=4)
    assembled = assemble(source, release, student)

    unmount = contextlib.ExitStack()
    holder = Path(tempfile.mkdtemp(prefix="kit-work-"))
    try:
        workdir = _work_folder(holder, assignment, bundle, grading_inputs, submission_files,
                               unmount)  # fmt: skip
        run, repairs = _run_in(
            assignment, bundle, notebook_name, assembled, submission_files,
            device=device, isolate=isolate, private=private, workdir=workdir,
            grading_inputs=grading_inputs,
        )  # fmt: skip
    except BaseException:
        try:
            unmount.close()
        finally:
            remove_tree(holder)
        raise
    run.unmount = unmount
    return run, repairs


def _git_folders(root: Path) -> list[Path]:
    """The kit's git data: ``.git``, and where ``.git`` is a file (a worktree, a submodule), the
    repository it points at, whose objects hold every committed source notebook."""
    found = [root / ".git"]
    try:
        pointer = (root / ".git").read_text(errors="replace") if (root / ".git").is_file() else ""
    except OSError:
        pointer = ""
    if pointer.startswith("gitdir:"):
        gitdir = (root / pointer[len("gitdir:") :].strip()).resolve()
        found.append(gitdir)
        try:  # a worktree's folder names the shared repository in ``commondir``
            common = (gitdir / "commondir").read_text().strip()
            found.append((gitdir / common).resolve())
        except OSError:
            pass
    return found


def _may_hide(path: Path) -> bool:
    """Whether ``path`` can be hidden from the kernel (it holds nothing the kernel needs)."""
    from autograder.sandbox import check_hidden_paths

    try:
        check_hidden_paths([path])
    except ValueError:
        return False
    return True


def _bytes_under(folder: Path) -> int:
    """Total size of the regular files under one of the grader's own folders (the bundle)."""
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _work_folder(
    holder: Path,
    assignment: Assignment,
    bundle: Path,
    grading_inputs: Path | None,
    submission_files: Path | None,
    unmount: contextlib.ExitStack,
) -> Path:
    """The run's work folder ``holder/work``: root's, 0711, and, where root may mount, a tmpfs
    holding at most ``limits.disk_mb`` MB beyond what the grader copies in, so a student who
    fills the disk gets ENOSPC there while the grader's own files (the executed notebook, the
    results) live elsewhere (autograder.disk)."""
    from autograder.disk import capped_folder

    holder.chmod(0o711)  # the grader's: the kernel user may pass through to its folders only
    workdir = holder / "work"
    disk_mb = assignment.limits.disk_mb
    if disk_mb is None:
        workdir.mkdir(mode=0o711)
        return workdir
    copied = _bytes_under(bundle / "hidden" / "inputs")
    if grading_inputs is not None:
        copied += _bytes_under(grading_inputs)
    if submission_files is not None:
        for name in assignment.files:
            with contextlib.suppress(OSError):
                found = (submission_files / name).lstat()
                copied += min(found.st_size, assignment.limits.max_submitted_file_mb * 2**20)
    size_mb = disk_mb + copied // 2**20 + 16
    unmount.enter_context(capped_folder(workdir, size_mb, mode=0o711))
    return workdir


def _run_in(
    assignment: Assignment,
    bundle: Path,
    notebook_name: str,
    assembled,
    submission_files: Path | None,
    *,
    device: str,
    isolate: bool | None,
    private: Path,
    workdir: Path,
    grading_inputs: Path | None,
) -> tuple[NotebookRun, list[str]]:
    """``run_notebook``'s work inside the work folder ``workdir`` (see the module docstring)."""
    from autograder.execute import execute_notebook
    from helpers.data.hidden import public_test_paths

    student_dir, output_dir, records_dir = workdir / STUDENT, workdir / OUTPUTS, workdir / RECORDS
    data_dir, inputs_dir = workdir / DATA, workdir / INPUTS
    for folder in (student_dir, output_dir, records_dir):
        folder.mkdir(mode=0o700)
    notices = _copy_submitted_files(
        submission_files, assignment.files, student_dir,
        assignment.limits.max_submitted_file_mb * 2**20,
    )  # fmt: skip
    hidden_ids = _hidden_inputs_for_run(bundle / "hidden", data_dir)
    if grading_inputs is not None and grading_inputs.is_dir():
        _copy_read_only(grading_inputs, inputs_dir)
    parameters = grading_parameters(
        device=device,
        data_dir=str(data_dir) if data_dir.exists() else None,
        output_dir=str(output_dir),
        seed=assignment.seed,
    )
    kernel_env = {
        GRADING_ENV: "1",
        RECORD_DIR_ENV: str(records_dir),
        INPUTS_DIR_ENV: str(inputs_dir),
        "MPLBACKEND": "Agg",
    }
    root = assignment.root
    hide = [bundle, private, root / "source", root / "assignments", root / "build"]
    hide += _git_folders(root)
    # The submission as it arrived: its files are copied into the work folder; the folder may
    # hold more (other notebooks, a classmate's folder beside it in a batch).
    if submission_files is not None and _may_hide(submission_files):
        hide.append(submission_files)
    # The public files the hidden Fashion-MNIST images come from: a lookup in them would score
    # full marks without a model (bench/hidden_lookup.py).
    hide += public_test_paths([root / "data"])
    # KIT_HIDE: more paths to keep from the kernel (e.g. an instructor's other courses),
    # separated like PATH.
    hide += [Path(p) for p in os.environ.get(HIDE_ENV, "").split(os.pathsep) if p]
    started = time.monotonic()
    result = execute_notebook(
        assembled.notebook,
        workdir=workdir,
        writable=[student_dir, output_dir, records_dir],
        parameters=parameters,
        limits=assignment.limits,
        kernel_env=kernel_env,
        hide=[p for p in hide if p.exists()],
        isolate=isolate,
        output_path=private / f"executed-{notebook_name}",
    )
    elapsed = time.monotonic() - started
    kernel_uid = result.isolation.uid if result.isolation.enabled else os.geteuid()
    records, outputs = _open_kernel_folders(workdir, kernel_uid)
    errors, not_run = _cell_outcomes(result, result.notebook)
    notices += list(result.notices)
    if not result.isolation.enabled:
        notices.append(f"Grader: {result.isolation.describe()}.")
    run = NotebookRun(result.notebook, errors, not_run, records_dir, output_dir, notices,
                      elapsed, workdir, records, outputs, hidden_ids=hidden_ids)  # fmt: skip
    return run, assembled.repairs


#: In the bundle's ``hidden/``: which transform each run's copy of the inputs gets.
REDRAW_FILE = "redraw.json"


def _hidden_inputs_for_run(hidden: Path, data_dir: Path) -> dict[str, str] | None:
    """Fill ``data_dir`` (DATA_DIR) from the bundle's ``hidden/`` folder; returns the id map.

    A grader's bundle (it has ``redraw.json``) gets a fresh copy: new ids, order and noise
    from :mod:`secrets`, so a table of ids and labels made from one submission's feedback is
    worth nothing in the next. ``check``'s stand-in bundle (training images on the student's
    own machine, no secret to keep) is copied as it is. No ``hidden/inputs``: no DATA_DIR.
    """
    from helpers.data.hidden import redraw_hidden_inputs

    if not (hidden / "inputs").is_dir():
        return None
    if not (hidden / REDRAW_FILE).is_file():
        _copy_read_only(hidden / "inputs", data_dir)
        return None
    transform = json.loads((hidden / REDRAW_FILE).read_text())["transform"]
    hidden_ids = redraw_hidden_inputs(hidden / "inputs", data_dir, transform=transform)
    _make_read_only(data_dir)
    return hidden_ids


# --------------------------------------------------------------------------------------------
# build


SECRET_BYTES = 32


def _draw_seed(secret: bytes, draw: int) -> np.random.SeedSequence:
    """Draw ``draw``'s seed: the bundle's secret, told apart per draw by NumPy's spawn key."""
    return np.random.SeedSequence(int.from_bytes(secret, "big"), spawn_key=(draw,))


def _grading_inputs(assignment: Assignment, secret: bytes, draws: Path) -> list[dict]:
    """Write ``draws/<k>/inputs/`` for every draw of the pool; returns each draw's inputs."""
    pool: list[dict] = []
    module = None
    if assignment.grading_inputs:
        path = assignment.config_dir / assignment.grading_inputs
        spec = importlib.util.spec_from_file_location(f"_kit_inputs_{assignment.name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    for draw in range(assignment.input_pool):
        target = draws / str(draw) / "inputs"
        target.mkdir(parents=True)
        inputs = {}
        if module is not None:
            rng = np.random.default_rng(_draw_seed(secret, draw))
            inputs = {k: np.asarray(v) for k, v in module.make_inputs(rng).items()}
        for name, value in inputs.items():
            np.save(target / f"{name}.npy", value, allow_pickle=False)
        pool.append(inputs)
    return pool


def _hidden_data(assignment: Assignment, target: Path) -> None:
    """Write the bundle's hidden set into ``target``: ``inputs/`` untransformed, ``labels/``,
    and ``redraw.json`` naming the transform that every run's copy gets (``_run_in``)."""
    if not assignment.hidden_data:
        return
    from helpers.data.hidden import prepare_hidden_split

    spec = dict(assignment.hidden_data)
    dataset = spec.pop("dataset")
    # A seed the config does not give is drawn from secrets and written nowhere, so the subset
    # (limit) cannot be reproduced from public files.
    spec.setdefault("seed", secrets.randbits(64))
    limit = spec.pop("limit", 0) or None
    if "root" in spec:  # relative to the kit's root, like every other path in the config
        spec["root"] = assignment.root / spec["root"]
    # The bundle keeps the images clean: each run noises its own copy from them (noise added
    # to noised images would pile up). transform_seed no longer applies: every run draws one.
    transform = spec.pop("transform", "none")
    spec.pop("transform_seed", None)
    prepare_hidden_split(dataset, target / "inputs", target / "labels", limit=limit, **spec)
    (target / REDRAW_FILE).write_text(json.dumps({"transform": transform}))


def _records_by_cell(executed: nbformat.NotebookNode) -> dict[str, list[str]]:
    """Which record names each graded cell announced (see ``autograder.record``)."""
    found: dict[str, list[str]] = {}
    for cell in executed.cells:
        gid = kit_grade_id(cell)
        for out in cell.get("outputs", []):
            data = out.get("data", {}) if isinstance(out, dict) else {}
            if RECORD_MIMETYPE in data and gid:
                found.setdefault(gid, []).append(data[RECORD_MIMETYPE]["name"])
    return found


def _read_rules(records: Folder) -> dict[str, Expected]:
    """The tolerances ``record()`` wrote into ``index.jsonl`` (read through the verified handle)."""
    rules = {}
    if records.exists("index.jsonl"):
        index = records.read_bytes("index.jsonl", MAX_INDEX_BYTES).decode("utf-8")
        for line in index.splitlines():
            entry = json.loads(line)
            rules[entry["name"]] = Expected(entry["name"], entry["rtol"], entry["atol"])
    return rules


def build(assignment: Assignment, *, device: str = "cpu", isolate: bool | None = None) -> dict:
    """Make the private bundle: copy the notebooks, draw the pool of inputs and make the hidden
    set, run the source solution once per draw and keep its records as that draw's expected
    results.

    Returns:
        A summary: the tests with their points and records, the pool size, and the source's
        performance (from the first draw).

    Raises:
        BuildError: a test cell of the source fails, records nothing, records different names
            in different draws, or records something that is not evidence (a single boolean, a
            constant, a copy of an input; see :mod:`autograder.evidence`).
    """
    bundle = bundle_dir(assignment)
    if bundle.exists():
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True)
    bundle.chmod(0o700)
    for kind, folder in (("source", assignment.source_dir), ("release", assignment.release_dir)):
        (bundle / kind).mkdir()
        for name in assignment.notebooks:
            if not (folder / name).is_file():
                raise BuildError(f"{folder / name} is missing. Expected it for {kind}.")
            shutil.copy2(folder / name, bundle / kind / name)
    secret = secrets.token_bytes(SECRET_BYTES)
    fd = os.open(bundle / "secret", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    pool = _grading_inputs(assignment, secret, bundle / "draws")
    _hidden_data(assignment, bundle / "hidden")
    reference = assignment.config_dir / "reference"
    if reference.is_dir():
        shutil.copytree(reference, bundle / "reference")

    manifest = BundleManifest(assignment.name, input_pool=assignment.input_pool)
    private = _private_dir("kit-build-")
    runs = contextlib.ExitStack()  # each run's work folder goes, whatever happens
    try:
        for name in assignment.notebooks:
            source = nbformat.read(bundle / "source" / name, as_version=4)
            # grade_id -> record names, rules and values per draw
            names_by_draw: list[dict[str, list[str]]] = []
            rules: dict[str, Expected] = {}
            values: dict[str, list[np.ndarray]] = {}
            for draw in range(assignment.input_pool):
                draw_dir = bundle / "draws" / str(draw)
                run, _ = run_notebook(
                    assignment, bundle, name, source, bundle / "reference",
                    device=device, isolate=isolate, private=private,
                    grading_inputs=draw_dir / "inputs",
                )  # fmt: skip
                runs.callback(run.discard)
                if run.records is None:
                    raise BuildError(
                        f"{run.records_dir} is not the folder the grader made; not read."
                    )
                _fail_on_broken_tests(assignment, source, run, draw)
                announced = _records_by_cell(run.executed)
                names = {gid: list(dict.fromkeys(announced.get(gid, []))) for gid in
                         (grade_id(c) for c in source.cells if is_autograded_test(c))}  # fmt: skip
                names_by_draw.append(names)
                rules.update({n: r for n, r in _read_rules(run.records).items()
                              if n not in rules})  # fmt: skip
                (draw_dir / "expected").mkdir(exist_ok=True)
                for record_name in (n for cell_names in names.values() for n in cell_names):
                    record = f"{record_name}.npy"
                    data = run.records.read_bytes(record, MAX_RECORD_BYTES)  # no link followed
                    (draw_dir / "expected" / record).write_bytes(data)
                    values.setdefault(record_name, []).append(load_npy_bytes(data, record_name))
                if draw == 0:
                    for band in assignment.performance:
                        outcome, value = score_performance(
                            band, run.outputs or run.output_dir, bundle / "hidden" / "labels",
                            "visible", run.hidden_ids,
                        )  # fmt: skip
                        manifest.performance[band.name] = PerformanceEntry(
                            value, outcome.score, band.max_score, outcome.output
                        )
                runs.close()
            problems, fixes = [], []
            for cell in source.cells:
                if not is_autograded_test(cell):
                    continue
                gid = grade_id(cell)
                names = names_by_draw[0][gid]
                if any(d[gid] != names for d in names_by_draw[1:]):
                    problems.append(
                        f"{gid}: records different names in different input draws "
                        f"({', '.join(sorted({n for d in names_by_draw for n in d[gid]}))}). "
                        "Record the same names whatever the inputs."
                    )
                    continue
                for record_name in names:
                    rule = rules[record_name]
                    refused = check_evidence(
                        gid, record_name, values[record_name], pool,
                        rtol=rule.rtol, atol=rule.atol,
                    )  # fmt: skip
                    if refused is not None:
                        problems.append(f"{gid}: record '{record_name}' {refused.reason}.")
                        fixes += [refused.fix] if refused.fix not in fixes else []
                manifest.tests[gid] = TestEntry(
                    notebook=name,
                    points=float(cell.metadata[NBGRADER_KEY].get("points", 0)),
                    hidden=HIDDEN_MARK in cell.source,
                    records=tuple(rules[n] for n in names),
                )
            if problems:
                raise BuildError(
                    f"Some records of {assignment.name} are no evidence of the student's work; "
                    "the grader would accept them from a blank notebook:\n  "
                    + "\n  ".join(problems)
                    + "".join(f"\nTo fix: {fix}" for fix in fixes)
                )
    finally:
        runs.close()
        shutil.rmtree(private, ignore_errors=True)
    write_manifest(bundle, manifest)
    return manifest.to_dict()


def _fail_on_broken_tests(
    assignment: Assignment, source: nbformat.NotebookNode, run: NotebookRun, draw: int
) -> None:
    """Raise BuildError when a test cell of the source fails or records nothing on ``draw``."""
    announced = _records_by_cell(run.executed)
    problems = []
    for cell in source.cells:
        if not is_autograded_test(cell):
            continue
        gid = grade_id(cell)
        if gid in run.not_run or gid in run.errors:
            problems.append(f"{gid}: {run.not_run.get(gid) or run.errors.get(gid)}")
        elif not announced.get(gid):
            problems.append(
                f"{gid}: records nothing. Every autograded test must record() at least "
                "one value; records are the evidence the grader trusts."
            )
    if problems:
        raise BuildError(
            f"The source solution of {assignment.name} fails its own tests (input draw {draw}):"
            "\n  " + "\n  ".join(problems)
        )


# --------------------------------------------------------------------------------------------
# grade


def write_submission(
    assignment: Assignment, folder: Path, notebooks_from: Path, *, reference_files: bool
) -> Path:
    """Make a submission folder from the assignment's own notebooks (``source_dir`` for the
    solution, ``release_dir`` for the blank one) and, with ``reference_files``, the files of
    ``assignments/<a>/reference/`` that ``[assignment] files`` names (e.g. trained weights)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in assignment.notebooks:
        shutil.copy2(notebooks_from / name, folder / name)
    reference = assignment.config_dir / "reference"
    if reference_files:
        for name in assignment.files:
            if (reference / name).is_file():
                shutil.copy2(reference / name, folder / name)
    return folder


def _redact(run: NotebookRun, bundle: Path, notebook_name: str) -> Redactor:
    """Remove hidden-test lines from everything of ``run`` that reaches the student: the
    executed notebook's outputs (the feedback page), failure messages and notices."""
    source = nbformat.read(bundle / "source" / notebook_name, as_version=4)
    release = nbformat.read(bundle / "release" / notebook_name, as_version=4)
    redactor = Redactor.from_notebooks(source, release)
    redactor.notebook(run.executed)
    run.errors = {gid: redactor.text(m) for gid, m in run.errors.items()}
    run.not_run = {gid: redactor.text(m) for gid, m in run.not_run.items()}
    run.notices = [redactor.text(n) for n in run.notices]
    return redactor


@dataclass
class Graded:
    """One submission's results: the Gradescope object and where the feedback went
    (``unrendered``: the pages that say why the notebook could not be shown)."""

    results: dict
    feedback: list[Path] = field(default_factory=list)
    unrendered: dict[Path, str] = field(default_factory=dict)


def grade(
    assignment: Assignment,
    submission: Path,
    *,
    device: str = "auto",
    isolate: bool | None = None,
    feedback_dir: Path | None = None,
    results_path: Path | None = None,
) -> Graded:
    """Grade ``submission`` (a folder or a notebook) against the assignment's bundle.

    With ``results_path``, ``results.json`` is written there (atomically) before any feedback
    page is made: the feedback is optional work, rendered in a child process with its own limits
    (``autograder.feedback``). ``autograder.guard.grade_to_file`` wraps this so that a failure
    still leaves a results file.
    """
    from autograder.explain import performance_hint
    from autograder.feedback import feedback_notebook, write_feedback_page
    from autograder.report import results_json, write_atomic

    started = time.monotonic()
    bundle = bundle_dir(assignment)
    if not (bundle / MANIFEST_FILE).is_file():
        raise BuildError(
            f"No grader bundle for {assignment.name} at {bundle}. "
            f"Run `python -m autograder build {assignment.name}` first."
        )
    manifest = read_manifest(bundle)
    if manifest.input_pool is None:
        raise BuildError(
            f"The grader bundle for {assignment.name} at {bundle} was built by an older version "
            "of the kit (one input set, no draws). "
            f"Run `python -m autograder build {assignment.name}` again."
        )
    if (bundle / "hidden" / "inputs").is_dir() and not (bundle / "hidden" / REDRAW_FILE).is_file():
        raise BuildError(
            f"The grader bundle for {assignment.name} at {bundle} was built by an older version "
            "of the kit (one hidden set, the same ids and noise for every submission). "
            f"Run `python -m autograder build {assignment.name}` again."
        )
    expected = {gid: list(test.records) for gid, test in manifest.tests.items()}
    # One draw of the pool per submission, chosen here so the kernel cannot predict it; the
    # kernel gets only that draw's inputs and never sees the expected results.
    draw_dir = bundle / "draws" / str(secrets.randbelow(manifest.input_pool))
    device = resolve_device(device)
    submission = Path(submission)
    files_dir = submission if submission.is_dir() else submission.parent

    outcomes: list[TestOutcome] = []
    notices: list[str] = []
    leaderboard: list[dict] = []
    to_render: list[tuple[Path, nbformat.NotebookNode]] = []
    graded = Graded({})
    private = _private_dir("kit-grade-")
    runs = contextlib.ExitStack()  # each run's work folder goes, whatever happens
    try:
        for name in assignment.notebooks:
            first_outcome = len(outcomes)  # this notebook's outcomes go on its feedback page
            ids = {gid for gid, t in manifest.tests.items() if t.notebook == name}
            intake = read_submission(submission, name, ids)
            run, repairs = run_notebook(
                assignment, bundle, name, intake.notebook, files_dir,
                device=device, isolate=isolate, private=private,
                grading_inputs=draw_dir / "inputs",
            )  # fmt: skip
            runs.callback(run.discard)
            redactor = _redact(run, bundle, name)  # before anything is scored or shown
            notices += [redactor.text(n) for n in intake.notes + repairs] + run.notices
            for gid, test in manifest.tests.items():
                if test.notebook != name:
                    continue
                visibility = assignment.hidden_tests_visibility if test.hidden else "visible"
                outcome = score_test_cell(
                    gid, test.points, error=run.errors.get(gid),
                    not_run=run.not_run.get(gid), expected=expected[gid],
                    actual_dir=run.records or run.records_dir, expected_dir=draw_dir / "expected",
                    visibility=visibility,
                )  # fmt: skip
                outcomes.append(outcome)
            for band in assignment.performance:
                outcome, value = score_performance(
                    band, run.outputs or run.output_dir, bundle / "hidden" / "labels",
                    assignment.performance_visibility, run.hidden_ids,
                )  # fmt: skip
                if outcome.score == 0 and (hint := performance_hint(
                    run.executed, set(manifest.tests), band.predictions, assignment.files,
                )):  # fmt: skip
                    outcome.output += f"\n{hint}"
                outcomes.append(outcome)
                if band.leaderboard and value is not None:
                    leaderboard.append({"name": band.leaderboard, "value": round(value, 4)})
            if feedback_dir is not None:
                # Bounded now (a small copy, linear in what it keeps), rendered after results.
                release = nbformat.read(bundle / "release" / name, as_version=4)
                release_sources = {grade_id(c): c.source for c in release.cells if grade_id(c)}
                hidden = {gid for gid, t in manifest.tests.items() if t.hidden}
                page = Path(feedback_dir) / f"{Path(name).stem}.html"
                work = run.workdir  # the grader's folders, named for the student
                named = {str(run.output_dir): "<OUTPUT_DIR>", str(work / DATA): "<DATA_DIR>",
                         str(work / STUDENT): "<your submission folder>",
                         str(work.parent): "<grading folder>",
                         str(private): "<grading folder>"}  # fmt: skip
                to_render.append((page, feedback_notebook(
                    run.executed, release_sources, hidden, results=outcomes[first_outcome:],
                    anchors={band.name: band.predictions for band in assignment.performance},
                    grader_paths=named,
                )))  # fmt: skip
            runs.close()
        graded.results = results_json(
            outcomes, notices=notices, execution_time=time.monotonic() - started,
            leaderboard=leaderboard,
        )  # fmt: skip
        if results_path is not None:
            write_atomic(results_path, graded.results)
        for page, nb in to_render:
            try:
                outcome = write_feedback_page(nb, page, work_dir=private)
            except Exception as error:  # optional work: results.json is written and stays
                graded.unrendered[page] = f"failed ({type(error).__name__}: {error})"
                continue
            graded.feedback.append(outcome.path)
            if not outcome.rendered:
                graded.unrendered[outcome.path] = outcome.reason
    finally:
        runs.close()
        shutil.rmtree(private, ignore_errors=True)
    return graded
