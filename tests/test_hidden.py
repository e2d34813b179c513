"""helpers.data.hidden: hidden test sets, images for the notebook and labels for the grader only."""

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers.data.fashion import DataMissingError, fashion_mnist
from helpers.data.hidden import (
    main,
    prepare_hidden_split,
    read_hidden_inputs,
    read_hidden_labels,
    read_hidden_masks,
)
from helpers.data.synthetic import SYNTHETIC_SUPERCLASSES, make_synthetic_voc, to_superclass_mask
from helpers.data.voc import VOCClassification, VOCSegmentation


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "tree"
    return make_synthetic_voc(out, seed=21, train=4, val=0, test=40, size=64)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_fashion_mnist_split_holds_shuffled_images_with_their_labels(tmp_path):
    """Does each hidden image carry its original label, in an order that hides the index?"""
    n = prepare_hidden_split("fashion-mnist", tmp_path / "in", tmp_path / "lab", seed=5, limit=300)
    assert n == 300
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["ids.csv", "images.npy"]
    assert sorted(p.name for p in (tmp_path / "lab").iterdir()) == ["labels.csv"]
    ids, images = read_hidden_inputs(tmp_path / "in")
    label_ids, labels = read_hidden_labels(tmp_path / "lab")
    assert ids == label_ids == [f"h{k:05d}" for k in range(300)]
    assert images.dtype == np.uint8 and images.shape == (300, 28, 28)
    assert labels.dtype == np.int64 and labels.shape == (300,)

    test = fashion_mnist("test")
    where = {}
    for index, image in enumerate(test.images):
        where.setdefault(image.tobytes(), []).append(index)
    origins = [where[image.tobytes()] for image in images]
    assert all(labels[k] in test.labels[origin] for k, origin in enumerate(origins))
    first = [origin[0] for origin in origins]
    assert first != sorted(first)  # not the original order
    assert len(set(first)) == 300


def test_same_seed_same_split_other_seed_other_order(tmp_path):
    """Does the seed alone decide which images come and in what order?"""
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        prepare_hidden_split(
            "fashion-mnist", tmp_path / name / "in", tmp_path / name / "lab", seed=seed, limit=50
        )
    read = lambda name: (tmp_path / name / "in" / "images.npy").read_bytes()  # noqa: E731
    assert read("a") == read("b") != read("c")


def test_voc_style_split_copies_jpegs_and_labels_them(tree, tmp_path):
    """Are the JPEGs the originals, renamed, each with its reader's multi-hot label?"""
    n = prepare_hidden_split("synthetic", tmp_path / "in", tmp_path / "lab", root=tree, seed=3)
    assert n == 40
    names = sorted(p.name for p in (tmp_path / "in").iterdir())
    assert names == sorted(["ids.csv"] + [f"h{k:05d}.jpg" for k in range(40)])
    original = VOCClassification(tree, "test")
    by_content = {_md5(p.read_bytes()): k for k, p in enumerate(original.images)}
    ids, labels = read_hidden_labels(tmp_path / "lab")
    header = (tmp_path / "lab" / "labels.csv").read_text().splitlines()[0]
    assert header == "id," + ",".join(original.classes)
    assert labels.shape == (40, len(original.classes))
    order = [by_content[_md5((tmp_path / "in" / f"{i}.jpg").read_bytes())] for i in ids]
    assert sorted(order) == list(range(40)) and order != list(range(40))
    assert np.array_equal(labels, original.labels[order])
    input_ids, images = read_hidden_inputs(tmp_path / "in")
    assert input_ids == ids and images[0].shape == (64, 64, 3) and images[0].dtype == np.uint8


def test_difficult_ignore_writes_minus_one(tree, tmp_path):
    """With difficult='ignore', do the -1 targets reach labels.csv and read back?"""
    prepare_hidden_split(
        "synthetic", tmp_path / "in", tmp_path / "lab", root=tree, difficult="ignore"
    )
    _, labels = read_hidden_labels(tmp_path / "lab")
    expected = VOCClassification(tree, "test", difficult="ignore").labels
    assert (expected == -1).any()  # the tree has difficult-only classes
    assert sorted(labels.ravel().tolist()) == sorted(expected.ravel().tolist())


def test_segmentation_split_writes_superclass_masks(tree, tmp_path):
    """Do the masks of a superclass split equal the originals mapped to superclasses?"""
    prepare_hidden_split(
        "synthetic",
        tmp_path / "in",
        tmp_path / "lab",
        root=tree,
        task="segmentation",
        superclasses=True,
        limit=10,
    )
    ids, labels = read_hidden_labels(tmp_path / "lab")
    assert labels.shape == (10, len(SYNTHETIC_SUPERCLASSES))
    masks = read_hidden_masks(tmp_path / "lab", ids)
    original = VOCSegmentation(tree, "test")
    by_content = {_md5(p.read_bytes()): k for k, p in enumerate(original.images)}
    for i, mask, row in zip(ids, masks, labels, strict=True):
        k = by_content[_md5((tmp_path / "in" / f"{i}.jpg").read_bytes())]
        expected = to_superclass_mask(original[k][1].numpy().astype(np.uint8))
        assert np.array_equal(mask, expected)
        present = {int(v) - 1 for v in np.unique(mask) if 0 < v < 255}
        assert present <= set(np.flatnonzero(row == 1).tolist())


def test_folders_must_be_separate_and_empty(tree, tmp_path):
    """Are nested or non-empty output folders refused, saying why?"""
    with pytest.raises(ValueError, match=r"must be separate, neither inside the other"):
        prepare_hidden_split("synthetic", tmp_path / "x", tmp_path / "x" / "lab", root=tree)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.csv").write_text("id\n")
    with pytest.raises(FileExistsError, match=r"full is not empty\. Give an empty or new folder"):
        prepare_hidden_split("synthetic", tmp_path / "full", tmp_path / "lab", root=tree)


def test_choices_are_checked(tree, tmp_path):
    """Are unknown datasets and impossible combinations refused with what to do?"""
    with pytest.raises(ValueError, match=r"Unknown value 'mnist' for argument dataset"):
        prepare_hidden_split("mnist", tmp_path / "i", tmp_path / "l")
    with pytest.raises(ValueError, match=r"needs the VOC tree's folder .*helpers\.data\.synthetic"):
        prepare_hidden_split("synthetic", tmp_path / "i", tmp_path / "l")
    with pytest.raises(ValueError, match=r"Fashion-MNIST has no masks"):
        prepare_hidden_split("fashion-mnist", tmp_path / "i", tmp_path / "l", task="segmentation")
    with pytest.raises(ValueError, match=r"superclasses=True needs dataset='synthetic'"):
        prepare_hidden_split("voc", tmp_path / "i", tmp_path / "l", root=tree, superclasses=True)


def test_labels_file_damage_is_named(tree, tmp_path):
    """Does a damaged or missing labels.csv name the file and the problem?"""
    prepare_hidden_split("synthetic", tmp_path / "in", tmp_path / "lab", root=tree, limit=3)
    labels_csv = tmp_path / "lab" / "labels.csv"
    rows = labels_csv.read_text().splitlines()
    labels_csv.write_text("\n".join([rows[0], rows[1].replace(",0", ",2", 1), *rows[2:]]) + "\n")
    with pytest.raises(DataMissingError, match=r"labels\.csv should hold only 1, 0 and -1.*\[2\]"):
        read_hidden_labels(tmp_path / "lab")
    labels_csv.unlink()
    with pytest.raises(DataMissingError, match=r"labels\.csv is missing\. Write the hidden split"):
        read_hidden_labels(tmp_path / "lab")
    shutil.rmtree(tmp_path / "in")
    with pytest.raises(DataMissingError, match=r"ids\.csv is missing"):
        read_hidden_inputs(tmp_path / "in")


def test_cli_writes_a_split_and_exits_1_on_bad_input(tree, tmp_path, capsys):
    """Does the command write a split, and exit 1 (argparse: 2) with a message otherwise?"""
    argv = ["--dataset", "synthetic", "--root", str(tree), "--seed", "9", "--limit", "5"]
    assert main([*argv, "--inputs", str(tmp_path / "i"), "--labels", str(tmp_path / "l")]) == 0
    assert "5 hidden synthetic images" in capsys.readouterr().out
    assert main([*argv, "--inputs", str(tmp_path / "i"), "--labels", str(tmp_path / "m")]) == 1
    assert "is not empty" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--dataset", "cifar", "--inputs", "a", "--labels", "b"])
    assert exit_info.value.code == 2


# --------------------------------------------------------------- a fresh copy per grading run
def test_each_run_gets_new_ids_order_and_noise_drawn_from_the_clean_images(tmp_path):
    """Does every run's copy show the bundle's clean images under new ids, in a new order, with
    noise of its own (not added to an earlier run's), so that a table of ids and labels read
    from one run's images scores no better than chance in the next, while predictions by the
    run's own ids still score through the map?"""
    from autograder.config import Performance
    from autograder.score import score_performance
    from helpers.data.hidden import redraw_hidden_inputs
    from helpers.predictions import save_predictions

    prepare_hidden_split("fashion-mnist", tmp_path / "in", tmp_path / "lab", seed=3, limit=200)
    clean_before = (tmp_path / "in" / "images.npy").read_bytes()
    source_ids, clean = read_hidden_inputs(tmp_path / "in")
    row = {i: k for k, i in enumerate(source_ids)}
    label_ids, labels = read_hidden_labels(tmp_path / "lab")
    label_of = dict(zip(label_ids, labels.tolist(), strict=True))
    band = Performance("acc", "p.csv", zero_at=0.1, full_at=0.9, max_score=1)

    runs = []
    for k in range(2):
        mapping = redraw_hidden_inputs(tmp_path / "in", tmp_path / f"run{k}", transform="noise")
        ids, images = read_hidden_inputs(tmp_path / f"run{k}")
        assert ids == list(mapping) and sorted(mapping.values()) == sorted(source_ids)
        originals = clean[[row[mapping[i]] for i in ids]].astype(np.int16)
        difference = np.abs(images.astype(np.int16) - originals)
        # noise of 4 grey levels on the clean image: not a copy, and never two layers of it
        assert 0 < difference.mean() < 4.5 and (difference != 0).mean() > 0.5
        runs.append((ids, mapping))
    assert (tmp_path / "in" / "images.npy").read_bytes() == clean_before

    (ids0, map0), (ids1, map1) = runs
    assert sum(map0[i] != map1[i] for i in ids0) > 190  # the same id names another image
    # A table from run 0's images (here: their true labels) submitted by id in run 1.
    table = {i: label_of[map0[i]] for i in ids0}
    save_predictions(tmp_path / "out1" / "p.csv", list(table), list(table.values()))
    outcome, value = score_performance(band, tmp_path / "out1", tmp_path / "lab", "visible", map1)
    assert value < 0.3, outcome.output
    # The run's own ids with the right labels score in full through the map.
    right = [label_of[map1[i]] for i in ids1]
    save_predictions(tmp_path / "out2" / "p.csv", ids1, right)
    outcome, value = score_performance(band, tmp_path / "out2", tmp_path / "lab", "visible", map1)
    assert value == 1.0 and outcome.score == 1, outcome.output


def test_each_run_gets_the_voc_style_jpegs_under_new_ids(tree, tmp_path):
    """Does a VOC-style run copy hold each JPEG (its bytes) under a new id, in a new order, and a
    transform of JPEGs get refused with what to do?"""
    from helpers.data.hidden import redraw_hidden_inputs

    prepare_hidden_split("synthetic", tmp_path / "in", tmp_path / "lab", root=tree, seed=2)
    source_ids = read_hidden_inputs(tmp_path / "in")[0]
    maps = [redraw_hidden_inputs(tmp_path / "in", tmp_path / f"run{k}") for k in range(2)]
    for k, mapping in enumerate(maps):
        assert sorted(p.name for p in (tmp_path / f"run{k}").iterdir()) == sorted(
            ["ids.csv", *(f"{i}.jpg" for i in mapping)]
        )
        for new_id, old_id in mapping.items():
            copied = (tmp_path / f"run{k}" / f"{new_id}.jpg").read_bytes()
            assert copied == (tmp_path / "in" / f"{old_id}.jpg").read_bytes()
        assert sorted(mapping.values()) == sorted(source_ids)
    assert sum(maps[0][i] != maps[1][i] for i in maps[0]) > 30
    with pytest.raises(ValueError, match="JPEG inputs are copied as they are"):
        redraw_hidden_inputs(tmp_path / "in", tmp_path / "run2", transform="noise")
