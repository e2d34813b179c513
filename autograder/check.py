"""``python -m autograder check <notebook>``: a student's own check before submitting.

It runs on the student's machine, without the grader's bundle: the release's own cells (visible
tests only) go through ``autograder.pipeline.run_notebook``, the function ``grade`` runs, with
``GRADING = True`` and the device ``grade`` would pick (``auto``). Where the assignment scores
prediction files, the kernel gets a small stand-in set of images from the dataset's training
split (the hidden set is the grader's), so the cell that writes predictions really runs.

"Ready to submit." (exit 0) only when nothing below is found; otherwise a list and exit 1:

- the notebook would not be accepted as is (its name, protected cells that were changed);
- a file ``[assignment] files`` names is missing or over the size limit;
- a visible test failed or did not run;
- any other cell raised an error (e.g. submitted weights that do not fit the network:
  :mod:`autograder.explain` says so in those words);
- a written answer still holds "YOUR ANSWER HERE", or a code answer is still the stub;
- a prediction file the grader scores was not written, or could not be read.

What it cannot check, and says so: the hidden tests and the score on the hidden test set.

The assignment is found without ``--root`` where a student has it: the ``kit/`` folder the
handout puts beside the notebook, else a kit checkout the notebook lies in
(:func:`candidate_roots`); when none names the notebook, a message says where it looked.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

import nbformat

from autograder.assemble import grade_id, is_autograded_test
from autograder.config import Assignment, ConfigError, load_assignment
from autograder.contract import NBGRADER_KEY
from autograder.explain import describe_error, raised_errors
from autograder.intake import read_submission

__all__ = [
    "HANDOUT_KIT",
    "candidate_roots",
    "check",
    "find_assignment",
    "search_kits",
    "unanswered",
]

#: nbgrader's placeholders in a released answer cell (its ``ClearSolutions`` defaults).
WRITTEN_PLACEHOLDER = "YOUR ANSWER HERE"
CODE_PLACEHOLDER = "YOUR CODE HERE"
CODE_STUB = "raise NotImplementedError"
#: Stand-in images the prediction cell runs on under ``check`` (enough to exercise it, quick).
STAND_IN_IMAGES = 100
NOT_CHECKED = (
    "Not checked here: the hidden tests (they run only when your notebook is graded) and the "
    "score on the hidden test set. Passing the visible tests is a good sign, not a promise."
)


#: The folder beside the notebook where a handout keeps what ``check`` reads (``assignment.toml``
#: and the untouched release); ``autograder.handout.CHECK_ROOT`` writes it (a test keeps the two
#: equal; not imported from there because that module pulls nbgrader in).
HANDOUT_KIT = "kit"


def candidate_roots(notebook: Path, root: Path | None = None) -> list[Path]:
    """Where a kit (a folder with ``assignments/<a>/assignment.toml``) may be, in the order
    looked: ``root`` alone when given; else what a student has first (``kit/`` beside the
    notebook, as the handout unpacks), then a kit checkout the notebook lies in (e.g.
    ``<kit>/release/<a>/``), the working folder (and its ``kit/``), and last the kit this code
    runs from (a checkout; installed from the wheel it is site-packages, which has none).

    Without ``root``, only kits the student can trust are listed (see :func:`search_kits`)."""
    return search_kits(notebook, root)[0]


def search_kits(notebook: Path, root: Path | None = None) -> tuple[list[Path], list[str]]:
    """:func:`candidate_roots`, and a sentence for each folder left out and why.

    check runs a kit's locked cells (restored from its ``release/``) in the student's kernel,
    as the student: a kit someone else could write is someone else's code. So the walk up
    from the notebook stops at the first folder that every user may write (``/tmp``) or that
    belongs to another user (neither the student nor root): anyone could have put
    ``assignments/`` there. And a kit whose ``assignments/`` or ``release/`` belongs to another
    user, or that every user may write, is left out wherever it is. ``root`` (given by the
    student) and the kit this code runs from (whoever could change it already runs their
    code) are taken as they are.
    """
    if root is not None:
        return [Path(root)], []
    folder = Path(notebook).resolve().parent
    looked, skipped = [folder / HANDOUT_KIT, folder], []
    why = _not_yours(folder)
    if why:  # its own kit/ is still looked at (the student may have unpacked the handout here)
        skipped.append(f"the folders above {folder} (the notebook's folder: {why})")
    else:
        for parent in folder.parents:
            why = _not_yours(parent)
            if why:
                skipped.append(f"{parent} and the folders above it ({why})")
                break
            looked.append(parent)
    looked += [Path.cwd() / HANDOUT_KIT, Path.cwd()]
    trusted = []
    for kit in dict.fromkeys(looked):
        reasons = [f"{kit / part}: {why}" for part in ("assignments", "release")
                   if (why := _not_yours(kit / part))]  # fmt: skip
        if reasons:
            skipped.extend(reasons)
        else:
            trusted.append(kit)
    trusted.append(Path(__file__).resolve().parents[1])
    return list(dict.fromkeys(trusted)), skipped


def _not_yours(folder: Path) -> str | None:
    """Why another user could have put files in ``folder`` (None: only you or root could, or
    it does not exist). Owner and mode are read following links, as the walk will open it."""
    try:
        info = folder.stat()
    except OSError:
        return None
    if info.st_uid not in (os.getuid(), 0):
        return f"it belongs to {_user_name(info.st_uid)}, not to you"
    if info.st_mode & stat.S_IWOTH:
        return "every user of this machine may write in it"
    return None


def _user_name(uid: int) -> str:
    try:
        return f"the user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"the user with id {uid}"


def _assignments_in(kit: Path) -> tuple[list[Assignment], list[str]]:
    """The assignments under ``kit/assignments/``, and a sentence for each ``assignment.toml``
    there that cannot be read."""
    found, unreadable = [], []
    for config in sorted((kit / "assignments").glob("*/assignment.toml")):
        try:
            found.append(load_assignment(config.parent.name, kit))
        except (ConfigError, OSError) as error:
            unreadable.append(f"{config} could not be read ({error})")
    return found, unreadable


def find_assignment(notebook: Path, root: Path | None) -> Assignment | None:
    """The assignment that names this notebook's file, in the first of
    :func:`candidate_roots` that has one (None: none has)."""
    for kit in candidate_roots(notebook, root):
        for assignment in _assignments_in(kit)[0]:
            if Path(notebook).name in assignment.notebooks:
                return assignment
    return None


def _not_found(notebook: Path, root: Path | None) -> str:
    """Why no assignment was found for ``notebook``, where check looked, and what to do."""
    names, unreadable = set(), []
    kits, skipped = search_kits(notebook, root)
    for kit in kits:
        assignments, problems = _assignments_in(kit)
        names |= {n for a in assignments for n in a.notebooks}
        unreadable += problems
    if root is not None:
        where = f"{Path(root) / 'assignments'} (--root)"
    else:
        where = (f"{Path(notebook).resolve().parent / HANDOUT_KIT}/assignments/ (the handout's "
                 f"kit/ folder beside the notebook), a kit folder above the notebook, and "
                 f"{Path.cwd()}")  # fmt: skip
    known = (f" The assignments found there name these notebooks: {', '.join(sorted(names))}; "
             "keep the name your notebook had in the handout." if names else "")  # fmt: skip
    broken = (f" {'; '.join(unreadable)}: take that file again from the handout."
              if unreadable else "")  # fmt: skip
    # A kit left out is named: a student whose own kit was skipped sees why and what to do.
    passed_over = ""
    if skipped:
        passed_over = (" Not looked in, because someone else could have put an assignment there "
                       f"that check would run as you: {'; '.join(skipped)}.")  # fmt: skip
    return (
        f"Found no assignment whose notebook is named {Path(notebook).name}. check looked for "
        f"assignments/<assignment>/assignment.toml in {where}.{passed_over}{broken}{known} To "
        "fix it: keep the notebook in the handout folder, next to its kit/ folder, in a folder "
        "of your own, and run check there; or pass --root with the folder that holds "
        "assignments/."
    )


def unanswered(notebook: nbformat.NotebookNode) -> list[str]:
    """Answer cells still as released: a written answer holding "YOUR ANSWER HERE", or a code
    answer that still has "YOUR CODE HERE" and raises NotImplementedError."""
    found = []
    for cell in notebook.cells:
        nbg = cell.get("metadata", {}).get(NBGRADER_KEY, {})
        if not nbg.get("solution"):
            continue
        gid = nbg.get("grade_id", "?")
        if cell.cell_type == "markdown" and WRITTEN_PLACEHOLDER in cell.source:
            found.append(f"The written answer '{gid}' still says \"{WRITTEN_PLACEHOLDER}\". "
                         "Write your answer in that cell.")  # fmt: skip
        elif (
            cell.cell_type == "code"
            and CODE_PLACEHOLDER in cell.source
            and (CODE_STUB in cell.source)
        ):
            found.append(f"The answer cell '{gid}' is still the stub (it raises "
                         "NotImplementedError). Write the code it asks for.")  # fmt: skip
    return found


def _submitted_files(assignment: Assignment, folder: Path) -> list[str]:
    problems = []
    limit_mb = assignment.limits.max_submitted_file_mb
    for file in assignment.files:
        if not (folder / file).is_file():
            problems.append(f"{file} is missing: put it next to the notebook and submit it too.")
        elif (size := (folder / file).stat().st_size) > limit_mb * 2**20:
            problems.append(f"{file} is {size / 2**20:.0f} MB; the grader takes files up to "
                            f"{limit_mb} MB. Save a smaller model and submit that.")  # fmt: skip
    return problems


def _handout_bundle(assignment: Assignment, name: str, folder: Path) -> list[str]:
    """What ``run_notebook`` reads from a bundle, made from the handout alone: the release as
    both source and release (no hidden tests), and a stand-in image set from the training split
    when the assignment scores prediction files. Returns notes for the student."""
    for kind in ("source", "release"):
        (folder / kind).mkdir(parents=True)
        shutil.copy2(assignment.release_dir / name, folder / kind / name)
    if not (assignment.performance and assignment.hidden_data):
        return []
    from helpers.data.hidden import prepare_hidden_split

    spec = {k: v for k, v in assignment.hidden_data.items()
            if k in ("dataset", "root", "task", "difficult", "superclasses")}  # fmt: skip
    if "root" in spec:
        spec["root"] = assignment.root / spec["root"]
    try:
        if spec["dataset"] == "synthetic" and "root" not in spec:  # [hidden_data] generate
            from helpers.data.synthetic import synthetic_voc

            spec["root"] = synthetic_voc()  # the public tree: its train split stands in
        prepare_hidden_split(
            spec.pop("dataset"), folder / "hidden" / "inputs", folder / "hidden" / "labels",
            split="train", limit=STAND_IN_IMAGES, seed=secrets.randbits(32), **spec,
        )  # fmt: skip
    except Exception as error:  # missing data is the student's to fix, not a crash of check
        why = f"{type(error).__name__}: {error}"
        return [f"The training images to test your prediction cell on could not be read ({why}); "
                "the prediction cell was not checked."]  # fmt: skip
    return []


def _predictions(assignment: Assignment, run, labels: Path) -> list[str]:
    """A sentence for each prediction file that was not written or cannot be read."""
    from autograder.score import score_performance

    problems = []
    for band in assignment.performance:
        outcome, _ = score_performance(band, run.outputs or run.output_dir, labels, "visible")
        if outcome.score == 0 and not outcome.output.startswith(band.metric):
            problems.append(f"Prediction file: {outcome.output}")
    return problems


def check(notebook: Path, *, root: Path | None = None, device: str = "auto") -> int:
    """Print what the grader will think of ``notebook``; 0 when it is ready to submit."""
    from autograder import pipeline

    notebook = Path(notebook)
    assignment = find_assignment(notebook, root)
    if assignment is None:
        print(_not_found(notebook, root))
        return 1
    name = notebook.name
    intake = read_submission(notebook, name)
    problems = list(intake.notes)
    if intake.notebook is None:
        print("\n".join(problems))
        return 1
    problems += unanswered(intake.notebook)
    problems += _submitted_files(assignment, notebook.parent)
    device = pipeline.resolve_device(device)

    print(f"Running {name} as the grader will (GRADING = True, device {device}), with the "
          "visible tests only; this can take a while...")  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="kit-check-"))
    runs = contextlib.ExitStack()
    try:
        folder.chmod(0o700)
        bundle, private = folder / "handout", folder / "private"
        private.mkdir(mode=0o700)
        notes = _handout_bundle(assignment, name, bundle)
        run, repairs = pipeline.run_notebook(
            assignment, bundle, name, intake.notebook, notebook.parent,
            device=device, isolate=None, private=private,
        )  # fmt: skip
        runs.callback(run.discard)
        problems += repairs + notes
        tests = [grade_id(c) for c in run.executed.cells if is_autograded_test(c)]
        for gid in tests:
            if gid in run.not_run:
                print(f"  not run  {gid}: {run.not_run[gid]}")
                problems.append(f"The test '{gid}' did not run: {run.not_run[gid]}")
            elif gid in run.errors:
                why = run.errors[gid].removeprefix("The cell ").rstrip(": ")
                print(f"  FAILED   {gid}: {why}")
                problems.append(f"The visible test '{gid}' failed. Fix the code it tests.")
            else:
                print(f"  passed   {gid} (its visible checks; hidden tests run when graded)")
        problems += [describe_error(e, assignment.files)
                     for e in raised_errors(run.executed, set(tests))]  # fmt: skip
        if (bundle / "hidden" / "labels").is_dir():
            problems += _predictions(assignment, run, bundle / "hidden" / "labels")
        # The grader's own notes (e.g. "Grader: isolation is off") describe the grading
        # machine, not the student's work; files are reported above from the student's folder.
        problems += [
            n for n in run.notices
            if not n.startswith("Grader:") and "was not in the submission" not in n
        ]  # fmt: skip
    finally:
        runs.close()
        shutil.rmtree(folder, ignore_errors=True)
    problems = list(dict.fromkeys(problems))  # one line per problem, in the order found
    for line in problems:
        print(f"  - {line}")
    print(NOT_CHECKED)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        print(f"Not ready: fix the {count} above, then run check again.")
        return 1
    print("Ready to submit.")
    return 0
