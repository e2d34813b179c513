"""Single-label object crops from a VOC-layout tree: one square image per annotated object.

A VOC tree labels whole images with several classes; cutting out each annotated object gives a
single-label task (one class per crop) that the kit can read offline from the synthetic scenes
(:mod:`helpers.data.synthetic`) and, when it is present, from real VOC 2007. Assignment 4
(transfer learning) trains on them.

How a crop is made, for every object of every image of the split (in split order, then in the
order of the annotation file):

1. **Skipped** when ``difficult`` (VOC's annotators, or the synthetic generator, found it hard to
   recognise: less than half in view, or hardly different from what is behind it; VOC's own
   evaluation leaves these out too); when the shorter side of its box is below ``min_side``
   pixels (too few pixels to tell its class); and, with ``truncated=False``, when the annotation
   marks it truncated (cut by the image border).
2. **The box** (VOC's 1-based, inclusive ``xmin, ymin, xmax, ymax``) grows into a square around
   its centre whose side is the box's longer side times ``1 + 2 * margin``, so the whole object
   and a little context show, without stretching it (its outline is what tells the synthetic
   classes apart).
3. **Cut and resized** to ``size`` x ``size`` pixels (bilinear, with antialiasing when it
   shrinks). The part of the square outside the image is black.

The classes are the tree's (``classes.txt`` of a synthetic tree, else VOC's 20): label ``k`` is
``classes[k]`` whether or not every class has a crop in this split, so the labels of two splits
always agree.

>>> import tempfile
>>> from helpers.data.synthetic import make_synthetic_voc
>>> tree = make_synthetic_voc(tempfile.mkdtemp(), train=6, val=0, test=0, size=64, seed=3)
>>> crops = object_crops(tree, "train", size=32)
>>> crops.images.dtype, crops.images.shape[1:], crops.labels.dtype, len(crops.classes)
(dtype('uint8'), (32, 32, 3), dtype('int64'), 8)
>>> len(crops) == len(crops.labels) == len(crops.sources)
True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from helpers.data.voc import VOCObject, read_annotation

__all__ = [
    "CROP_MARGIN",
    "CROP_MIN_SIDE",
    "CROP_SIZE",
    "ObjectCrops",
    "crop_object",
    "few_per_class",
    "object_crops",
]

#: Side of a crop in pixels: ResNet-18 still has a 2x2 map before its last pooling at 64 px.
CROP_SIZE = 64
#: Context added on each side of the square, as a fraction of the box's longer side.
CROP_MARGIN = 0.15
#: Boxes whose shorter side is below this many pixels are skipped (too small to recognise).
CROP_MIN_SIDE = 8


@dataclass(frozen=True)
class ObjectCrops:
    """Object crops with one label each.

    Attributes:
        images: uint8 (N, S, S, 3), RGB values 0..255 (as PIL and ``images.npy`` of a hidden
            crops split hold them; ``chw()`` gives the (N, 3, S, S) layout torch wants).
        labels: int64 (N,), class indices into ``classes``.
        classes: the class names of the tree, ``classes[k]`` names label k.
        sources: str, one per crop: ``"<image id>/<object index>"`` (the object's position in
            its annotation file, from 0), to find the crop's scene again.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    sources: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def chw(self) -> np.ndarray:
        """The images as uint8 (N, 3, S, S), e.g. for ``InMemoryLoader``."""
        return np.ascontiguousarray(self.images.transpose(0, 3, 1, 2))

    def subset(self, index: np.ndarray | Sequence[int]) -> ObjectCrops:
        """The crops at ``index`` (int array or boolean mask), in that order."""
        index = np.asarray(index)
        picked = np.flatnonzero(index) if index.dtype == bool else index.astype(np.int64)
        return ObjectCrops(
            self.images[picked],
            self.labels[picked],
            self.classes,
            tuple(self.sources[k] for k in picked),
        )

    def counts(self) -> dict[str, int]:
        """Crops per class name, every class listed (0 for a class with none)."""
        per_class = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(n) for name, n in zip(self.classes, per_class, strict=True)}


def _square_box(
    bbox: tuple[int, int, int, int], margin: float
) -> tuple[float, float, float, float]:
    """The square around a VOC box, in PIL's pixel-edge coordinates (left, top, right, bottom).

    VOC's box is 1-based with both ends inside the object: pixel columns ``xmin - 1`` to
    ``xmax - 1`` in 0-based terms, so its edges are at ``xmin - 1`` and ``xmax``.

    >>> _square_box((11, 21, 30, 30), margin=0.0)  # 20 x 10 pixels, centred on (20, 25)
    (10.0, 15.0, 30.0, 35.0)
    """
    left, top, right, bottom = bbox[0] - 1, bbox[1] - 1, bbox[2], bbox[3]
    half = max(right - left, bottom - top) * (1 + 2 * margin) / 2
    cx, cy = (left + right) / 2, (top + bottom) / 2
    return (cx - half, cy - half, cx + half, cy + half)


def crop_object(
    image: Image.Image,
    bbox: tuple[int, int, int, int],
    *,
    size: int = CROP_SIZE,
    margin: float = CROP_MARGIN,
) -> np.ndarray:
    """Cut the square around one object's box out of ``image`` and resize it.

    Args:
        image: the scene, an RGB PIL image.
        bbox: the object's VOC box ``(xmin, ymin, xmax, ymax)``, 1-based, ends included.
        size: the crop's side in pixels.
        margin: context on each side, as a fraction of the box's longer side.

    Returns:
        uint8 (size, size, 3); black where the square leaves the image.

    >>> scene = Image.new("RGB", (40, 40), (200, 10, 10))
    >>> crop = crop_object(scene, (1, 1, 40, 40), size=8, margin=0.0)
    >>> crop.shape, crop.dtype, crop[4, 4].tolist()
    ((8, 8, 3), dtype('uint8'), [200, 10, 10])
    """
    left, top, right, bottom = _square_box(bbox, margin)
    # Image.transform with an EXTENT box cuts a sub-pixel square and resamples it in one step;
    # outside the image it fills with black (crop() would need whole pixels, then a resize).
    resample = Image.Resampling.BILINEAR
    side = right - left
    if side > 2 * size:
        # EXTENT samples without antialiasing: shrink the scene first so that a big object's
        # crop does not alias (reduce() averages whole blocks of pixels, which is cheap).
        factor = int(side // size)
        image = image.reduce(factor)
        left, top, right, bottom = (v / factor for v in (left, top, right, bottom))
    crop = image.transform(
        (size, size), Image.Transform.EXTENT, (left, top, right, bottom), resample=resample
    )
    return np.asarray(crop, dtype=np.uint8)


def _keep(obj: VOCObject, *, skip_difficult: bool, truncated: bool, min_side: int) -> bool:
    xmin, ymin, xmax, ymax = obj.bbox
    short = min(xmax - xmin + 1, ymax - ymin + 1)
    if skip_difficult and obj.difficult:
        return False
    if not truncated and obj.truncated:
        return False
    return short >= min_side


def object_crops(
    root: str | os.PathLike,
    split: str = "train",
    *,
    size: int = CROP_SIZE,
    margin: float = CROP_MARGIN,
    difficult: str = "skip",
    truncated: bool = True,
    min_side: int = CROP_MIN_SIDE,
    year: str = "2007",
    classes: Sequence[str] | None = None,
) -> ObjectCrops:
    """Every object of a split of a VOC-layout tree as a square crop with its class.

    Args:
        root: the VOC folder or a folder holding ``VOCdevkit/VOC2007`` (as for
            :class:`helpers.data.voc.VOCClassification`), e.g. ``synthetic_voc()``.
        split: ``"train"``, ``"val"``, ``"trainval"`` or ``"test"`` (``ImageSets/Main``).
        size: side of each crop in pixels.
        margin: context on each side of the box, as a fraction of its longer side.
        difficult: ``"skip"`` (default) leaves difficult objects out; ``"keep"`` keeps them.
        truncated: keep objects the annotation marks truncated (default); ``False`` skips them.
        min_side: skip boxes whose shorter side is below this many pixels.
        year: the VOC year of the layout.
        classes: the class names; by default the tree's.

    Returns:
        :class:`ObjectCrops`, in split order, then annotation order.

    Raises:
        DataMissingError: the tree, the split list or a file of it is missing or damaged (the
            message names the file and how to get the data).
        ValueError: a setting is out of range, or no object of the split is left to crop.
    """
    from torchvision.datasets.utils import verify_str_arg

    from helpers.data.voc import VOCClassification, _read_image

    verify_str_arg(difficult, "difficult", ("skip", "keep"))
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}.")
    if not 0 <= margin <= 1:
        raise ValueError(f"margin is a fraction of the box's side, 0 to 1; got {margin}.")
    # VOCClassification finds the tree, reads the split list, checks every listed file exists
    # and checks every annotation names a known class, with the kit's messages.
    data = VOCClassification(root, split, year=year, classes=classes)
    column = {name: k for k, name in enumerate(data.classes)}
    images, labels, sources = [], [], []
    for image_id, image_path, xml_path in zip(data.ids, data.images, data.targets, strict=True):
        objects = [
            (k, obj)
            for k, obj in enumerate(read_annotation(xml_path).objects)
            if _keep(
                obj, skip_difficult=difficult == "skip", truncated=truncated, min_side=min_side
            )
        ]
        if not objects:
            continue
        scene = _read_image(image_path)
        for k, obj in objects:
            images.append(crop_object(scene, obj.bbox, size=size, margin=margin))
            labels.append(column[obj.name])
            sources.append(f"{image_id}/{k}")
    if not images:
        raise ValueError(
            f"No object of split {split!r} of {data.voc_dir} is left to crop with "
            f"difficult={difficult!r}, truncated={truncated}, min_side={min_side}. Keep more "
            "(difficult='keep', truncated=True, a smaller min_side) or use a larger split."
        )
    return ObjectCrops(
        np.stack(images),
        np.asarray(labels, dtype=np.int64),
        tuple(data.classes),
        tuple(sources),
    )


def few_per_class(crops: ObjectCrops, per_class: int, *, seed: int = 0) -> ObjectCrops:
    """A class-balanced random subset: ``per_class`` crops of every class (the "few labelled
    images" regime), in a shuffled order.

    Args:
        crops: what :func:`object_crops` returned.
        per_class: crops to keep of each class that has any.
        seed: which ones; the same seed gives the same subset.

    Raises:
        ValueError: a class that has crops has fewer than ``per_class``; the message names it.

    >>> crops = ObjectCrops(np.zeros((6, 8, 8, 3), np.uint8), np.array([0, 0, 0, 1, 1, 1]),
    ...                     ("a", "b"), tuple("uvwxyz"))
    >>> few = few_per_class(crops, 2, seed=0)
    >>> sorted(few.labels.tolist()), len(set(few.sources))
    ([0, 0, 1, 1], 4)
    """
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}.")
    rng = np.random.default_rng(seed)
    picked = []
    for k, name in enumerate(crops.classes):
        members = np.flatnonzero(crops.labels == k)
        if len(members) == 0:
            continue
        if len(members) < per_class:
            raise ValueError(
                f"Class {name!r} has only {len(members)} crops, fewer than per_class="
                f"{per_class}. Use a smaller per_class or a larger split."
            )
        picked.append(rng.choice(members, per_class, replace=False))
    return crops.subset(rng.permutation(np.concatenate(picked)))
