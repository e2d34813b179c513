"""helpers.data.crops and the hidden "crops" task: single-label object crops from VOC trees."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.data.crops import (
    ObjectCrops,
    crop_object,
    few_per_class,
    object_crops,
)
from helpers.data.fashion import DataMissingError
from helpers.data.hidden import (
    prepare_hidden_split,
    read_hidden_inputs,
    read_hidden_labels,
    redraw_hidden_inputs,
)
from helpers.data.synthetic import SYNTHETIC_CLASSES, make_synthetic_voc
from helpers.data.voc import read_annotation

# name, (xmin, ymin, xmax, ymax), truncated, difficult, colour
OBJECTS = [
    ("square", (11, 11, 30, 30), False, False, (250, 0, 0)),
    ("circle", (41, 5, 60, 14), False, False, (0, 250, 0)),  # 20 x 10, wider than tall
    ("star", (5, 45, 24, 60), True, False, (0, 0, 250)),  # truncated
    ("cross", (40, 40, 58, 58), False, True, (250, 250, 0)),  # difficult
    ("ring", (30, 50, 34, 54), False, False, (0, 250, 250)),  # 5 x 5: below min_side
]


def _xml(objects) -> str:
    parts = [
        f"<object><name>{name}</name><truncated>{int(t)}</truncated>"
        f"<difficult>{int(d)}</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for name, b, t, d, _ in objects
    ]
    return (
        "<annotation><filename>img.jpg</filename><size><width>64</width><height>64</height>"
        f"<depth>3</depth></size>{''.join(parts)}</annotation>"
    )


def _hand_tree(root: Path, objects=OBJECTS, split="train") -> Path:
    """A VOC tree of one 64 x 64 PNG-exact scene (saved as a max-quality JPEG) whose objects
    are flat rectangles filling their boxes, so a crop's pixels can be checked."""
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    scene = np.zeros((64, 64, 3), np.uint8)
    for _, (x0, y0, x1, y1), _, _, colour in objects:
        scene[y0 - 1 : y1, x0 - 1 : x1] = colour
    Image.fromarray(scene).save(root / "JPEGImages" / "000001.jpg", quality=100, subsampling=0)
    (root / "Annotations" / "000001.xml").write_text(_xml(objects))
    (root / "ImageSets" / "Main" / f"{split}.txt").write_text("000001\n")
    (root / "classes.txt").write_text("\n".join(SYNTHETIC_CLASSES) + "\n")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "tree"
    return make_synthetic_voc(out, seed=31, train=12, val=0, test=30, size=64)


def test_a_crop_is_the_square_around_the_box_and_keeps_the_shape(tmp_path):
    """Does the crop of a 20 x 10 box show the object whole, centred and unstretched?"""
    scene = np.zeros((64, 64, 3), np.uint8)
    scene[4:14, 40:60] = 200  # VOC box (41, 5, 60, 14): 20 wide, 10 high
    crop = crop_object(Image.fromarray(scene), (41, 5, 60, 14), size=20, margin=0.0)
    assert crop.shape == (20, 20, 3) and crop.dtype == np.uint8
    bright = crop[..., 0] > 100
    rows = np.flatnonzero(bright.any(1))
    # The square is 20 x 20 around the box's centre: the object fills rows 5..14, all columns.
    assert bright.any(0).all(), "the box's full width should fill the crop's width"
    assert (rows.min(), rows.max()) == (5, 14), rows


def test_margin_adds_context_and_outside_the_image_is_black():
    """Does a margin show what lies around the box, and black past the image's edge?"""
    scene = Image.new("RGB", (32, 32), (90, 90, 90))
    crop = crop_object(scene, (1, 1, 32, 32), size=40, margin=0.25)  # 48-px square, 8 px out
    assert crop[0, 0].tolist() == [0, 0, 0]
    assert crop[20, 20].tolist() == [90, 90, 90]


def test_a_big_object_is_shrunk_without_aliasing():
    """Does a fine stripe pattern shrink to its mean grey (antialiased), not to stripes?"""
    stripes = np.zeros((256, 256, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes
    crop = crop_object(Image.fromarray(stripes), (1, 1, 256, 256), size=16, margin=0.0)
    assert 100 < crop.mean() < 155 and crop.std() < 40, (crop.mean(), crop.std())


def test_skip_rules_difficult_truncated_and_small(tmp_path):
    """Are difficult and too-small objects left out by default, and truncated ones on request?"""
    root = _hand_tree(tmp_path / "voc")
    crops = object_crops(root, "train", size=16, margin=0.0)
    names = [crops.classes[k] for k in crops.labels]
    assert names == ["square", "circle", "star"]
    assert crops.sources == ("000001/0", "000001/1", "000001/2")
    # the square filled its box in red; the crop of its box (no margin) is red throughout
    assert (crops.images[0, ..., 0] > 200).all() and (crops.images[0, ..., 1] < 50).all()
    kept = object_crops(root, "train", size=16, difficult="keep", truncated=False, min_side=4)
    assert [kept.classes[k] for k in kept.labels] == ["square", "circle", "cross", "ring"]


def test_labels_use_the_trees_classes_in_every_split(tree):
    """Is label k always classes[k] of the tree, whichever classes a split happens to hold?"""
    train, test = object_crops(tree, "train"), object_crops(tree, "test")
    assert train.classes == test.classes == SYNTHETIC_CLASSES
    # every kept object of the annotations, in order, with its class
    expected = []
    for image_id in (tree / "ImageSets" / "Main" / "test.txt").read_text().split():
        for obj in read_annotation(tree / "Annotations" / f"{image_id}.xml").objects:
            if not obj.difficult and min(obj.bbox[2] - obj.bbox[0], obj.bbox[3] - obj.bbox[1]) >= 7:
                expected.append(SYNTHETIC_CLASSES.index(obj.name))
    assert test.labels.tolist() == expected
    assert test.images.shape == (len(expected), 64, 64, 3)
    assert test.chw().shape == (len(expected), 3, 64, 64)


def test_few_per_class_is_balanced_repeatable_and_says_when_a_class_is_short(tree):
    """Does the few-label regime take the same number of every class, the same each time?"""
    crops = object_crops(tree, "test")
    few = few_per_class(crops, 2, seed=4)
    assert np.bincount(few.labels, minlength=8).tolist() == [
        2 if n else 0 for n in crops.counts().values()
    ]
    assert few.sources == few_per_class(crops, 2, seed=4).sources
    assert few.sources != few_per_class(crops, 2, seed=5).sources
    with pytest.raises(ValueError, match=r"Class '\w+' has only \d+ crops, fewer than per_class"):
        few_per_class(crops, 1000)


def test_nothing_to_crop_and_missing_tree_say_what_to_do(tmp_path):
    """Do an all-difficult split and a missing tree get messages that name the fix?"""
    only_difficult = [o for o in OBJECTS if o[3]]
    root = _hand_tree(tmp_path / "voc", only_difficult)
    with pytest.raises(ValueError, match=r"No object of split 'train'.*difficult='keep'"):
        object_crops(root, "train")
    with pytest.raises(DataMissingError, match=r"python -m helpers.data.synthetic"):
        object_crops(tmp_path / "nowhere", "train")
    with pytest.raises(ValueError, match="Valid values are"):
        object_crops(root, "train", difficult="ignore")


def test_a_hostile_annotation_box_gives_a_crop_not_a_crash(tmp_path):
    """Do a box past the image and an inverted box end as a black crop and a skip?"""
    objects = [
        ("square", (50, 50, 200, 200), False, False, (10, 10, 10)),
        ("circle", (30, 30, 10, 10), False, False, (10, 10, 10)),  # xmax < xmin
    ]
    root = _hand_tree(tmp_path / "voc", objects[:0])
    (root / "Annotations" / "000001.xml").write_text(_xml(objects))
    crops = object_crops(root, "train", size=16)
    assert [crops.classes[k] for k in crops.labels] == ["square"]
    assert crops.images[0, -1, -1].tolist() == [0, 0, 0]


# ---------------------------------------------------------------------------------------------
# The hidden "crops" task


def test_hidden_crops_split_writes_an_array_and_single_labels(tree, tmp_path):
    """Does task='crops' write images.npy (N, S, S, 3) and labels.csv id,label that agree?"""
    n = prepare_hidden_split(
        "synthetic", tmp_path / "in", tmp_path / "lab", root=tree, task="crops", seed=3
    )
    crops = object_crops(tree, "test")
    assert n == len(crops)
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["ids.csv", "images.npy"]
    ids, images = read_hidden_inputs(tmp_path / "in")
    label_ids, labels = read_hidden_labels(tmp_path / "lab")
    assert ids == label_ids and images.shape == (n, 64, 64, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.shape == (n,)
    with (tmp_path / "lab" / "labels.csv").open() as f:
        assert next(csv.reader(f)) == ["id", "label"]
    # each hidden crop is one of the split's crops, with that crop's label, in a shuffled order
    where = {image.tobytes(): k for k, image in enumerate(crops.images)}
    origin = [where[image.tobytes()] for image in images]
    assert [int(crops.labels[k]) for k in origin] == labels.tolist()
    assert origin != sorted(origin)


def test_hidden_crops_limit_and_choices(tree, tmp_path):
    """Does limit keep a subset, and does crops refuse Fashion-MNIST and superclasses?"""
    n = prepare_hidden_split(
        "synthetic", tmp_path / "in", tmp_path / "lab", root=tree, task="crops", limit=10
    )
    assert n == 10 and read_hidden_inputs(tmp_path / "in")[1].shape[0] == 10
    with pytest.raises(ValueError, match=r"crops.*VOC-style"):
        prepare_hidden_split("fashion-mnist", tmp_path / "a", tmp_path / "b", task="crops")
    with pytest.raises(ValueError, match="superclasses"):
        prepare_hidden_split(
            "synthetic", tmp_path / "c", tmp_path / "d", root=tree, task="crops", superclasses=True
        )


def test_each_grading_run_redraws_a_crops_split(tree, tmp_path):
    """Does the per-run copy (new ids, new order) work for colour crops, not only grey images?"""
    prepare_hidden_split("synthetic", tmp_path / "in", tmp_path / "lab", root=tree, task="crops")
    _, clean = read_hidden_inputs(tmp_path / "in")
    mapping = redraw_hidden_inputs(tmp_path / "in", tmp_path / "run", seed=9)
    ids, images = read_hidden_inputs(tmp_path / "run")
    assert images.shape == clean.shape and images.dtype == np.uint8
    for new_id, image in zip(ids, images, strict=True):
        assert np.array_equal(image, clean[int(mapping[new_id][1:])])
    assert list(mapping.values()) != sorted(mapping.values())
    with pytest.raises(ValueError, match=r"transform='noise'.*Fashion-MNIST"):
        redraw_hidden_inputs(tmp_path / "in", tmp_path / "run2", transform="noise", seed=1)


def test_object_crops_dataclass_subset_keeps_sources_in_step():
    """Does subset() keep each crop's image, label and source together?"""
    crops = ObjectCrops(
        np.arange(3, dtype=np.uint8)[:, None, None, None].repeat(4, 1).repeat(4, 2).repeat(3, 3),
        np.array([2, 0, 1]),
        ("a", "b", "c"),
        ("x/0", "y/0", "z/1"),
    )
    sub = crops.subset([2, 0])
    assert sub.labels.tolist() == [1, 2] and sub.sources == ("z/1", "x/0")
    assert sub.images[:, 0, 0, 0].tolist() == [2, 0]
    assert crops.subset(np.array([True, False, True])).sources == ("x/0", "z/1")
