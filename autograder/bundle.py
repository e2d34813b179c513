"""Build an assignment's private bundle: ``build``.

One job: copy the notebooks, draw the pool of inputs and make the hidden set
(:mod:`autograder.hidden_set`), run the source solution once per draw (``run_notebook``, the
same run a submission gets), keep what it recorded as that draw's expected results, refuse a
record that is not evidence (:mod:`autograder.evidence`), and write the typed manifest
(:mod:`autograder.manifest`).

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
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from pathlib import Path

import nbformat
import numpy as np

from autograder.assemble import is_autograded_test
from autograder.config import Assignment
from autograder.contract import (
    BUNDLE_DIR_ENV,
    HIDDEN_MARK,
    NBGRADER_KEY,
    RECORD_MIMETYPE,
    grade_id,
    kit_grade_id,
)
from autograder.evidence import check_evidence
from autograder.hidden_set import SECRET_BYTES, draw_grading_inputs, prepare_hidden_data
from autograder.manifest import (
    BundleManifest,
    PerformanceEntry,
    TestEntry,
    write_manifest,
)
from autograder.safe_fs import Folder
from autograder.score import (
    MAX_RECORD_BYTES,
    Expected,
    load_npy_bytes,
    record_points_problem,
    score_performance,
)
from autograder.workfolder import MAX_INDEX_BYTES, NotebookRun, _private_dir, run_notebook

__all__ = ["BuildError", "build", "bundle_dir"]


class BuildError(RuntimeError):
    """The source solution does not pass its own tests, or the bundle cannot be made."""


def bundle_dir(assignment: Assignment) -> Path:
    """Where ``build`` keeps the assignment's private bundle (``$KIT_BUNDLE_DIR/<a>`` if set)."""
    base = os.environ.get(BUNDLE_DIR_ENV) or assignment.root / "build" / "autograder"
    return Path(base) / assignment.name


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
        performance (from the first draw), and ``notes``: notices for the instructor (a
        private seed that was missing).

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
    pool = draw_grading_inputs(assignment, secret, bundle / "draws")
    notes = prepare_hidden_data(assignment, bundle / "hidden")
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
                points = float(cell.metadata[NBGRADER_KEY].get("points", 0))
                split = cell.metadata.get("kit", {}).get("record_points")
                if split is not None and (bad := record_points_problem(gid, points, names, split)):
                    raise BuildError(f"A test cell of {assignment.name} cannot split its "
                                     f"points:\n  {bad}")  # fmt: skip
                manifest.tests[gid] = TestEntry(
                    notebook=name,
                    points=points,
                    hidden=HIDDEN_MARK in cell.source,
                    records=tuple(rules[n] for n in names),
                    record_points=split,  # partial credit per record, when the cell declares it
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
    return {**manifest.to_dict(), "notes": notes}


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
