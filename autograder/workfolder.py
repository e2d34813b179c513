"""Run one notebook through assemble and execute in a fresh work folder: ``run_notebook``.

One job: make the work folder (the kernel's files, DATA_DIR's copy of the hidden inputs, the
grading inputs), run the assembled notebook in it, and hand back what scoring needs
(:class:`NotebookRun`: the executed notebook, each test cell's outcome, verified handles of the
records and outputs). ``build`` and ``grade`` both call it, so the expected results and the
graded ones come from identical conditions. (About 400 lines: the work folder's layout, its
capped file system and the copies into it belong together; its clean-up is NotebookRun's.)

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
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.assemble import assemble
from autograder.config import Assignment
from autograder.contract import (
    GRADING_ENV,
    HIDE_ENV,
    INPUTS_DIR_ENV,
    RECORD_DIR_ENV,
    grading_parameters,
    kit_grade_id,
)
from autograder.hidden_set import PRIVATE_DIR_ENV, PRIVATE_FILE, REDRAW_FILE
from autograder.safe_fs import Folder, UnsafeFileError, remove_tree

__all__ = ["NotebookRun", "describe_failure", "hidden_inputs_for_run", "run_notebook"]

#: The folders of a work folder (see the module docstring).
STUDENT, OUTPUTS, RECORDS, DATA, INPUTS = "student", "outputs", "records", "data", "inputs"
#: record()'s index of names and tolerances; a few hundred bytes per record.
MAX_INDEX_BYTES = 4 * 1024 * 1024


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


def _private_settings(root: Path) -> list[Path]:
    """The seeds of the synthetic hidden trees (autograder.hidden_set), to keep from the kernel.

    ``$KIT_PRIVATE_DIR`` whole where it may be hidden (not where it holds what the kernel needs:
    the kit, the venv, a PYTHONPATH folder), and in any case every ``<a>/private.toml`` in it
    and in the kit's ``assignments/`` (already hidden): the sandbox hides the file a link
    names, which hiding the link's folder would leave readable.
    """
    found: list[Path] = []
    folders = [root / "assignments"]
    if os.environ.get(PRIVATE_DIR_ENV):
        folder = Path(os.environ[PRIVATE_DIR_ENV])
        folders.append(folder)
        if _may_hide(folder):
            found.append(folder)
    for folder in folders:
        found += [p for p in sorted(folder.glob(f"*/{PRIVATE_FILE}")) if _may_hide(p)]
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
    hidden_ids = hidden_inputs_for_run(bundle / "hidden", data_dir)
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
    # The seeds of the synthetic hidden trees, in the kit or in $KIT_PRIVATE_DIR.
    hide += _private_settings(root)
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


def hidden_inputs_for_run(hidden: Path, data_dir: Path) -> dict[str, str] | None:
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
