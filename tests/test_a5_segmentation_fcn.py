"""a5_segmentation_fcn's own checks: 5 test cells worth 9 points, the hidden inputs hold the
cases the tests are about, the reference script runs the notebook's own cells, the reference
weights hold only the trained parts and load into the notebook's class, and (slow) the graded
source records every test and scores full marks on a hidden set. What every assignment must pass
(lint, the release in sync and leak-free, seeded inputs, verify) is in test_assignments.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest
from notebook_files import module_from_path as _module

from autograder.config import load_assignment

ROOT = Path(__file__).resolve().parents[1]
NAME = "a5_segmentation_fcn"
CONFIG_DIR = ROOT / "assignments" / NAME
SOURCE = ROOT / "source" / NAME / f"{NAME}.ipynb"
WEIGHTS = CONFIG_DIR / "reference" / "segmentation_net.pt"


def _cells() -> dict[str, str]:
    """{grade id: source} of the source notebook's code cells."""
    cells = nbformat.read(SOURCE, as_version=4).cells
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in cells if c.cell_type == "code"}


def test_five_test_cells_worth_nine_points():
    """Are a5's autograded points what its handout promises: 5 test cells, 9 points?"""
    cells = nbformat.read(SOURCE, as_version=4).cells
    tests = [c for c in cells if c.cell_type == "code" and c.metadata["nbgrader"]["grade"]]
    assert len(tests) == 5 and sum(c.metadata["nbgrader"]["points"] for c in tests) == 9


def test_hidden_inputs_hold_the_cases_the_tests_are_about():
    """In every draw: a class absent from both confusion masks (its IoU must come out NaN), one
    only in the truth (IoU 0), ignored pixels in the truth and the loss masks, odd network
    input sizes of at least 33, and an upsampling size other than the input's."""
    make_inputs = _module(CONFIG_DIR / "grading_inputs.py", "a5_inputs").make_inputs
    for seed in range(200):
        x = make_inputs(np.random.default_rng(seed))
        classes = int(x["cm_classes"])
        predicted, target = x["cm_predicted"], x["cm_target"]
        present = set(np.unique(predicted)) | set(np.unique(target[target != 255]))
        assert len(set(range(classes)) - present) == 1, seed
        assert set(np.unique(target[target != 255])) - set(np.unique(predicted)), seed
        assert (target == 255).any() and (x["loss_masks"] == 255).any(), seed
        sizes = x["odd_sizes"]
        assert (sizes % 2 == 1).all() and (sizes >= 33).all(), seed
        assert tuple(x["upsample_size"]) != x["upsample_scores"].shape[-2:], seed


def test_the_reference_script_runs_cells_the_notebook_has():
    """Does every cell train_reference.py runs exist, so its weights come from the solution?"""
    script = _module(CONFIG_DIR / "reference" / "train_reference.py", "a5_train_reference")
    assert set(script.CELLS) <= set(_cells())


def test_reference_weights_hold_the_trained_parts_only():
    """Is segmentation_net.pt small, in half precision, with only the head, skip and layer4
    tensors (the frozen backbone comes from the kit's weights), on the kit's backbone?"""
    import torch

    saved = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    assert saved["backbone"] == "kit"
    parts = {name.split(".")[0] for name in saved["state"]}
    assert parts <= {"head", "skip", "layer4"}, parts
    floats = [t for t in saved["state"].values() if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float16 for t in floats)
    assert WEIGHTS.stat().st_size < 20 * 2**20


def _run_notebook(path: Path, cwd: Path, env: dict[str, str], **parameters):
    import papermill

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return papermill.execute_notebook(
            str(path), str(cwd / "executed.ipynb"), parameters=parameters, cwd=str(cwd),
            kernel_name="python3", progress_bar=False,
        )  # fmt: skip
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.slow
def test_graded_source_records_and_scores_full_marks(tmp_path):
    """Graded with the reference weights on a hidden set from a seed of its own, does the source
    run every cell, record every test and write score maps that reach full marks on both bands?"""
    import shutil

    from autograder.score import score_performance
    from helpers.data.hidden import prepare_hidden_split
    from helpers.data.synthetic import make_synthetic_voc

    make_inputs = _module(CONFIG_DIR / "grading_inputs.py", "a5_inputs").make_inputs
    inputs_dir, records, work = tmp_path / "inputs", tmp_path / "records", tmp_path / "work"
    for folder in (inputs_dir, records, work):
        folder.mkdir()
    for name, array in make_inputs(np.random.default_rng(0)).items():
        np.save(inputs_dir / f"{name}.npy", array, allow_pickle=False)
    tree = make_synthetic_voc(tmp_path / "tree", train=0, val=0, test=100, size=128, seed=97531)
    prepare_hidden_split("synthetic", tmp_path / "hidden", tmp_path / "labels", root=tree,
                         task="segmentation", superclasses=True, seed=3)  # fmt: skip
    shutil.copy(WEIGHTS, work / "segmentation_net.pt")
    env = {"KIT_GRADING": "1", "KIT_GRADING_INPUTS": str(inputs_dir),
           "KIT_RECORD_DIR": str(records), "MPLBACKEND": "Agg"}  # fmt: skip
    executed = _run_notebook(SOURCE, work, env, GRADING=True, DEVICE="cpu",
                             DATA_DIR=str(tmp_path / "hidden"),
                             OUTPUT_DIR=str(work / "outputs"))  # fmt: skip
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]  # fmt: skip
    assert errors == []
    names = [json.loads(line)["name"]
             for line in (records / "index.jsonl").read_text().splitlines()]  # fmt: skip
    assert len(set(names)) == 9, names
    for band in load_assignment(NAME, ROOT).performance:
        outcome, _ = score_performance(band, work / "outputs", tmp_path / "labels", "visible")
        assert outcome.score == band.max_score, outcome.output


def test_a5s_bands_are_scored_as_masks():
    """Are both of a5's bands segmentation metrics on the notebook's score folder?"""
    from autograder.score_masks import SEGMENTATION_METRICS

    bands = load_assignment(NAME, ROOT).performance
    assert {b.metric for b in bands} == set(SEGMENTATION_METRICS)
    assert all(b.predictions == "segmentation_scores" for b in bands)


# --- answers that call the library instead (round-2 attack, tests/test_attacks_round2.py) -------
# Each returns what the kit (or scikit-learn) computes; before the hidden test ran the answers
# inside helpers.grading.withheld("confusion matrix"), they recorded the reference's values.
CONFUSION_WRAPPERS = {
    "kit": """from helpers.metrics import confusion_matrix as _kit_cm, iou_from_confusion_matrix
def confusion_matrix(predicted, target, num_classes, ignore_index=255):
    return _kit_cm(predicted, target, num_classes, ignore_index=ignore_index).numpy()
def iou_per_class(confmat):
    return iou_from_confusion_matrix(confmat).numpy()
""",
    "kit-evaluator": """from helpers.metrics import SegmentationEvaluator as _Evaluator
def confusion_matrix(predicted, target, num_classes, ignore_index=255):
    scores = F.one_hot(torch.as_tensor(predicted).long(), num_classes).permute(0, 3, 1, 2)
    evaluator = _Evaluator(num_classes, ignore_index=ignore_index)
    evaluator.update(scores.float(), torch.as_tensor(target).long())
    return evaluator.confusion_matrix.numpy()
def iou_per_class(confmat):
    confmat = np.asarray(confmat, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.diag(confmat) / (confmat.sum(0) + confmat.sum(1) - np.diag(confmat))
""",
    "sklearn": """def confusion_matrix(predicted, target, num_classes, ignore_index=255):
    from sklearn.metrics import confusion_matrix as _cm
    t, p = np.ravel(target), np.ravel(predicted)
    return _cm(t[t != ignore_index], p[t != ignore_index], labels=list(range(num_classes)))
def iou_per_class(confmat):
    confmat = np.asarray(confmat, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.diag(confmat) / (confmat.sum(0) + confmat.sum(1) - np.diag(confmat))
""",
}


def _run_confusion_test(answer: str | None) -> tuple[Exception | None, dict]:
    """Run the setup, ``answer`` (the source's confusion_iou cell when None) and the
    test_confusion_iou cell in this process as the grader's kernel would, on a public draw:
    (the exception raised or None, {record name: array})."""
    from autograder.record import to_recordable

    inputs = _module(CONFIG_DIR / "grading_inputs.py", "a5_inputs").make_inputs(
        np.random.default_rng(7)
    )
    records: dict = {}
    namespace: dict = {"GRADING": True, "DEVICE": "cpu", "DATA_DIR": None, "SEED": 0}
    cells = _cells()
    try:
        for grade_id, source in [("setup", None), ("confusion_iou", answer),
                                 ("test_confusion_iou", None)]:  # fmt: skip
            exec(compile(source or cells[grade_id], f"{NAME}:{grade_id}", "exec"), namespace)
            if grade_id == "setup":
                namespace.update(
                    record=lambda name, value, **_: records.update({name: to_recordable(value)}),
                    grading_input=lambda name: inputs[name].copy(),
                )
    except Exception as error:  # a failing cell is the outcome measured here
        return error, records
    return None, records


@pytest.mark.parametrize("wrapper", list(CONFUSION_WRAPPERS))
def test_confusion_answers_that_call_the_library_earn_nothing(wrapper):
    """Does a confusion_matrix / iou_per_class that calls the kit's or scikit-learn's (passing
    the visible tests) fail the hidden test with a message that says why, recording nothing?"""
    if wrapper == "sklearn":
        pytest.importorskip("sklearn.metrics")
    error, records = _run_confusion_test(CONFUSION_WRAPPERS[wrapper])
    assert isinstance(error, RuntimeError), repr(error)
    assert "compute the confusion matrix yourself" in str(error), str(error)
    assert not records


def test_the_reference_confusion_answer_records_inside_the_withheld_block():
    error, records = _run_confusion_test(None)
    assert error is None, repr(error)
    assert set(records) == {"confusion_matrix", "iou_per_class"}
