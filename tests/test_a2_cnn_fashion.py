"""a2_cnn_fashion's own checks: the ImprovedNet cell is the reference class, 8 tests worth 11
points, the hidden inputs suit the functions, the reference weights score, and (slow) both the
blank release and the graded source run end to end. What every assignment must pass (lint, the
release in sync and leak-free, seeded inputs, verify) is in test_assignments.py."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from notebook_files import code_cells as _code_cells
from notebook_files import module_from_path as _module
from torch import nn

from autograder.config import load_assignment

ROOT = Path(__file__).resolve().parents[1]
NAME = "a2_cnn_fashion"
CONFIG_DIR = ROOT / "assignments" / NAME
SOURCE = ROOT / "source" / NAME / f"{NAME}.ipynb"
RELEASE = ROOT / "release" / NAME / f"{NAME}.ipynb"
WEIGHTS = CONFIG_DIR / "reference" / "improved_net.pt"


def _improved_net_class() -> type[nn.Module]:
    return _module(CONFIG_DIR / "reference" / "improved_net.py", "a2_improved_net").ImprovedNet


def test_improved_net_cell_is_the_reference_class():
    """Is the source's `improved_net` answer cell the class of reference/improved_net.py, whose
    trained weights are committed (so the notebook's class loads them)?"""
    text = (CONFIG_DIR / "reference" / "improved_net.py").read_text()
    reference = text[text.index("class ImprovedNet") :].strip("\n")
    (cell,) = [c for c in _code_cells(SOURCE)
               if c.metadata["nbgrader"]["grade_id"] == "improved_net"]  # fmt: skip
    assert cell.source == reference, "Edit both copies of ImprovedNet together."


def test_eight_test_cells_worth_eleven_points():
    """Are a2's points what its handout promises: 8 test cells, 11 points (lint checks the
    rest of the grading contract for every assignment)?"""
    tests = [c for c in _code_cells(SOURCE) if c.metadata["nbgrader"]["grade"]]
    assert len(tests) == 8 and sum(c.metadata["nbgrader"]["points"] for c in tests) == 11


def _run_cells(cells: list[tuple[str, str | None]], *, warnings_as_errors: bool = False):
    """Run source cells in this process as the kernel would under the grader (on the public
    draw of the hidden inputs): ``cells`` lists ``(grade_id, replacement source or None)``.
    Returns ``(error, records)``: the exception raised (None when every cell ran) and what the
    cells recorded, ``{name: array}``."""
    import warnings

    import matplotlib

    from autograder.record import to_recordable

    matplotlib.use("Agg")
    inputs = _module(CONFIG_DIR / "grading_inputs.py", "a2_inputs").make_inputs(
        np.random.default_rng(2024)
    )
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in _code_cells(SOURCE)}
    records: dict[str, np.ndarray] = {}

    def record(name, value, **_tolerances):
        records[name] = to_recordable(value)

    namespace: dict = {"GRADING": True, "DEVICE": "cpu", "SEED": 0, "DATA_DIR": None}
    try:
        with warnings.catch_warnings():
            if warnings_as_errors:
                warnings.simplefilter("error")
            for grade_id, replacement in cells:
                source = by_id[grade_id].source if replacement is None else replacement
                exec(compile(source, f"{NAME}:{grade_id}", "exec"), namespace)
                if grade_id == "setup":  # what the grader's kernel records with
                    namespace.update(record=record, grading_input=lambda name: inputs[name].copy())
    except Exception as error:  # a failing cell is the outcome measured here
        return error, records
    return None, records


def _same_records(got: dict, expected: dict) -> bool:
    return got.keys() == expected.keys() and all(
        got[k].shape == expected[k].shape and np.allclose(got[k], expected[k], equal_nan=True)
        for k in expected
    )


def test_init_weights_test_cell_writes_no_warning():
    """Does test_init_weights run on the reference solution without any warning (nbgrader's
    Validate counts any stderr output of a graded cell as a failure)?"""
    error, _ = _run_cells([("setup", None), ("init_weights", None), ("test_init_weights", None)],
                          warnings_as_errors=True)  # fmt: skip
    assert error is None, repr(error)


def test_five_layer_cnn_visible_tests_write_no_warning():
    """Does test_five_layer_cnn's visible part (what Validate runs in the release) run without a
    warning? torch warns on stderr for an even kernel with padding="same", and Validate counts
    any stderr output of a graded cell as a failure."""
    (cell,) = [c for c in _code_cells(SOURCE)
               if c.metadata["nbgrader"]["grade_id"] == "test_five_layer_cnn"]  # fmt: skip
    visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
    error, _ = _run_cells([("setup", None), ("five_layer_cnn", None),
                           ("test_five_layer_cnn", visible)], warnings_as_errors=True)  # fmt: skip
    assert error is None, repr(error)


@pytest.mark.parametrize(
    ("answer_id", "test_id", "planted", "needs_data"),
    [
        ("class_accuracies", "test_class_accuracies",
         "from helpers.metrics import per_class_accuracy\n"
         "def class_accuracies(predicted, labels, num_classes):\n"
         "    return per_class_accuracy(torch.as_tensor(predicted), torch.as_tensor(labels),\n"
         "                              num_classes).numpy().astype(float)\n",
         False),
        ("to_three_class_labels", "test_to_three_class_labels",
         "from helpers.data import THREE_CLASS_OF\n"
         "def to_three_class_labels(labels):\n    return THREE_CLASS_OF[np.asarray(labels)]\n",
         True),
    ],
)  # fmt: skip
def test_an_answer_that_calls_the_kits_own_helper_loses_the_points(
    answer_id, test_id, planted, needs_data
):
    """Does an exercise answered by importing the kit's ready-made helper (which the set-up cell
    once imported, and the student wheel once held) lose the test cell's points?"""
    before = [("setup", None), *([("data", None)] if needs_data else [])]
    reference_error, expected = _run_cells([*before, (answer_id, None), (test_id, None)])
    assert reference_error is None, repr(reference_error)
    error, got = _run_cells([*before, (answer_id, planted), (test_id, None)])
    assert error is not None or not _same_records(got, expected)


def _reference(grade_id: str, name: str):
    """The function ``name`` as the source's answer cell ``grade_id`` defines it (the instructor's
    solution: the kit students install has no version of it)."""
    (cell,) = [c for c in _code_cells(SOURCE) if c.metadata["nbgrader"]["grade_id"] == grade_id]
    namespace = {"np": np}
    exec(compile(cell.source, f"{NAME}:{grade_id}", "exec"), namespace)
    return namespace[name]


def test_reference_three_class_labels_follow_the_course_table():
    """Does the source's to_three_class_labels map the 10 classes as part 3 says?"""
    from helpers.data import CLASSES

    three = _reference("to_three_class_labels", "to_three_class_labels")(np.arange(10))
    assert three.dtype == np.int64
    assert dict(zip(CLASSES, three.tolist(), strict=True)) == {
        "T-shirt/top": 0, "Trouser": 0, "Pullover": 0, "Dress": 0, "Coat": 0, "Shirt": 0,
        "Sandal": 1, "Sneaker": 1, "Ankle boot": 1, "Bag": 2,
    }  # fmt: skip


def test_reference_scramble_moves_whole_tiles_the_same_way_for_every_image():
    """Does the source's scramble_images, with part 3's tile order, put every 7x7 tile of an
    image at one fixed other place, the same for every image?"""
    from helpers.data import fashion_mnist

    scramble_images = _reference("scramble_images", "scramble_images")
    images = fashion_mnist("test").images[:50]
    scrambled = scramble_images(images, np.random.default_rng(0).permutation(16))
    assert scrambled.shape == images.shape and scrambled.dtype == np.uint8

    def tiles(img):
        corners = [(r, c) for r in range(0, 28, 7) for c in range(0, 28, 7)]
        return [img[r : r + 7, c : c + 7].tobytes() for r, c in corners]

    first_places = None
    for original, mixed in zip(images, scrambled, strict=True):
        if len(set(tiles(original))) < 16:
            continue  # repeated (e.g. all-black) tiles have no single place
        places = [tiles(original).index(t) for t in tiles(mixed)]
        assert sorted(places) == list(range(16))
        first_places = first_places or places
        assert places == first_places
    assert first_places is not None and first_places != list(range(16))


#: The study network as a2 first had it: four convolutions and one linear layer (the course's
#: "5-layer CNN" has five convolutional layers).
FOUR_CONV_CNN = """\
class FiveLayerCNN(nn.Module):
    def __init__(self, num_classes=10, *, pooling="max", kernel_size=3, channels="constant",
                 width=16):
        super().__init__()
        if pooling not in ("max", "avg", "gap"):
            raise ValueError(f"pooling must be 'max', 'avg' or 'gap', not {pooling!r}.")
        if channels not in ("constant", "double"):
            raise ValueError(f"channels must be 'constant' or 'double', not {channels!r}.")
        c = [width] * 4 if channels == "constant" else [width * 2**i for i in range(4)]
        pool = nn.AvgPool2d if pooling == "avg" else nn.MaxPool2d
        layers, c_in = [], 1
        for i, c_out in enumerate(c):
            layers += [nn.Conv2d(c_in, c_out, kernel_size, padding="same"), nn.ReLU()]
            if i in (1, 3):
                layers.append(pool(2))
            c_in = c_out
        if pooling == "gap":
            layers.append(nn.AdaptiveAvgPool2d(1))
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c[3] if pooling == "gap" else c[3] * 7 * 7, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))
"""


def test_a_four_convolution_study_network_loses_the_points():
    """Does the study network a2 once asked for (4 conv + 1 linear, which its tests passed) now
    fail test_five_layer_cnn, and the five-convolution reference pass it?"""
    cells = [("setup", None), ("five_layer_cnn", None), ("test_five_layer_cnn", None)]
    error, expected = _run_cells(cells)
    assert error is None, repr(error)
    assert len(expected) == 18  # 3 poolings x 3 kernel sizes x 2 channel plans
    error, got = _run_cells([cells[0], ("five_layer_cnn", FOUR_CONV_CNN), cells[2]])
    assert error is not None or not _same_records(got, expected)


def test_written_answers_are_in_the_notebook_with_points_and_pending_in_the_results():
    """Does every report question of a2 have a written-answer cell with points and a rubric
    that fits them (25 points in all), listed in results.json as pending manual grading with its
    maximum, and does the report template no longer ask the questions?"""
    from autograder.report import results_json
    from autograder.rubric import pending_outcomes, read_answers, rubric_problems

    answers = read_answers(SOURCE.parent, [SOURCE.name])
    assert [(a.grade_id, a.points) for a in answers] == [
        ("q1_basenet_fit", 2), ("q2_basenet_confusions", 2), ("q3_ablation", 3),
        ("q4_hardest_classes", 2), ("q5_pooling", 3), ("q6_initialisation", 3),
        ("q7_kernels_channels", 3), ("q8_cnn_features", 2), ("q9_three_classes", 2),
        ("q10_scrambled", 3),
    ]  # fmt: skip
    assert [p for a in answers for p in rubric_problems(a)] == []
    results = results_json(pending_outcomes(answers), notices=[], execution_time=1.0)
    pending = [t for t in results["tests"] if "written answer" in t["name"]]
    assert pending[-1]["name"] == "q10_scrambled (written answer, 3 points, graded by hand)"
    assert "Written answers, graded by hand: 25 more points, pending" in results["output"]
    template = (CONFIG_DIR / "report_template.md").read_text()
    assert "?" not in template, "the report template asks a question the notebook asks"


def test_grading_inputs_are_what_the_docstrings_promise():
    """Are the hidden tests' inputs valid for a2's functions (lint checks that each exists)?"""
    make_inputs = _module(CONFIG_DIR / "grading_inputs.py", "a2_grading_inputs").make_inputs
    inputs = make_inputs(np.random.default_rng(0))
    size, kernel, stride, padding, dilation = inputs["conv_params"].T
    assert ((size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1 >= 1).all()
    assert inputs["step_images"].dtype == np.float32 and inputs["step_labels"].dtype == np.int64
    assert inputs["scramble_images"].dtype == np.uint8
    assert sorted(inputs["scramble_order7"]) == list(range(16))
    # The NaN case of class_accuracies: one of the 8 classes, drawn, never occurs.
    assert len(np.unique(inputs["class_labels"])) == 7 and inputs["class_labels"].max() <= 7


def test_assignment_toml():
    """Does assignment.toml load, name the weights file and score accuracy from 70% to 90% on
    the hidden set with noise added?"""
    assignment = load_assignment(NAME, ROOT)
    assert assignment.files == ("improved_net.pt",)
    (band,) = assignment.performance
    assert (band.predictions, band.metric, band.zero_at, band.full_at) == (
        "improved_predictions.csv",
        "accuracy",
        0.70,
        0.90,
    )
    assert assignment.hidden_data == {
        "dataset": "fashion-mnist",
        "split": "test",
        "transform": "noise",
    }
    assert assignment.limits.total_timeout_s <= 600  # Gradescope's default budget


def test_reference_weights_earn_full_marks():
    """Do the reference weights load into the notebook's class and reach the full-marks accuracy
    of assignment.toml, and the 92.5 % the course asks of the reference, on the test set?"""
    from helpers.data import InMemoryLoader, fashion_mnist
    from helpers.metrics import accuracy
    from helpers.train import predict

    assert WEIGHTS.stat().st_size < 1_000_000
    model = _improved_net_class()()
    model.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    test = fashion_mnist("test")
    loader = InMemoryLoader(
        test.images, test.labels, batch_size=1000, device="cpu", mean=(0.286,), std=(0.353,)
    )
    (band,) = load_assignment(NAME, ROOT).performance
    reached = accuracy(predict(model, loader, device="cpu"), test.labels)
    assert reached >= max(band.full_at, 0.925), reached


def _run_notebook(notebook: Path, cwd: Path, env: dict, **parameters) -> nbformat.NotebookNode:
    """Execute with every cell tagged raises-exception (as the grader does) and return it."""
    import papermill

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata.setdefault("tags", []).append("raises-exception")
    tagged = cwd / notebook.name
    nbformat.write(nb, tagged)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        papermill.execute_notebook(
            str(tagged), str(cwd / "executed.ipynb"), parameters=parameters, cwd=str(cwd),
            kernel_name="python3", progress_bar=False,
        )  # fmt: skip
    except papermill.PapermillExecutionError:
        pass  # it ran every cell (raises-exception) and reports the last error; read them all
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nbformat.read(cwd / "executed.ipynb", as_version=4)


def _errors(nb) -> dict[str, str]:
    return {
        c.metadata["nbgrader"]["grade_id"]: o["ename"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o["output_type"] == "error"
    }


@pytest.mark.slow
def test_blank_release_raises_only_not_implemented(tmp_path):
    """Does the blank release run top to bottom (not grading) with only NotImplementedErrors?"""
    executed = _run_notebook(RELEASE, tmp_path, {"MPLBACKEND": "Agg"}, DEVICE="cpu")
    errors = _errors(executed)
    assert errors, "the blank release should stop at the cells left to the student"
    assert set(errors.values()) == {"NotImplementedError"}, errors
    assert "train_base_net" not in errors  # the given BaseNet training ran


@pytest.mark.slow
def test_graded_source_records_and_predicts(tmp_path):
    """Graded with the reference weights, does the source pass every cell, record every test and
    write predictions that reach the full-marks accuracy on the hidden split?"""
    from helpers.data.hidden import prepare_hidden_split, read_hidden_labels

    make_inputs = _module(CONFIG_DIR / "grading_inputs.py", "a2_grading_inputs").make_inputs
    inputs_dir, records, work = tmp_path / "inputs", tmp_path / "records", tmp_path / "work"
    for folder in (inputs_dir, records, work):
        folder.mkdir()
    for name, array in make_inputs(np.random.default_rng(0)).items():
        np.save(inputs_dir / f"{name}.npy", array, allow_pickle=False)
    prepare_hidden_split("fashion-mnist", tmp_path / "hidden", tmp_path / "labels", seed=7)
    shutil.copy(WEIGHTS, work / "improved_net.pt")
    env = {
        "KIT_GRADING": "1",
        "KIT_GRADING_INPUTS": str(inputs_dir),
        "KIT_RECORD_DIR": str(records),
        "MPLBACKEND": "Agg",
    }
    executed = _run_notebook(
        SOURCE, work, env, GRADING=True, DEVICE="cpu", DATA_DIR=str(tmp_path / "hidden"),
        OUTPUT_DIR=str(work / "outputs"),
    )  # fmt: skip
    assert _errors(executed) == {}
    index = (records / "index.jsonl").read_text().splitlines()
    names = [json.loads(line)["name"] for line in index]
    assert len(names) == len(set(names)) and len(names) >= 25
    ids, labels = read_hidden_labels(tmp_path / "labels")
    with open(work / "outputs" / "improved_predictions.csv", newline="") as f:
        predicted = {row["id"]: int(row["label"]) for row in csv.DictReader(f)}
    assert sorted(predicted) == sorted(ids)
    (band,) = load_assignment(NAME, ROOT).performance
    hits = [predicted[i] == label for i, label in zip(ids, labels, strict=True)]
    assert np.mean(hits) >= band.full_at


def test_scramble_orders_always_move_a_tile():
    """Is no drawn tile order the identity? (Scrambling by it copies the input, which build
    refuses as no evidence: a permutation of 4 tiles was the identity in 1 draw of 24, so about
    1 build in 8 failed.)"""
    make_inputs = _module(CONFIG_DIR / "grading_inputs.py", "a2_grading_inputs").make_inputs
    for seed in range(300):
        inputs = make_inputs(np.random.default_rng(seed))
        for key, n in (("scramble_order7", 16), ("scramble_order14", 4)):
            assert not np.array_equal(inputs[key], np.arange(n)), (seed, key)


@pytest.mark.slow
def test_validate_passes_a_solved_notebook_and_touches_no_log_or_weights(tmp_path):
    """Does nbgrader's Validate, pressed on a solved notebook beside its trained weights and
    finished ablation and study logs, say Success (no warning in a graded cell) and leave every
    file exactly as it was?"""
    from test_a1_mlp_numpy import run_nbgrader_validate, solved_release

    from helpers.experiments import ExperimentLog
    from helpers.history import History

    notebook = solved_release(RELEASE, SOURCE, tmp_path / RELEASE.name)
    shutil.copy(WEIGHTS, tmp_path / "improved_net.pt")
    for log_name in ("experiments_ablation.jsonl", "experiments_five_layer.jsonl"):
        log = ExperimentLog(tmp_path / log_name)
        for run in ("final", "no dropout"):
            history = History()
            for epoch in (1, 2):
                history.append(epoch=epoch, train_loss=1.0 / epoch, val_loss=1.1 / epoch,
                               train_accuracy=0.8, val_accuracy=0.8 + 0.01 * epoch)  # fmt: skip
            log.record(history, run=run, config={"dropout": 0.0 if "no" in run else 0.3},
                       monitor="val_accuracy")  # fmt: skip
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()
              if p.suffix in (".pt", ".jsonl")}  # fmt: skip
    output = run_nbgrader_validate(notebook)
    assert "Success!" in output, output[-3000:]
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()
             if p.suffix in (".pt", ".jsonl")}  # fmt: skip
    assert after == before, f"Validate changed {sorted(set(after) ^ set(before))} or their bytes"


def test_five_layer_cnn_takes_2x2_kernels_and_the_hidden_test_checks_them():
    """Does the reference FiveLayerCNN keep 28x28 with 2x2 kernels (the seed course studies 2, 3
    and 5), and does a solution that pads with kernel_size // 2 (wrong for an even size) lose
    test_five_layer_cnn's points?"""
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in _code_cells(SOURCE)}
    namespace: dict = {}
    exec(compile(by_id["five_layer_cnn"].source, "five_layer_cnn", "exec"),
         {"nn": nn, "torch": torch, **namespace}, namespace)  # fmt: skip
    features = namespace["FiveLayerCNN"](kernel_size=2, width=4).features
    assert tuple(features(torch.zeros(1, 1, 28, 28)).shape) == (1, 4 * 3 * 3)
    assert '"kernel_size": 2' in by_id["five_layer_study"].source, "the study runs 2x2 kernels"
    planted = by_id["five_layer_cnn"].source
    assert 'padding="same"' in planted
    planted = planted.replace('padding="same"', "padding=kernel_size // 2")
    reference_error, expected = _run_cells(
        [("setup", None), ("five_layer_cnn", None), ("test_five_layer_cnn", None)]
    )
    assert reference_error is None, repr(reference_error)
    error, got = _run_cells(
        [("setup", None), ("five_layer_cnn", planted), ("test_five_layer_cnn", None)]
    )
    assert error is not None or not _same_records(got, expected)


def _run_improved_net_review(*, grading: bool) -> tuple[str, list]:
    """Run the cells after ImprovedNet is loaded (its accuracy, then its mistakes) on a small
    validation and test set, with a linear stand-in for the trained network: what they print
    and what they display."""
    import contextlib
    import io

    import matplotlib

    from helpers.data import CLASSES, LabelledImages

    matplotlib.use("Agg")
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in _code_cells(SOURCE)}
    rng = np.random.default_rng(0)
    shown: list = []
    namespace: dict = {"GRADING": grading, "DEVICE": "cpu", "SEED": 0, "DATA_DIR": None,
                       "display": shown.append}  # fmt: skip
    exec(compile(by_id["setup"].source, f"{NAME}:setup", "exec"), namespace)
    exec(compile(by_id["class_accuracies"].source, f"{NAME}:class_accuracies", "exec"), namespace)
    # A validation set of 40 images and a test set of 30: which one a cell reads shows in N.
    namespace["val_set"] = LabelledImages(
        rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), rng.integers(0, 10, 40), CLASSES
    )
    namespace["test_set"] = LabelledImages(
        rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), rng.integers(0, 10, 30), CLASSES
    )
    namespace["make_loader"] = lambda data: namespace["InMemoryLoader"](
        data.images, data.labels, batch_size=16, device="cpu", mean=(0.286,), std=(0.353,)
    )
    torch.manual_seed(0)
    namespace["improved"] = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for grade_id in ("improved_net_val_accuracy", "improved_net_mistakes"):
            exec(compile(by_id[grade_id].source, f"{NAME}:{grade_id}", "exec"), namespace)
    return printed.getvalue(), shown


def test_improved_net_is_reviewed_on_the_validation_split_with_probabilities():
    """Does the notebook report ImprovedNet's accuracy on the validation split (the hidden
    test set is what is graded), and show its mistakes there in the prediction browser with
    softmax probabilities (rows summing to 1) rather than raw logits?"""
    from helpers.widgets import PredictionBrowser

    printed, shown = _run_improved_net_review(grading=False)
    assert "ImprovedNet validation accuracy:" in printed, printed
    assert "test accuracy" not in printed, printed
    browsers = [widget for widget in shown if isinstance(widget, PredictionBrowser)]
    assert len(browsers) == 1, shown
    (browser,) = browsers
    assert len(browser.labels) == 40  # the validation split, not the 30 test images
    probabilities = browser._predictions
    assert probabilities.shape == (40, 10) and (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert browser.show.options == ("all", "correct", "mistakes")


def test_improved_net_review_shows_nothing_under_the_grader():
    """Under the grader (GRADING), do the accuracy and mistakes cells print and show nothing?"""
    printed, shown = _run_improved_net_review(grading=True)
    assert printed == "" and shown == []
