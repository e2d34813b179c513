"""helpers.data.synthetic: deterministic scenes in VOC's layout, varied enough to learn from."""

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.data.synthetic import (
    SUPERCLASS_OF,
    SYNTHETIC_CLASSES,
    SYNTHETIC_SUPERCLASSES,
    main,
    make_synthetic_voc,
    render_scene,
    to_superclass_mask,
)
from helpers.data.voc import IGNORE_INDEX, VOCClassification, read_annotation


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def scenes():
    """200 scenes drawn in memory (no files), for statistics."""
    return [render_scene(5, number, 128) for number in range(1, 201)]


def test_cli_writes_exactly_the_voc_layout(tmp_path, capsys):
    """Does the command write VOC's folders and files, and nothing the layout lacks?"""
    out = tmp_path / "tree"
    argv = ["--out", str(out), "--seed", "3", "--train", "5", "--val", "2", "--test", "3"]
    assert main([*argv, "--size", "48"]) == 0
    assert "10 synthetic scenes (48 x 48)" in capsys.readouterr().out
    ids = [f"{n:06d}" for n in range(1, 11)]
    files = set(_files(out))
    expected = {"classes.txt", "synthetic.json"}
    for i in ids:
        expected |= {f"JPEGImages/{i}.jpg", f"Annotations/{i}.xml", f"SegmentationClass/{i}.png"}
    for split in ("train", "val", "trainval", "test"):
        expected |= {f"ImageSets/Main/{split}.txt", f"ImageSets/Segmentation/{split}.txt"}
        expected |= {f"ImageSets/Main/{c}_{split}.txt" for c in SYNTHETIC_CLASSES}
    assert files == expected
    main_lists = out / "ImageSets" / "Main"
    assert (main_lists / "train.txt").read_text().split() == ids[:5]
    assert (main_lists / "val.txt").read_text().split() == ids[5:7]
    assert (main_lists / "test.txt").read_text().split() == ids[7:]
    assert (main_lists / "trainval.txt").read_text().split() == ids[:7]
    assert (out / "classes.txt").read_text().split() == list(SYNTHETIC_CLASSES)


def test_same_seed_gives_byte_identical_files_whatever_the_workers(tmp_path):
    """Do two runs with one seed, one with 1 worker and one with 2, write the same bytes?"""
    settings = {"seed": 4, "train": 6, "val": 2, "test": 2, "size": 64}
    one = _files(make_synthetic_voc(tmp_path / "a", workers=1, **settings))
    two = _files(make_synthetic_voc(tmp_path / "b", workers=2, **settings))
    assert one == two


def test_another_seed_gives_other_images(tmp_path):
    """Does another seed change every image, its annotation and its mask?"""
    settings = {"train": 6, "val": 2, "test": 2, "size": 64}
    a = _files(make_synthetic_voc(tmp_path / "a", seed=1, **settings))
    b = _files(make_synthetic_voc(tmp_path / "b", seed=2, **settings))
    assert a.keys() == b.keys()
    for kind in ("JPEGImages", "Annotations", "SegmentationClass"):
        names = [k for k in a if k.startswith(kind)]
        assert all(a[k] != b[k] for k in names), kind


def test_per_class_lists_agree_with_the_annotations(tmp_path):
    """Do VOC's <class>_<split>.txt lists say 1 / -1 / 0 exactly where the XML says so?"""
    out = make_synthetic_voc(tmp_path / "t", seed=8, train=40, val=0, test=0, size=64)
    for k, cls in enumerate(SYNTHETIC_CLASSES):
        rows = (out / "ImageSets" / "Main" / f"{cls}_train.txt").read_text().splitlines()
        for row in rows:
            image_id, flag = row.split()
            objects = read_annotation(out / "Annotations" / f"{image_id}.xml").objects
            flags = [o.difficult for o in objects if o.name == cls]
            assert int(flag) == (-1 if not flags else 0 if all(flags) else 1), (cls, row)
        labels = VOCClassification(out, "train", difficult="ignore").labels[:, k]
        listed = np.array([int(r.split()[1]) for r in rows])
        assert np.array_equal(labels == 1, listed == 1) and np.array_equal(
            labels == -1, listed == 0
        )


def test_scenes_vary_as_promised(scenes):
    """1 to 4 objects, every class, overlaps, truncation, some difficult: is it all there?"""
    counts = Counter(len(objects) for _, _, objects in scenes)
    assert set(counts) == {1, 2, 3, 4}
    names = Counter(name for _, _, objects in scenes for name, *_ in objects)
    assert set(names) == set(SYNTHETIC_CLASSES)
    assert min(names.values()) > 0.5 * max(names.values())  # roughly balanced
    objects = [o for _, _, objs in scenes for o in objs]
    share = lambda flag: np.mean([o[flag] for o in objects])  # noqa: E731
    assert 0.1 < share(2) < 0.6  # truncated by the image edge
    assert 0.02 < share(3) < 0.25  # difficult
    sizes = [(x2 - x1 + 1) * (y2 - y1 + 1) for _, (x1, y1, x2, y2), *_ in objects]
    assert max(sizes) > 4 * min(sizes)
    overlapping = 0
    for _, _, objs in scenes:
        boxes = [box for _, box, *_ in objs]
        overlapping += any(
            a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
            for i, a in enumerate(boxes)
            for b in boxes[i + 1 :]
        )
    assert overlapping > 20
    # Colour is not the class: the same class shows up in very different mean colours.
    means = {}
    for image, mask, objs in scenes:
        for name, *_ in objs:
            k = SYNTHETIC_CLASSES.index(name) + 1
            if (mask == k).sum() > 50:
                means.setdefault(name, []).append(image[mask == k].mean(0))
    assert all(np.ptp(np.array(m), axis=0).min() > 120 for m in means.values())


def test_masks_and_boxes_agree(scenes):
    """Does every non-difficult object show in the mask, inside its box, with its class index?"""
    for image, mask, objects in scenes:
        assert image.dtype == np.uint8 and image.shape == (128, 128, 3)
        assert mask.dtype == np.uint8 and mask.shape == (128, 128)
        assert set(np.unique(mask).tolist()) <= set(range(len(SYNTHETIC_CLASSES) + 1)) | {255}
        assert (mask == IGNORE_INDEX).any()  # every object has an ignored edge
        for name, (x1, y1, x2, y2), _truncated, difficult in objects:
            assert 1 <= x1 <= x2 <= 128 and 1 <= y1 <= y2 <= 128
            if not difficult:
                inside = mask[y1 - 1 : y2, x1 - 1 : x2]
                assert (inside == SYNTHETIC_CLASSES.index(name) + 1).sum() > 0


def test_superclass_table_covers_every_class_once():
    """Does every class belong to exactly one of the superclasses, each with members?"""
    assert set(SUPERCLASS_OF) == set(SYNTHETIC_CLASSES)
    assert set(SUPERCLASS_OF.values()) == set(SYNTHETIC_SUPERCLASSES)


def test_superclass_mask_maps_numpy_and_torch_alike():
    """Do NumPy and torch masks map the same way, keeping background, 255 and the dtype?"""
    mask = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [8, 255, 0, 8]], dtype=np.uint8)
    expected = [[0, 1, 1, 1], [2, 2, 2, 3], [3, 255, 0, 3]]
    assert to_superclass_mask(mask).tolist() == expected
    as_torch = to_superclass_mask(torch.from_numpy(mask).long())
    assert as_torch.dtype == torch.int64 and as_torch.tolist() == expected


def test_superclass_mask_refuses_values_no_class_has():
    """Does a value outside 0..8 and 255 name the values found and the likely mistake?"""
    with pytest.raises(ValueError, match=r"Expected mask values 0\.\.8 or 255 .* found \[9, 40\]"):
        to_superclass_mask(np.array([[0, 9, 40]], dtype=np.uint8))


def test_existing_tree_is_reused_and_a_foreign_folder_refused(tmp_path):
    """Is a tree with the same settings reused untouched, and a non-empty folder refused?"""
    settings = {"seed": 1, "train": 3, "val": 1, "test": 1, "size": 48}
    out = make_synthetic_voc(tmp_path / "t", **settings)
    jpeg = out / "JPEGImages" / "000001.jpg"
    before = jpeg.stat().st_mtime_ns
    os.utime(jpeg, ns=(before - 10**9, before - 10**9))
    make_synthetic_voc(out, **settings)
    assert jpeg.stat().st_mtime_ns == before - 10**9  # not written again
    with pytest.raises(FileExistsError, match=r"is not empty .*Choose an empty or new folder"):
        make_synthetic_voc(out, **{**settings, "seed": 2})


def test_bad_counts_are_refused(tmp_path, capsys):
    """Are negative counts and tiny images refused, by the function and the command?"""
    with pytest.raises(ValueError, match=r"Expected image counts >= 0 .* got train=-1"):
        make_synthetic_voc(tmp_path / "t", train=-1)
    assert main(["--out", str(tmp_path / "u"), "--size", "8"]) == 1
    assert "size >= 32" in capsys.readouterr().err


def test_synthetic_voc_writes_the_public_tree_once_and_mends_a_partial_one(tmp_path, monkeypatch):
    """The tree students train on: written on first use under $KIT_DATA_DIR, reused after (same
    bytes, no rewrite), and a half-written folder under its name (an interrupted first use) is
    replaced rather than read."""
    from helpers.data.synthetic import synthetic_voc

    monkeypatch.setenv("KIT_DATA_DIR", str(tmp_path))
    tree = synthetic_voc(train=3, val=1, test=1, size=64)
    assert tree == tmp_path / "synthetic-s0-3-1-1-64"
    first = {p.name: p.stat().st_mtime_ns for p in (tree / "JPEGImages").iterdir()}
    assert len(first) == 5
    assert synthetic_voc(train=3, val=1, test=1, size=64) == tree
    assert {p.name: p.stat().st_mtime_ns for p in (tree / "JPEGImages").iterdir()} == first
    assert [p.name for p in tmp_path.iterdir()] == [tree.name]  # no scratch folder left

    partial = tmp_path / "synthetic-s0-2-1-1-64"
    (partial / "JPEGImages").mkdir(parents=True)
    (partial / "JPEGImages" / "000001.jpg").write_bytes(b"half")
    mended = synthetic_voc(train=2, val=1, test=1, size=64)
    assert mended == partial and (mended / "synthetic.json").is_file()
    assert (mended / "JPEGImages" / "000001.jpg").read_bytes()[:2] == b"\xff\xd8"
