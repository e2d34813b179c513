"""a1_mlp_numpy's own checks: the source notebook's solution passes its gradient checks and
trains, the reference weights reach 89 % test accuracy, and (slow) the blank release and the
graded source run end to end. What every assignment must pass (lint, the release in sync and
leak-free, seeded inputs, verify) is in test_assignments.py."""

from __future__ import annotations

import csv
import shutil
import sys
from functools import cache
from pathlib import Path

import nbformat
import numpy as np
import pytest
from notebook_files import module_from_path as _module

from autograder.config import load_assignment
from helpers.data import fashion_mnist

ROOT = Path(__file__).resolve().parents[1]
NAME = "a1_mlp_numpy"
CONFIG_DIR = ROOT / "assignments" / NAME
SOURCE = ROOT / "source" / NAME / f"{NAME}.ipynb"
RELEASE = ROOT / "release" / NAME / f"{NAME}.ipynb"
WEIGHTS = CONFIG_DIR / "reference" / "mlp_weights.npz"
# The source cells that only define functions (or run fast checks): what the tests execute.
DEFINITION_CELLS = (
    "setup", "gradient_check_tools", "flatten_normalize", "affine", "relu_leaky", "tanh_gelu",
    "activations", "dropout", "softmax", "init_mlp", "mlp", "mlp_loss", "sgd_momentum",
    "early_stopping", "train_mlp",
)  # fmt: skip


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


@cache
def _solution() -> dict:
    """The source notebook's definitions, executed: the reference solution students mirror."""
    import matplotlib

    matplotlib.use("Agg")
    namespace = {"GRADING": True, "SEED": 0}
    cells = {_grade_id(c): c for c in nbformat.read(SOURCE, as_version=4).cells if _grade_id(c)}
    for grade_id in DEFINITION_CELLS:
        exec(compile(cells[grade_id].source, f"{NAME}:{grade_id}", "exec"), namespace)
    return namespace


def _grade_cell_in_process(
    test_id: str, planted: dict[str, tuple[str, str]] | None = None, *, visible_only: bool = False
):
    """Run the source's definitions (with each planted ``{grade_id: (old, new)}`` replacement)
    and then test cell ``test_id`` in this process, as the kernel would under the grader on the
    public draw of the hidden inputs (``visible_only``: what a student's own run executes).
    Returns ``(error, records)``: the exception the cell
    raised (None when it ran) and what it recorded, ``{name: array}``."""
    import matplotlib

    from autograder.record import to_recordable

    matplotlib.use("Agg")
    inputs = _module(CONFIG_DIR / "grading_inputs.py", "a1_inputs").make_inputs(
        np.random.default_rng(2024)
    )
    cells = {_grade_id(c): c for c in nbformat.read(SOURCE, as_version=4).cells if _grade_id(c)}
    namespace: dict = {"GRADING": True, "SEED": 0}
    for grade_id in DEFINITION_CELLS:
        source = cells[grade_id].source
        old, new = (planted or {}).get(grade_id, ("", ""))
        assert old in source, f"the planted bug's text is not in {grade_id}"
        source = source.replace(old, new) if old else source
        exec(compile(source, f"{NAME}:{grade_id}", "exec"), namespace)
    records: dict[str, np.ndarray] = {}

    def record(name, value, **_tolerances):
        if isinstance(value, dict):
            for key, item in value.items():
                records[f"{name}.{key}"] = to_recordable(item)
        else:
            records[name] = to_recordable(value)

    namespace.update(record=record, grading_input=lambda name: inputs[name].copy())
    try:
        test = cells[test_id].source
        test = test.split("### BEGIN HIDDEN TESTS")[0] if visible_only else test
        exec(compile(test, f"{NAME}:{test_id}", "exec"), namespace)
    except Exception as error:  # a failing test cell is the outcome measured here
        return error, records
    return None, records


def _loses_points(test_id: str, planted: dict[str, tuple[str, str]]) -> bool:
    """Would the planted-bug solution lose ``test_id``'s points: the cell raises, or a record
    differs from the reference solution's on the same inputs?"""
    reference_error, expected = _grade_cell_in_process(test_id)
    assert reference_error is None, f"the reference solution fails {test_id}: {reference_error!r}"
    error, got = _grade_cell_in_process(test_id, planted)
    if error is not None or got.keys() != expected.keys():
        return True
    return any(
        got[k].shape != expected[k].shape or not np.allclose(got[k], expected[k], equal_nan=True)
        for k in expected
    )


def test_mlp_forward_that_ignores_dropout_loses_the_cells_points():
    """Does an mlp_forward that never calls dropout_forward lose test_mlp's points?"""
    planted = {"mlp": ("h, dropout_cache = dropout_forward(h, dropout, train, rng)",
                       "dropout_cache = None")}  # fmt: skip
    assert _loses_points("test_mlp", planted)


def test_train_mlp_returning_the_last_parameters_fails_the_visible_test():
    """Does a train_mlp that returns the last epoch's parameters (not the best) fail the visible
    part of test_train_mlp, so that a student sees it before submitting?"""
    planted = {"train_mlp": ("return best_params, history", "return params, history")}
    error, _ = _grade_cell_in_process("test_train_mlp", planted, visible_only=True)
    assert isinstance(error, AssertionError) and "lowest validation loss" in str(error)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "gelu"])
def test_activation_gradients_pass_the_numerical_check(activation):
    """Does each activation's backward pass match the numerical gradient below 1e-7?"""
    nb = _solution()
    forward, backward = nb["ACTIVATIONS"][activation]
    rng = np.random.default_rng(0)
    x, dout = rng.normal(size=(5, 6)) + 0.01, rng.normal(size=(5, 6))
    dx = backward(dout, forward(x)[1])
    numeric = nb["numerical_gradient_array"](lambda: forward(x)[0], x, dout)
    assert nb["rel_error"](dx, numeric) < 1e-7


def test_layer_and_loss_gradients_pass_the_numerical_check():
    """Do the affine layer, dropout (fixed mask) and the softmax loss pass the 1e-7 check?"""
    nb = _solution()
    rng = np.random.default_rng(1)
    x, w, b, dout = (rng.normal(size=s) for s in ((4, 6), (6, 3), (3,), (4, 3)))
    dx, dw, db = nb["affine_backward"](dout, nb["affine_forward"](x, w, b)[1])
    for grad, var in ((dx, x), (dw, w), (db, b)):
        numeric = nb["numerical_gradient_array"](
            lambda: nb["affine_forward"](x, w, b)[0], var, dout
        )
        assert nb["rel_error"](grad, numeric) < 1e-7

    def dropped():
        return nb["dropout_forward"](x, 0.5, True, np.random.default_rng(2))[0]

    mask = nb["dropout_forward"](x, 0.5, True, np.random.default_rng(2))[1]
    dx = nb["dropout_backward"](np.ones_like(x), mask)
    assert nb["rel_error"](dx, nb["numerical_gradient_array"](dropped, x, np.ones_like(x))) < 1e-7

    scores, y = rng.normal(size=(5, 10)), rng.integers(0, 10, size=5)
    _, dscores = nb["softmax_cross_entropy"](scores, y)
    numeric = nb["numerical_gradient"](lambda: nb["softmax_cross_entropy"](scores, y)[0], scores)
    assert nb["rel_error"](dscores, numeric) < 1e-7


def test_whole_network_gradient_passes_the_numerical_check():
    """Does mlp_loss's gradient (GELU, dropout, 3 layers) match the numerical one below 1e-5?"""
    nb = _solution()
    params = nb["init_mlp"](5, (6, 4), 3, np.random.default_rng(0), dtype=np.float64)
    X, y = np.random.default_rng(1).normal(size=(4, 5)), np.array([0, 1, 2, 1])

    def loss():
        return nb["mlp_loss"](params, X, y, "gelu", 0.3, True, np.random.default_rng(3))

    _, grads = loss()
    for key in params:
        numeric = nb["numerical_gradient"](lambda: loss()[0], params[key])
        assert nb["rel_error"](grads[key], numeric) < 1e-5, key


def test_softmax_cross_entropy_is_stable_for_huge_scores():
    """Do scores of 1e4 give the exact finite loss instead of inf or nan?"""
    loss, dscores = _solution()["softmax_cross_entropy"](np.array([[1e4, 0.0, -1e4]]), [1])
    assert loss == pytest.approx(1e4) and np.all(np.isfinite(dscores))


def test_train_mlp_stops_early_and_returns_the_best_epoch():
    """Does training stop `patience` epochs after the lowest validation loss, returning its
    weights?"""
    nb = _solution()
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=1.0, size=(3, 8))  # overlapping blobs: the val loss turns up
    y = rng.integers(0, 3, size=300)
    X = (centres[y] + rng.normal(size=(300, 8))).astype(np.float32)
    params = nb["init_mlp"](8, (64,), 3, np.random.default_rng(0))
    best, history = nb["train_mlp"](
        params, X[:100], y[:100], X[100:], y[100:], lr=0.1, batch_size=10, max_epochs=60,
        patience=3, verbose=False,
    )  # fmt: skip
    best_epoch = int(np.argmin(history["val_loss"])) + 1
    assert len(history) == best_epoch + 3 < 60, "stopped 3 epochs after the best one"
    loss = nb["evaluate"](best, X[100:], y[100:])[0]
    assert loss == pytest.approx(min(history["val_loss"]), rel=1e-5)


def test_assignment_toml_names_the_weights_and_the_band():
    """Does assignment.toml load, ask for the weights file and give full marks from 88 %?"""
    assignment = load_assignment(NAME, ROOT)
    assert assignment.files == ("mlp_weights.npz",)
    (band,) = assignment.performance
    assert band.predictions == "mlp_predictions.csv" and band.full_at == 0.88
    assert band.points(0.885) == band.max_score and band.points(0.70) == 0


def test_reference_weights_reach_89_percent_on_the_test_set():
    """Do the committed reference weights classify 89 % of the 10,000 test images correctly?"""
    nb = _solution()
    with np.load(WEIGHTS, allow_pickle=False) as saved:
        params = {k: saved[k] for k in saved.files if k[0] in "Wb" and k[1:].isdigit()}
        activation = str(saved["activation"])
        mean, std = saved["feature_mean"], saved["feature_std"]
    test = fashion_mnist("test")
    X = nb["normalize"](nb["flatten_images"](test.images), mean, std)
    accuracy = float(np.mean(nb["mlp_predict"](params, X, activation) == test.labels))
    assert accuracy >= 0.89, accuracy


def _tag_every_cell_raises_exception(path: Path) -> None:
    """What the grader does: every cell may raise and the run goes on."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            tags = cell.metadata.setdefault("tags", [])
            if "raises-exception" not in tags:
                tags.append("raises-exception")
    nbformat.write(notebook, path)


def _errors(path: Path) -> dict[str, str]:
    notebook = nbformat.read(path, as_version=4)
    return {
        _grade_id(cell): output["ename"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    }


@pytest.mark.slow
def test_blank_release_raises_only_not_implemented_errors(tmp_path):
    """Does the blank release run top to bottom with no error but the students' stubs'?"""
    import papermill

    notebook = tmp_path / RELEASE.name
    shutil.copy(RELEASE, notebook)
    _tag_every_cell_raises_exception(notebook)
    # Every cell runs (raises-exception); papermill then raises for the first error it finds
    # in the notebook it wrote, which is read below.
    with pytest.raises(papermill.PapermillExecutionError):
        papermill.execute_notebook(
            notebook, tmp_path / "out.ipynb", cwd=tmp_path, kernel_name="python3",
            progress_bar=False,
        )  # fmt: skip
    errors = _errors(tmp_path / "out.ipynb")
    assert errors, "the blank release should stop at the stubs"
    others = {cell: name for cell, name in errors.items() if name != "NotImplementedError"}
    assert others == {}, f"cells failing with other errors: {others}"
    assert not (tmp_path / "mlp_weights.npz").exists()


@pytest.mark.slow
def test_source_graded_with_the_reference_weights_writes_good_predictions(tmp_path, monkeypatch):
    """Under GRADING, does the source run all its tests and predict the hidden set >= 89 %?"""
    import papermill

    from helpers.data.hidden import prepare_hidden_split, read_hidden_labels

    inputs_dir, records = tmp_path / "grading_inputs", tmp_path / "records"
    inputs_dir.mkdir()
    records.mkdir()
    make_inputs = _module(CONFIG_DIR / "grading_inputs.py", "a1_grading_inputs").make_inputs
    for name, value in make_inputs(np.random.default_rng(0)).items():
        np.save(inputs_dir / f"{name}.npy", value, allow_pickle=False)
    prepare_hidden_split("fashion-mnist", tmp_path / "hidden", tmp_path / "labels", seed=3)
    monkeypatch.setenv("KIT_GRADING_INPUTS", str(inputs_dir))
    monkeypatch.setenv("KIT_RECORD_DIR", str(records))
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(WEIGHTS, work)
    papermill.execute_notebook(
        SOURCE, tmp_path / "out.ipynb", cwd=work, kernel_name="python3", progress_bar=False,
        parameters={"GRADING": True, "DATA_DIR": str(tmp_path / "hidden"),
                    "OUTPUT_DIR": str(tmp_path / "outputs")},
    )  # fmt: skip
    assert _errors(tmp_path / "out.ipynb") == {}
    assert len(list(records.glob("*.npy"))) >= 40
    ids, labels = read_hidden_labels(tmp_path / "labels")
    with open(tmp_path / "outputs" / "mlp_predictions.csv", newline="") as f:
        predicted = {row["id"]: int(row["label"]) for row in csv.DictReader(f)}
    accuracy = np.mean([predicted[i] == label for i, label in zip(ids, labels, strict=True)])
    assert accuracy >= 0.89, accuracy


def solved_release(release: Path, source: Path, target: Path) -> Path:
    """Write ``target``: the release notebook with every answer cell filled in from the source
    (its solution delimiters dropped), as a student who solved everything hands it in."""
    answers = {_grade_id(c): c.source for c in nbformat.read(source, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution")}  # fmt: skip
    notebook = nbformat.read(release, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            delimiters = ("### BEGIN SOLUTION", "### END SOLUTION")
            lines = answers[_grade_id(cell)].splitlines()
            cell.source = "\n".join(line for line in lines if line.strip() not in delimiters)
    nbformat.write(notebook, target)
    return target


def run_nbgrader_validate(notebook: Path) -> str:
    """Press Validate: run ``nbgrader validate`` (its default 30 s cell timeout) in the
    notebook's folder with this worktree's packages; returns its output."""
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    nbgrader = Path(sys.executable).with_name("nbgrader")
    done = subprocess.run([str(nbgrader), "validate", notebook.name], cwd=notebook.parent,
                          env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    return done.stdout + done.stderr


@pytest.mark.slow
def test_validate_passes_a_solved_notebook_and_touches_no_log_or_weights(tmp_path):
    """Does nbgrader's Validate, pressed on a solved notebook beside its trained weights and a
    finished study log, say Success and leave both files exactly as they were?"""
    from helpers.experiments import ExperimentLog
    from helpers.history import History

    notebook = solved_release(RELEASE, SOURCE, tmp_path / RELEASE.name)
    shutil.copy(WEIGHTS, tmp_path / "mlp_weights.npz")
    log = ExperimentLog(tmp_path / "hparam_study.jsonl")
    for run in ("baseline", "lr 0.01"):
        history = History()
        for epoch in (1, 2):
            history.append(epoch=epoch, train_loss=1.0 / epoch, val_loss=1.1 / epoch,
                           val_accuracy=0.8 + 0.01 * epoch, lr=0.05, seconds=1.0)  # fmt: skip
        log.record(history, run=run, config={"lr": 0.05 if run == "baseline" else 0.01})
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()
              if p.suffix in (".npz", ".jsonl")}  # fmt: skip
    output = run_nbgrader_validate(notebook)
    assert "Success!" in output, output[-3000:]
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()
             if p.suffix in (".npz", ".jsonl")}  # fmt: skip
    assert after == before, f"Validate changed {sorted(set(after.items()) ^ set(before.items()))}"


#: The issue's attack on the blank release: swallow every exception (no error output, so failing
#: test cells once counted as run), then forge the records a kernel can predict: booleans,
#: constants, copies of the inputs. Before records had to be evidence it scored 7 of 41.
FORGE_AND_SWALLOW = """\
def _quiet(shell, etype, value, tb, tb_offset=None):
    return None

get_ipython().set_custom_exc((BaseException,), _quiet)
from autograder.record import grading_input, record
record("flatten_images.dtype", "float32")
record("dropout.kept_fraction", 0.6)
record("dropout.same_dtype", "float64")
for _name in ("dropout.kept_scaled", "dropout.backward_uses_mask", "train_mlp.params_unchanged"):
    record(_name, True)
for _lr in ("0.05", "0.2"):
    for _check in ("stops_after_patience", "returns_best", "lr_decays", "learns",
                   "accuracy_above_90"):
        record(f"train_mlp.lr{_lr}.{_check}", True)
record("dropout.eval_out", grading_input("dropout_x"))
record("dropout.eval_backward", grading_input("dropout_dout"))
"""


@pytest.mark.slow
def test_a_blank_release_that_hides_errors_and_forges_records_gets_zero(tmp_path, monkeypatch):
    """Does the blank release, errors swallowed and predictable records forged, get zero?"""
    from autograder import pipeline

    monkeypatch.setenv("KIT_BUNDLE_DIR", str(tmp_path / "bundles"))
    assignment = load_assignment(NAME, ROOT)
    pipeline.build(assignment, device="cpu")
    blank = pipeline.write_submission(
        assignment, tmp_path / "blank", assignment.release_dir, reference_files=False
    )
    nb = nbformat.read(blank / RELEASE.name, as_version=4)
    first = next(c for c in nb.cells if _grade_id(c) == "flatten_normalize")
    first.source = FORGE_AND_SWALLOW + first.source
    nbformat.write(nb, blank / RELEASE.name)
    results = pipeline.grade(assignment, blank, device="cpu").results
    scored = {t["name"]: t["score"] for t in results["tests"] if t["score"] > 0}
    assert scored == {} and results["score"] == 0


@pytest.mark.slow
def test_graded_planted_bugs_lose_their_cells_points(tmp_path, monkeypatch):
    """Graded for real (bundle, sandboxed kernel, scoring): does a solution whose mlp_forward
    skips dropout and whose train_mlp returns the last epoch's parameters lose exactly test_mlp's
    and test_train_mlp's points, and keep the others'?"""
    from autograder import pipeline

    monkeypatch.setenv("KIT_BUNDLE_DIR", str(tmp_path / "bundles"))
    assignment = load_assignment(NAME, ROOT)
    pipeline.build(assignment, device="cpu")
    folder = tmp_path / "planted"
    folder.mkdir()
    solved_release(RELEASE, SOURCE, folder / RELEASE.name)
    shutil.copy(WEIGHTS, folder / "mlp_weights.npz")
    nb = nbformat.read(folder / RELEASE.name, as_version=4)
    for cell in nb.cells:
        for grade_id, old, new in (
            ("mlp", "h, dropout_cache = dropout_forward(h, dropout, train, rng)",
             "dropout_cache = None"),
            ("train_mlp", "return best_params, history", "return params, history"),
        ):  # fmt: skip
            if _grade_id(cell) == grade_id:
                assert old in cell.source
                cell.source = cell.source.replace(old, new)
    nbformat.write(nb, folder / RELEASE.name)
    results = pipeline.grade(assignment, folder, device="cpu").results
    lost = {t["name"] for t in results["tests"] if t["score"] < t["max_score"]}
    assert lost == {"test_mlp", "test_train_mlp"}, results["tests"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
