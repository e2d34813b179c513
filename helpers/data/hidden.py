"""Hidden test sets for grading: the inputs a notebook sees in one folder, the labels only the
grader reads in another. Every file is read without pickle.

Inputs folder (given to the student's notebook)::

    ids.csv          header ``id``, then one id per line, e.g. ``h00017``
    images.npy       Fashion-MNIST: uint8 (N, 28, 28), row k is the image of the k-th id;
                     object crops (``task="crops"``): uint8 (N, S, S, 3) RGB, one object each
    <id>.jpg         VOC-style data: one JPEG per id (the original file's bytes); nothing else

Labels folder (the grader's only; root-readable in a container)::

    labels.csv       single-label (Fashion-MNIST, object crops): header ``id,label``, one
                     integer class a row;
                     multi-label (VOC-style): header ``id,<class names...>``, 1 present,
                     0 absent, -1 ignored (difficult only, with ``difficult="ignore"``)
    masks/<id>.png   segmentation only: palette PNG in VOC's colours, 0 background, k + 1 for
                     class k, 255 ignored

The rows of ``labels.csv`` follow ``ids.csv``. Ids are ``h`` and the position in an order
shuffled with ``seed``, so they say nothing about an image's index in the original split; use a
seed the students do not know (and, for synthetic scenes, a tree generated with a private seed).

From a shell::

    python -m helpers.data.hidden --dataset fashion-mnist --inputs hidden/in --labels hidden/lab
    python -m helpers.data.hidden --dataset synthetic --root data/synthetic-private \\
        --task segmentation --superclasses --inputs hidden/in --labels hidden/lab --seed 7

>>> import tempfile
>>> from helpers.data.synthetic import make_synthetic_voc
>>> tree = make_synthetic_voc(tempfile.mkdtemp(), train=0, val=0, test=5, seed=3)
>>> out = Path(tempfile.mkdtemp())
>>> prepare_hidden_split("synthetic", out / "in", out / "lab", root=tree, seed=1)
5
>>> ids, labels = read_hidden_labels(out / "lab")
>>> ids[:2], labels.shape, labels.dtype
(['h00000', 'h00001'], (5, 8), dtype('int64'))

Why over ~400 lines: one file format (the hidden set's two folders), written and read in one
place so the writer and the readers cannot drift apart; a student reads only
``read_hidden_inputs``. A cut exists (the image transforms, lines ``ImageTransform`` to
``transform_images``, are a job of their own) and is left for a follow-up.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# fashion is NumPy only. PIL, torchvision and the VOC readers are imported where they are used:
# the grader imports this module to read labels and must not pull torch in (helpers._lazy).
from helpers.data.fashion import DataMissingError

__all__ = [
    "DATASETS",
    "TRANSFORMS",
    "ImageTransform",
    "prepare_hidden_split",
    "public_test_paths",
    "read_hidden_inputs",
    "read_hidden_labels",
    "read_hidden_masks",
    "redraw_hidden_inputs",
    "transform_images",
]

DATASETS = ("fashion-mnist", "voc", "synthetic")
TASKS = ("classification", "segmentation", "crops")
IDS_FILE = "ids.csv"
IMAGES_FILE = "images.npy"
LABELS_FILE = "labels.csv"
MASKS_DIR = "masks"


@dataclass(frozen=True)
class ImageTransform:
    """Random changes the grader makes to each hidden Fashion-MNIST image, so that the image
    is no longer a copy of one in the public files (where a notebook could look its label up).

    Each image gets its own draw, in this order: a left-right mirror (``flip``, probability
    1/2), one affine warp (rotation, scale and shift about the centre, bilinear, black outside)
    and additive Gaussian noise, rounded and clipped to 0..255.

    Attributes:
        flip: mirror half of the images, left to right.
        rotate: largest rotation, in degrees (uniform in [-rotate, rotate]).
        scale: largest relative change of size (uniform factor in [1 - scale, 1 + scale]).
        shift: largest shift in pixels along each axis (uniform, not whole pixels).
        noise: standard deviation of the noise, in grey levels (0..255).
    """

    flip: bool = False
    rotate: float = 0.0
    scale: float = 0.0
    shift: float = 0.0
    noise: float = 0.0


#: The transforms ``[hidden_data] transform`` can name; figures in ``bench/hidden_lookup.py``.
TRANSFORMS = {
    "none": ImageTransform(),
    "noise": ImageTransform(noise=4.0),
    "shift-flip-noise": ImageTransform(flip=True, shift=2.0, noise=4.0),
    "affine-flip-noise": ImageTransform(flip=True, rotate=15.0, scale=0.15, shift=2.0, noise=4.0),
}


def transform_images(images: np.ndarray, transform: ImageTransform, seed: int) -> np.ndarray:
    """Apply ``transform`` to every image, each with its own random draw from ``seed``.

    Args:
        images: uint8 (N, H, W), grey levels 0..255 on a black background.
        transform: what to change (see :class:`ImageTransform`).
        seed: the private seed; the same seed gives the same images.

    Returns:
        uint8 (N, H, W): new arrays, ``images`` is left as it is.

    >>> same = transform_images(np.full((2, 4, 4), 7, np.uint8), TRANSFORMS["none"], seed=1)
    >>> same.dtype, same.shape, int(same.min()), int(same.max())
    (dtype('uint8'), (2, 4, 4), 7, 7)
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"images must be uint8 (N, H, W); got {images.dtype} {images.shape}.")
    n, h, w = images.shape
    rng = np.random.default_rng(seed)
    out = images.astype(np.float32)
    if transform.flip:
        mirrored = rng.random(n) < 0.5
        out[mirrored] = out[mirrored, :, ::-1]
    if transform.rotate or transform.scale or transform.shift:
        # torch only here: the grader noises every submission's copy in its own process
        # (redraw_hidden_inputs), which a noise-only transform keeps free of torch.
        import torch
        from torch.nn import functional

        # One batched warp through torch's affine_grid/grid_sample rather than a loop of
        # per-image calls. The grid is in [-1, 1] units, so a shift of s pixels is 2 s / size;
        # it maps output to input positions, hence the inverse rotation and scale.
        angle = np.deg2rad(rng.uniform(-transform.rotate, transform.rotate, n))
        size = rng.uniform(1 - transform.scale, 1 + transform.scale, n)
        dx, dy = rng.uniform(-transform.shift, transform.shift, (2, n))
        cos, sin = np.cos(angle) / size, np.sin(angle) / size
        theta = np.stack(
            [np.stack([cos, -sin, -2 * dx / w], 1), np.stack([sin, cos, -2 * dy / h], 1)], 1
        )
        grid = functional.affine_grid(
            torch.from_numpy(theta.astype(np.float32)), [n, 1, h, w], align_corners=False
        )
        warped = functional.grid_sample(
            torch.from_numpy(out[:, None]), grid, mode="bilinear", align_corners=False
        )
        out = warped[:, 0].numpy()
    if transform.noise:
        out = out + rng.normal(0.0, transform.noise, out.shape).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


#: Where apt keeps the packages it downloaded: Debian's ``dataset-fashion-mnist`` ``.deb`` holds
#: the test split too, readable by anyone (``ar`` and ``tar`` unpack it).
APT_ARCHIVES = Path("/var/cache/apt/archives")


def public_test_paths(extra_roots: Sequence[str | os.PathLike] = ()) -> list[Path]:
    """Where a notebook could read Fashion-MNIST's public test split (the images the hidden set
    is drawn from), existing or not: the grader hides these from the kernel.

    The test files in every folder :func:`helpers.data.fashion.fashion_mnist` searches or
    downloads into (``$KIT_DATA_DIR`` as the grader sees it, Debian's folder,
    ``~/.cache/kit-data``), in torchvision's ``FashionMNIST/raw`` layout under each and under
    ``extra_roots`` (e.g. the kit's ``data/``), ``.gz`` and torchvision's decompressed copies;
    and apt's whole package cache, :data:`APT_ARCHIVES`, which nothing in a notebook needs.
    Only the test files otherwise: a notebook may still read the training split (a2 does, under
    the grader too).

    >>> Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") in public_test_paths()
    True
    """
    from helpers.data.fashion import _FILES, _candidate_dirs, _download_dir

    folders = _candidate_dirs(None)
    for base in (_download_dir(None), *map(Path, extra_roots)):
        folders += [base, base / "fashion-mnist", base / "FashionMNIST" / "raw"]
    names = [name for name, _, _ in _FILES["test"]]
    names += [name.removesuffix(".gz") for name in names]
    found = [folder / name for folder in folders for name in names]
    return [*dict.fromkeys(found), APT_ARCHIVES]


def _hidden_ids(n: int) -> list[str]:
    width = max(5, len(str(n - 1)))
    return [f"h{k:0{width}d}" for k in range(n)]


def _check_folders(inputs: Path, labels: Path) -> None:
    a, b = inputs.resolve(), labels.resolve()
    if a == b or a in b.parents or b in a.parents:
        raise ValueError(
            f"The inputs folder ({inputs}) and the labels folder ({labels}) must be separate, "
            "neither inside the other: students get the inputs, only the grader the labels."
        )
    for folder in (inputs, labels):
        if folder.exists() and any(folder.iterdir()):
            raise FileExistsError(
                f"{folder} is not empty. Give an empty or new folder (or delete this one), so "
                "that no file of an earlier split is left beside the new one."
            )
        folder.mkdir(parents=True, exist_ok=True)


def _write_csv(path: Path, header: Sequence[str], rows: list[list]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _superclass_labels(labels: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Multi-hot over superclasses: 1 if any member is 1, else -1 if any member is -1."""
    from helpers.data.synthetic import SUPERCLASS_OF, SYNTHETIC_SUPERCLASSES

    out = np.zeros((len(labels), len(SYNTHETIC_SUPERCLASSES)), dtype=np.int64)
    for j, name in enumerate(SYNTHETIC_SUPERCLASSES):
        members = labels[:, [k for k, c in enumerate(classes) if SUPERCLASS_OF[c] == name]]
        out[:, j] = np.where((members == 1).any(1), 1, np.where((members == -1).any(1), -1, 0))
    return out


def prepare_hidden_split(
    dataset: str,
    inputs: str | os.PathLike,
    labels: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    split: str = "test",
    task: str = "classification",
    difficult: str = "positive",
    superclasses: bool = False,
    seed: int = 0,
    limit: int | None = None,
    transform: str = "none",
    transform_seed: int | None = None,
) -> int:
    """Write a hidden test set: images into ``inputs``, labels into ``labels`` (format above).

    Args:
        dataset: ``"fashion-mnist"``, ``"voc"`` (the real VOC tree) or ``"synthetic"`` (a tree
            written by ``python -m helpers.data.synthetic``).
        inputs, labels: two separate empty or new folders.
        root: where the data is: required for ``"voc"`` and ``"synthetic"`` (the VOC folder or
            the folder holding ``VOCdevkit/``); for Fashion-MNIST a folder to look in first.
        split: which split to draw from (``"test"`` by default).
        task: ``"classification"`` or (VOC-style only) ``"segmentation"``, which takes the ids
            of ``ImageSets/Segmentation`` and also writes ``masks/``, or ``"crops"``: every
            object of the split cut out as :func:`helpers.data.crops.object_crops` does with
            its defaults (the notebooks' settings), written as ``images.npy`` with single labels;
            ``limit`` and the shuffle then count crops, not scenes.
        difficult: ``"positive"`` or ``"ignore"`` for VOC-style labels (see
            :class:`helpers.data.voc.VOCClassification`).
        superclasses: synthetic only: label columns and mask indices are the 3 superclasses of
            :data:`helpers.data.synthetic.SYNTHETIC_SUPERCLASSES` instead of the 8 classes.
        seed: seeds the shuffle that hides the original order.
        limit: keep at most this many images (a random subset, by ``seed``); ``None`` or 0
            keeps the whole split (as ``limit = 0`` in ``assignment.toml``).
        transform: Fashion-MNIST only: a name in :data:`TRANSFORMS`, what is done to each
            image so that it is no copy of one in the public files (``"none"``: the originals).
        transform_seed: the transform's private seed; ``None`` draws one from :mod:`secrets`.
            It is written nowhere: a notebook cannot find it, and writing the split again
            gives other images.

    Returns:
        How many images were written.
    """
    from torchvision.datasets.utils import verify_str_arg

    from helpers.data.voc import (
        VOCClassification,
        VOCSegmentation,
        labels_from_annotation,
        read_annotation,
    )

    verify_str_arg(dataset, "dataset", DATASETS)
    verify_str_arg(task, "task", TASKS)
    if dataset == "fashion-mnist" and task != "classification":
        raise ValueError(
            f"task={task!r} needs a VOC-style dataset ('voc' or 'synthetic'): Fashion-MNIST has "
            "no masks and no object boxes. Use task='classification'."
        )
    if superclasses and task == "crops":
        raise ValueError(
            "superclasses=True is for multi-label and mask tasks; object crops keep the tree's "
            "classes. Leave superclasses out for task='crops'."
        )
    if superclasses and dataset != "synthetic":
        raise ValueError("superclasses=True needs dataset='synthetic': only its classes group.")
    verify_str_arg(transform, "transform", tuple(TRANSFORMS))
    if transform != "none" and dataset != "fashion-mnist":
        raise ValueError(
            f"transform={transform!r} needs dataset='fashion-mnist': other datasets' images are "
            "copied as they are (use transform='none')."
        )
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be a number of images, or 0 for all; got {limit}.")
    if dataset != "fashion-mnist" and root is None:
        make = (
            "write one with `python -m helpers.data.synthetic --out DIR --seed PRIVATE_SEED`"
            if dataset == "synthetic"
            else "get it with `python -m helpers.data.voc --root DIR --image-set test`"
        )
        raise ValueError(
            f"dataset={dataset!r} needs the VOC tree's folder (root=, or --root): {make}."
        )
    inputs, labels = Path(inputs), Path(labels)

    if dataset == "fashion-mnist":
        from helpers.data.fashion import fashion_mnist

        data = fashion_mnist(split, root)
        n = len(data.labels)
    else:
        kind = VOCSegmentation if task == "segmentation" else VOCClassification
        data = kind(root, split)
        n = len(data)
        if task == "crops":
            from helpers.data.crops import object_crops

            crops = object_crops(root, split)
            n = len(crops)
        if dataset == "synthetic" and not (data.voc_dir / "synthetic.json").is_file():
            raise ValueError(
                f"{data.voc_dir} is not a synthetic tree (it has no synthetic.json). Use "
                "dataset='voc' for real VOC, or write one with `python -m helpers.data.synthetic`."
            )

    order = np.random.default_rng(seed).permutation(n)[: limit or n]
    ids = _hidden_ids(len(order))
    _check_folders(inputs, labels)
    _write_csv(inputs / IDS_FILE, ["id"], [[i] for i in ids])

    if dataset == "fashion-mnist":
        if transform_seed is None:
            transform_seed = secrets.randbits(64)
        images = transform_images(data.images[order], TRANSFORMS[transform], transform_seed)
        np.save(inputs / IMAGES_FILE, images, allow_pickle=False)
        rows = [[i, int(y)] for i, y in zip(ids, data.labels[order], strict=True)]
        _write_csv(labels / LABELS_FILE, ["id", "label"], rows)
        return len(ids)

    if task == "crops":
        np.save(inputs / IMAGES_FILE, crops.images[order], allow_pickle=False)
        rows = [[i, int(y)] for i, y in zip(ids, crops.labels[order], strict=True)]
        _write_csv(labels / LABELS_FILE, ["id", "label"], rows)
        return len(ids)

    classes = list(data.classes)
    multi_hot = np.stack(
        [
            labels_from_annotation(read_annotation(p), classes, difficult, path=p)
            for p in (data.voc_dir / "Annotations" / f"{data.ids[k]}.xml" for k in order)
        ]
    )
    columns = classes
    if superclasses:
        from helpers.data.synthetic import SYNTHETIC_SUPERCLASSES

        multi_hot, columns = _superclass_labels(multi_hot, classes), list(SYNTHETIC_SUPERCLASSES)
    for new_id, k in zip(ids, order, strict=True):
        shutil.copyfile(data.images[k], inputs / f"{new_id}.jpg")
    rows = [[i, *map(int, row)] for i, row in zip(ids, multi_hot, strict=True)]
    _write_csv(labels / LABELS_FILE, ["id", *columns], rows)

    if task == "segmentation":
        from PIL import Image

        from helpers.data.synthetic import to_superclass_mask
        from helpers.data.voc import VOC_PALETTE, read_mask

        (labels / MASKS_DIR).mkdir()
        for new_id, k in zip(ids, order, strict=True):
            mask = read_mask(data.targets[k])
            if superclasses:
                mask = to_superclass_mask(mask, classes)
            png = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.tobytes())
            png.putpalette(VOC_PALETTE)
            png.save(labels / MASKS_DIR / f"{new_id}.png")
    return len(ids)


def redraw_hidden_inputs(
    source: str | os.PathLike,
    target: str | os.PathLike,
    *,
    transform: str = "none",
    seed: int | None = None,
) -> dict[str, str]:
    """Write one grading run's copy of a hidden split's inputs: the same images under new ids,
    in a new order and, for Fashion-MNIST, transformed with a new seed. A student who prints
    the images in one submission's feedback and labels them at home cannot use that table in
    the next one: there the ids name other images, and the noise is drawn again.

    Args:
        source: an inputs folder as :func:`prepare_hidden_split` writes it, untransformed
            (``transform="none"``): the grader's own copy, never shown to a notebook, so that
            the noise of one run never adds to another's.
        target: a new or empty folder (the kernel's ``DATA_DIR``).
        transform: a name in :data:`TRANSFORMS`, applied to the copy (Fashion-MNIST only).
        seed: seeds the new order and the transform; ``None`` (the grader's case) draws one
            from :mod:`secrets`, kept nowhere.

    Returns:
        ``{new id: id in source}``, in the order of the copy's ``ids.csv``: score predictions
        by new id against the labels of the source id (:func:`autograder.score`).

    >>> import tempfile
    >>> src, dst = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp()) / "copy"
    >>> _write_csv(src / IDS_FILE, ["id"], [["h00000"], ["h00001"], ["h00002"]])
    >>> np.save(src / IMAGES_FILE, np.repeat(np.arange(3, dtype=np.uint8), 4).reshape(3, 2, 2))
    >>> mapping = redraw_hidden_inputs(src, dst, seed=5)
    >>> ids, images = read_hidden_inputs(dst)
    >>> ids == list(mapping) == ["h00000", "h00001", "h00002"]
    True
    >>> [int(images[k, 0, 0]) for k in range(3)] == [int(mapping[i][1:]) for i in ids]
    True
    """
    source, target = Path(source), Path(target)
    if transform not in TRANSFORMS:
        raise ValueError(f"Unknown transform {transform!r}. Valid ones: {', '.join(TRANSFORMS)}.")
    old_ids = _read_ids(source / IDS_FILE)
    order_seed, transform_seed = np.random.SeedSequence(
        secrets.randbits(128) if seed is None else seed
    ).spawn(2)
    order = np.random.default_rng(order_seed).permutation(len(old_ids))
    new_ids = _hidden_ids(len(old_ids))
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty; give a new folder for the hidden inputs.")
    array_file = source / IMAGES_FILE
    if array_file.is_file():
        _, images = read_hidden_inputs(source)  # checks the count against ids.csv
        seed_int = int(transform_seed.generate_state(2, np.uint64)[0])
        if images.ndim == 4 and transform != "none":
            raise ValueError(
                f"transform={transform!r} needs Fashion-MNIST's grey images (N, H, W) in "
                f"{array_file}, which holds colour crops {images.shape}: they are copied as "
                "they are (use transform='none')."
            )
        if images.ndim == 4:  # object crops (N, S, S, 3): nothing to transform, only reorder
            images = images[order]
        else:
            images = transform_images(images[order], TRANSFORMS[transform], seed_int)
        np.save(target / IMAGES_FILE, images, allow_pickle=False)
    elif transform != "none":
        raise ValueError(
            f"transform={transform!r} needs Fashion-MNIST's images.npy in {source}; JPEG "
            "inputs are copied as they are (use transform='none')."
        )
    else:
        for new_id, k in zip(new_ids, order, strict=True):
            path = source / f"{old_ids[k]}.jpg"
            if not path.is_file():
                raise DataMissingError(
                    f"Image {path} (listed in {IDS_FILE}) is missing. Write the split again "
                    "with `python -m helpers.data.hidden`."
                )
            shutil.copyfile(path, target / f"{new_id}.jpg")
    _write_csv(target / IDS_FILE, ["id"], [[i] for i in new_ids])
    return {new_id: old_ids[k] for new_id, k in zip(new_ids, order, strict=True)}


def _read_ids(path: Path) -> list[str]:
    if not path.is_file():
        raise DataMissingError(
            f"{path} is missing. A hidden split's folders are written by "
            "`python -m helpers.data.hidden`; check the folder you passed."
        )
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:1] != ["id"]:
        raise DataMissingError(
            f"{path} should start with the header 'id', but starts with {rows[:1]}. "
            "Write the split again with `python -m helpers.data.hidden`."
        )
    return [row[0] for row in rows[1:] if row]


def read_hidden_inputs(
    inputs: str | os.PathLike,
) -> tuple[list[str], np.ndarray | list[np.ndarray]]:
    """Read a hidden split's inputs folder.

    Returns:
        ids: the ids, in file order (write predictions in this order);
        images: uint8 array (N, 28, 28) for Fashion-MNIST, uint8 (N, S, S, 3) for object
        crops, else a list of N uint8 RGB arrays (H, W, 3), one per id.
    """
    inputs = Path(inputs)
    ids = _read_ids(inputs / IDS_FILE)
    array_file = inputs / IMAGES_FILE
    if array_file.is_file():
        images = np.load(array_file, allow_pickle=False)
        if len(images) != len(ids):
            raise DataMissingError(
                f"{array_file} holds {len(images)} images but {inputs / IDS_FILE} lists "
                f"{len(ids)} ids. Write the split again with `python -m helpers.data.hidden`."
            )
        return ids, images
    from PIL import Image

    images = []
    for i in ids:
        path = inputs / f"{i}.jpg"
        try:
            with Image.open(path) as jpeg:
                images.append(np.asarray(jpeg.convert("RGB")))
        except (OSError, SyntaxError) as error:
            raise DataMissingError(
                f"Image {path} (listed in {IDS_FILE}) cannot be read ({error}). Write the split "
                "again with `python -m helpers.data.hidden`."
            ) from error
    return ids, images


def read_hidden_labels(labels: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Read a hidden split's ``labels.csv``.

    Returns:
        ids: the ids, in file order;
        labels: int64 (N,) class indices for ``id,label`` files, else int64 (N, C) in 1 / 0 / -1.
    """
    path = Path(labels) / LABELS_FILE
    if not path.is_file():
        raise DataMissingError(
            f"{path} is missing. Write the hidden split with `python -m helpers.data.hidden`."
        )
    with path.open(newline="") as f:
        rows = [row for row in csv.reader(f) if row]
    header = rows[0] if rows else []
    if header[:1] != ["id"] or len(header) < 2:
        raise DataMissingError(
            f"{path} should start with 'id,label' or 'id,<class names>', but starts with "
            f"{header}. Write the split again with `python -m helpers.data.hidden`."
        )
    ids = [row[0] for row in rows[1:]]
    try:
        values = np.array([[int(v) for v in row[1:]] for row in rows[1:]], dtype=np.int64)
    except ValueError as error:
        raise DataMissingError(f"{path} holds a value that is not an integer: {error}.") from error
    if values.shape != (len(ids), len(header) - 1):
        raise DataMissingError(
            f"{path} has rows of different lengths: every row needs {len(header)} values."
        )
    if header == ["id", "label"]:
        return ids, values[:, 0]
    if values.size and not np.isin(values, (-1, 0, 1)).all():
        bad = sorted(set(np.unique(values).tolist()) - {-1, 0, 1})
        raise DataMissingError(f"{path} should hold only 1, 0 and -1, but holds {bad}.")
    return ids, values


def read_hidden_masks(labels: str | os.PathLike, ids: Sequence[str]) -> list[np.ndarray]:
    """The masks of ``ids`` from a hidden split's ``masks/`` folder: uint8 (H, W) each,
    0 background, k + 1 for class k, 255 ignored."""
    from helpers.data.voc import read_mask

    return [read_mask(Path(labels) / MASKS_DIR / f"{i}.png") for i in ids]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.data.hidden``: write a hidden test set."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.data.hidden",
        description="Write a grader's hidden test set: images in --inputs, labels in --labels.",
        epilog=(
            "examples:\n"
            "  python -m helpers.data.hidden --dataset fashion-mnist --inputs h/in --labels h/lab\n"
            "  python -m helpers.data.hidden --dataset voc --root data/voc --inputs h/in "
            "--labels h/lab --limit 1000\n"
            "  python -m helpers.data.hidden --dataset synthetic --root data/private "
            "--task segmentation --superclasses --inputs h/in --labels h/lab --seed 7"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="which data")
    parser.add_argument("--root", help="the data's folder (required for voc and synthetic)")
    parser.add_argument("--split", default="test", help="split to draw from (default test)")
    parser.add_argument("--task", default="classification", choices=TASKS, help="what to label")
    parser.add_argument(
        "--difficult", default="positive", choices=("positive", "ignore"), help="VOC's difficult"
    )
    parser.add_argument(
        "--superclasses", action="store_true", help="synthetic: label the 3 superclasses"
    )
    parser.add_argument("--inputs", required=True, help="empty folder for the images")
    parser.add_argument("--labels", required=True, help="empty folder for the labels")
    parser.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0)")
    parser.add_argument("--limit", type=int, help="keep at most this many images (0: all)")
    parser.add_argument(
        "--transform", default="none", choices=TRANSFORMS, help="fashion-mnist: change each image"
    )
    parser.add_argument(
        "--transform-seed", type=int, help="the transform's seed (default: a secret random one)"
    )
    args = parser.parse_args(argv)
    try:
        n = prepare_hidden_split(
            args.dataset,
            args.inputs,
            args.labels,
            root=args.root,
            split=args.split,
            task=args.task,
            difficult=args.difficult,
            superclasses=args.superclasses,
            seed=args.seed,
            limit=args.limit,
            transform=args.transform,
            transform_seed=args.transform_seed,
        )
    except (DataMissingError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{n} hidden {args.dataset} images in {args.inputs}, their labels in {args.labels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
