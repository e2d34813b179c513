"""Scoring segmentation score maps: per-class AP and IoU against hidden masks, and every way a
hostile or broken score folder is refused with a plain message (autograder/score_masks.py)."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder.config import Performance
from autograder.score import score_performance
from helpers.data.hidden import prepare_hidden_split, read_hidden_inputs, read_hidden_masks
from helpers.predictions import save_segmentation_scores

ROOT = Path(__file__).resolve().parents[1]
FOLDER = "segmentation_scores"
CLASSES = 4  # background + the synthetic scenes' 3 superclasses


@pytest.fixture(scope="module")
def hidden(tmp_path_factory):
    """A small hidden segmentation set (synthetic, superclasses): (labels folder, ids, masks)."""
    from helpers.data.synthetic import make_synthetic_voc

    base = tmp_path_factory.mktemp("hidden")
    tree = make_synthetic_voc(base / "tree", train=0, val=0, test=10, size=64, seed=3)
    prepare_hidden_split("synthetic", base / "in", base / "lab", root=tree, task="segmentation",
                         superclasses=True, seed=1)  # fmt: skip
    ids, _ = read_hidden_inputs(base / "in")
    return base / "lab", ids, read_hidden_masks(base / "lab", ids)


def one_hot(mask: np.ndarray) -> np.ndarray:
    """float (C, H, W) probabilities that put all weight on the true class (background where
    the pixel is ignored)."""
    classes = np.where(mask == 255, 0, mask)
    return (classes[None] == np.arange(CLASSES)[:, None, None]).astype(np.float32)


def band(metric: str = "mean_iou", **kw) -> Performance:
    return Performance("segmentation", FOLDER, metric=metric, zero_at=0.3, full_at=0.6,
                       max_score=10, **kw)  # fmt: skip


def score(out: Path, labels: Path, metric: str = "mean_iou", hidden_ids=None):
    return score_performance(band(metric), out, labels, "visible", hidden_ids)


def test_perfect_scores_earn_full_marks_and_show_a_per_class_table(hidden, tmp_path):
    """Do score maps equal to the masks score mean IoU and mean AP 1, with the table shown?"""
    labels, ids, masks = hidden
    save_segmentation_scores(tmp_path / FOLDER, ids, [one_hot(m) for m in masks])
    for metric in ("mean_iou", "mean_ap_segmentation"):
        outcome, value = score(tmp_path, labels, metric)
        assert value == pytest.approx(1.0), outcome.output
        assert outcome.score == 10 and outcome.passed
        assert f"{metric} = 1.0000 on 10 hidden images" in outcome.output
        for name in ("background", "curved", "convex", "concave", "mean"):
            assert name in outcome.output


def test_the_all_background_predictor_earns_nothing(hidden, tmp_path):
    """Does predicting background everywhere score its mean IoU (background's share of the
    pixels over 4 classes) and no points under a band that starts above it?"""
    labels, ids, masks = hidden
    background = [np.stack([np.ones(m.shape), *np.zeros((3, *m.shape))]) for m in masks]
    save_segmentation_scores(tmp_path / FOLDER, ids, background)
    outcome, value = score(tmp_path, labels)
    counted = np.concatenate([m[m != 255] for m in masks])
    assert value == pytest.approx(np.mean(counted == 0) / CLASSES)
    assert value < 0.3 and outcome.score == 0


def test_agrees_with_the_students_segmentation_evaluator(hidden, tmp_path):
    """Are per-class AP and IoU those of helpers.metrics.SegmentationEvaluator (exact AP) on the
    same 8-bit scores, ties and ignored pixels included?"""
    import torch

    from autograder.safe_fs import Folder
    from autograder.score_masks import evaluate_score_maps
    from helpers.metrics import SegmentationEvaluator

    labels, ids, masks = hidden
    rng = np.random.default_rng(0)
    maps = []
    for m in masks:
        logits = 3 * one_hot(m) + rng.normal(0, 1.2, (CLASSES, *m.shape))
        p = np.exp(logits) / np.exp(logits).sum(0)
        maps.append(p)
    save_segmentation_scores(tmp_path / FOLDER, ids, maps)
    evaluator = SegmentationEvaluator(CLASSES, bins=None, scores="probabilities")
    for image_id, m in zip(ids, masks, strict=True):
        levels = np.load(tmp_path / FOLDER / f"{image_id}.npy")
        evaluator.update(torch.from_numpy(levels / 255.0)[None], torch.from_numpy(m)[None])
    expected = evaluator.compute()
    with Folder.open(tmp_path) as out:
        result = evaluate_score_maps(out, FOLDER, labels, ids)
    np.testing.assert_allclose(result.ap, expected.ap.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.iou, expected.iou.numpy(), rtol=0, atol=1e-12)
    assert 0.3 < result.mean_iou < 1 and 0.3 < result.mean_ap < 1  # not a trivial case


def test_scores_by_the_ids_the_kernel_saw(hidden, tmp_path):
    """With a redrawn id map, is each file scored against its bundle id's mask?"""
    labels, ids, masks = hidden
    renamed = {f"k{n:03d}": bundle_id for n, bundle_id in enumerate(reversed(ids))}
    by_bundle_id = dict(zip(ids, masks, strict=True))
    save_segmentation_scores(tmp_path / FOLDER, list(renamed),
                             [one_hot(by_bundle_id[b]) for b in renamed.values()])  # fmt: skip
    outcome, value = score(tmp_path, labels, hidden_ids=renamed)
    assert value == pytest.approx(1.0), outcome.output


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _break(case: str, folder: Path, first: str, shape: tuple[int, ...], elsewhere: Path) -> None:
    """Turn the valid score folder into one hostile or broken case."""
    path = folder / f"{first}.npy"
    good = np.load(path)
    if case == "missing folder":
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    elif case == "folder is a file":
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
        folder.write_bytes(b"not a folder")
    elif case == "folder is a link":
        target = elsewhere / "scores"
        folder.rename(target)
        folder.symlink_to(target)
    elif case == "missing file":
        path.unlink()
    elif case == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    elif case == "extra bytes":
        path.write_bytes(path.read_bytes() + b"\0" * 10)
    elif case == "wrong shape":
        np.save(path, good[0])
    elif case == "wrong dtype":
        np.save(path, good.astype(np.float32) / 255)
    elif case == "oversized":
        with path.open("wb") as f:
            f.truncate(200 * 1024 * 1024)  # sparse: nothing written, nothing to read
    elif case == "pickle":
        path.write_bytes(pickle.dumps(good))
    elif case == "object array":
        path.write_bytes(_npy(np.array([good, "x"], dtype=object)))
    elif case == "huge header":
        header = np.lib.format.header_data_from_array_1_0(good)
        buffer = io.BytesIO()
        np.lib.format.write_array_header_2_0(buffer, header)
        raw = bytearray(buffer.getvalue())
        padding = b" " * 100_000  # a legal but enormous header, before any data
        length = int.from_bytes(raw[8:12], "little") + len(padding)
        path.write_bytes(bytes(raw[:8]) + length.to_bytes(4, "little") + bytes(raw[12:-1])
                         + padding + b"\n" + good.tobytes())  # fmt: skip
    elif case == "link to the masks":
        path.unlink()
        path.symlink_to(elsewhere / "secret.npy")
    elif case == "hard link":
        path.unlink()
        os.link(elsewhere / "secret.npy", path)
    elif case == "fifo":
        path.unlink()
        os.mkfifo(path)
    else:
        raise AssertionError(case)


HOSTILE = {
    "missing folder": "segmentation_scores/ was not written",
    "folder is a file": "is not real folders",
    "folder is a link": "symbolic link",
    "missing file": "has no file for 1 of the 10 hidden images",
    "truncated": "cut short",
    "extra bytes": "or more: it was cut short or changed",
    "wrong shape": "expected (4, 64, 64): one score map per class",
    "wrong dtype": "holds float32 values; the grader reads uint8",
    "oversized": "over the",
    "pickle": "is not an .npy file",
    "object array": "holds Python objects (dtype object); it is not loaded",
    "huge header": "is not an .npy file",
    "link to the masks": "symbolic link",
    "hard link": "hard links",
    "fifo": "a FIFO, not a regular file",
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_broken_or_hostile_score_folder_gets_a_plain_message(hidden, tmp_path, case):
    """Does each broken or hostile score folder score 0 with a message naming what is wrong
    (and never read through a link, a hard link, a FIFO or an oversized file)?"""
    labels, ids, masks = hidden
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    np.save(elsewhere / "secret.npy", one_hot(masks[0]).astype(np.uint8) * 255)
    save_segmentation_scores(out / FOLDER, ids, [one_hot(m) for m in masks])
    _break(case, out / FOLDER, ids[0], (CLASSES, *masks[0].shape), elsewhere)
    outcome, value = score(out, labels)
    assert value is None and outcome.score == 0 and not outcome.passed
    assert HOSTILE[case] in outcome.output, outcome.output
    if case not in ("missing folder", "folder is a file", "folder is a link"):
        assert ids[0] in outcome.output  # the message names the file


def test_many_broken_files_are_counted_not_all_listed(hidden, tmp_path):
    """Does a folder where every file is wrong give a short message with a count?"""
    labels, ids, masks = hidden
    folder = tmp_path / FOLDER
    save_segmentation_scores(folder, ids, [one_hot(m) for m in masks])
    for image_id in ids:
        np.save(folder / f"{image_id}.npy", np.zeros((2, 2), np.uint8))
    outcome, _ = score(tmp_path, labels)
    assert "and 5 more files with problems" in outcome.output
    assert outcome.output.count("has shape (2, 2)") == 5


def test_save_refuses_logits_and_class_maps(tmp_path):
    """Does save_segmentation_scores say what to do with logits or an argmax map?"""
    with pytest.raises(ValueError, match="apply softmax"):
        save_segmentation_scores(tmp_path / "s", ["a"], [np.full((2, 3, 3), 4.0)])
    with pytest.raises(ValueError, match="not argmax"):
        save_segmentation_scores(tmp_path / "s", ["a"], [np.zeros((3, 3), np.int64)])


SCORING_WITHOUT_TORCH = r"""
import sys, tempfile
from pathlib import Path
import numpy as np
from PIL import Image
from autograder import pipeline, score
from autograder.config import Performance

work = Path(tempfile.mkdtemp())
(work / "lab" / "masks").mkdir(parents=True); (work / "out" / "s").mkdir(parents=True)
(work / "lab" / "labels.csv").write_text("id,a,b\nh0,1,0\n")
mask = np.array([[0, 1], [2, 255]], np.uint8)
Image.fromarray(mask, mode="L").save(work / "lab" / "masks" / "h0.png")
np.save(work / "out" / "s" / "h0.npy", (np.eye(3, dtype=np.uint8)[:, [0, 1, 2, 0]] * 255)
        .reshape(3, 2, 2))
band = Performance(name="iou", predictions="s", metric="mean_iou")
outcome, value = score.score_performance(band, work / "out", work / "lab", "visible")
print("mean_iou", value)
torch = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
print("torch modules:", torch)
"""


def test_the_grader_scores_masks_without_importing_torch():
    """Does scoring a segmentation band (masks, score maps, metrics) leave torch unimported?
    Importing it costs the grader about 400 MB of a 768 MB container."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCORING_WITHOUT_TORCH], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["mean_iou 1.0", "torch modules: []"]


SEGMENTATION_BAND = """
[hidden_data]
dataset = "synthetic"
generate = { test = 6, size = 64 }
task = "segmentation"
superclasses = true

[[performance]]
name = "Mean IoU on the hidden scenes"
predictions = "segmentation_scores"
metric = "mean_iou"
zero_at = 0.1
full_at = 0.2
max_score = 4.0
"""
#: The locked cell that writes score maps: background everywhere (mean IoU about 0.21).
PREDICT_MASKS = """\
if GRADING:
    import os
    import numpy as np
    from helpers.data.hidden import read_hidden_inputs
    from helpers.predictions import save_segmentation_scores
    ids, images = read_hidden_inputs(DATA_DIR)
    probabilities = [np.stack([np.ones(i.shape[:2])] + [np.zeros(i.shape[:2])] * 3)
                     for i in images]
    save_segmentation_scores(os.path.join(OUTPUT_DIR, "segmentation_scores"), ids, probabilities)"""
#: A student answer that also cuts the first score file short once it is written.
TRUNCATING_Q2 = """\
def scale(x, k):
    return x * k
import helpers.predictions as _predictions
_save = _predictions.save_segmentation_scores
def _cut_first(folder, ids, probabilities):
    out = _save(folder, ids, probabilities)
    first = out / f"{ids[0]}.npy"
    first.write_bytes(first.read_bytes()[:300])
    return out
_predictions.save_segmentation_scores = _cut_first"""


@pytest.mark.slow
def test_a_truncated_score_file_costs_only_the_performance_points(tmp_path):
    """Graded end to end (build, sandboxed kernel, scoring), does a submission whose score file
    is cut short keep every test's points and get a plain message for the performance item,
    while an intact one is scored?"""
    import nbformat
    import toy_assignment as toy
    from nbformat.v4 import new_code_cell

    from autograder import pipeline
    from autograder.config import load_assignment

    root = toy.make_root(tmp_path / "kit")
    config = root / "assignments" / toy.NAME / "assignment.toml"
    config.write_text(config.read_text() + SEGMENTATION_BAND)
    for kind in ("source", "release"):
        path = root / kind / toy.NAME / "toy.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(new_code_cell(PREDICT_MASKS, metadata=toy._meta("predict", locked=True)))
        nbformat.write(nb, path)
    os.environ["KIT_BUNDLE_DIR"] = str(tmp_path / "bundles")
    try:
        assignment = load_assignment(toy.NAME, root)
        pipeline.build(assignment, device="cpu")
        solved = {"q1": "def add(a, b):\n    return a + b"}
        results = {}
        for case, q2 in (("intact", "def scale(x, k):\n    return x * k"),
                         ("truncated", TRUNCATING_Q2)):  # fmt: skip
            path = toy.student(tmp_path / case / "toy.ipynb", **solved, q2=q2)
            nb = nbformat.read(path, as_version=4)
            predict = toy._meta("predict", locked=True)
            nb.cells.append(new_code_cell(PREDICT_MASKS, metadata=predict))
            nbformat.write(nb, path)
            results[case] = pipeline.grade(assignment, path, device="cpu").results
    finally:
        os.environ.pop("KIT_BUNDLE_DIR", None)
    for case, result in results.items():
        tests = {t["name"]: t for t in result["tests"]}
        assert tests["q1_tests"]["score"] == 2 and tests["q2_tests"]["score"] == 3, case
        item = tests["Mean IoU on the hidden scenes"]
        if case == "intact":
            assert item["output"].startswith("mean_iou = 0.") and "concave" in item["output"]
        else:
            assert item["score"] == 0
            assert "h00000.npy" in item["output"] and "cut short" in item["output"], item


def test_a_broken_hidden_mask_is_the_graders_problem_not_a_crash(hidden, tmp_path):
    """Does a hidden mask missing from (or broken in) the bundle give a failed item that says
    to build again, instead of an exception that would lose the whole results file?"""
    import shutil

    labels, ids, masks = hidden
    broken = tmp_path / "lab"
    shutil.copytree(labels, broken)
    (broken / "masks" / f"{ids[1]}.png").unlink()
    (broken / "masks" / f"{ids[2]}.png").write_bytes(b"not a png")
    save_segmentation_scores(tmp_path / "out" / FOLDER, ids, [one_hot(m) for m in masks])
    outcome, value = score(tmp_path / "out", broken)
    assert value is None and outcome.score == 0
    assert f"{ids[1]}.png" in outcome.output and "build the assignment again" in outcome.output


def test_a_fortran_ordered_file_scores_like_a_c_ordered_one(hidden, tmp_path):
    """Is a score file np.save wrote from a Fortran-ordered array read in its own order?"""
    labels, ids, masks = hidden
    save_segmentation_scores(tmp_path / FOLDER, ids, [one_hot(m) for m in masks])
    first = tmp_path / FOLDER / f"{ids[0]}.npy"
    np.save(first, np.asfortranarray(np.load(first)))
    assert np.lib.format.read_array_header_1_0(_opened_past_magic(first))[1] is True
    _, value = score(tmp_path, labels)
    assert value == pytest.approx(1.0)


def _opened_past_magic(path: Path) -> io.BytesIO:
    stream = io.BytesIO(path.read_bytes())
    np.lib.format.read_magic(stream)
    return stream
