"""A VOC-layout classification split as in-memory arrays, shrunk to one square size.

Training a small network on the CPU reads every image once per epoch; decoding 2,000 JPEGs each
time would cost more than the network does. So the images are decoded and resized once into one
uint8 array that :class:`helpers.data.InMemoryLoader` batches::

    >>> import tempfile
    >>> from helpers.data.synthetic import make_synthetic_voc
    >>> tree = make_synthetic_voc(tempfile.mkdtemp(), train=3, val=0, test=0, seed=1)
    >>> data = classification_arrays(tree, "train", size=32)
    >>> data.images.dtype, data.images.shape, data.targets.dtype, data.targets.shape
    (dtype('uint8'), (3, 3, 32, 32), dtype('int64'), (3, 8))
    >>> data.classes[:3], data.ids
    (('circle', 'ring', 'crescent'), ['000001', '000002', '000003'])

The same :func:`resize_images` prepares the grader's hidden images
(:func:`helpers.data.hidden.read_hidden_inputs` gives them as a list of RGB arrays), so a network
sees its test images exactly as it saw its training images.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["ClassificationArrays", "classification_arrays", "resize_images"]


@dataclass(frozen=True)
class ClassificationArrays:
    """One split in memory.

    Attributes:
        images: uint8 (N, 3, S, S), values 0..255.
        targets: int64 (N, C): 1 present, 0 absent, -1 ignored (``difficult="ignore"``).
        ids: the N image ids, in the split file's order.
        classes: the C class names, in target order.
    """

    images: np.ndarray
    targets: np.ndarray
    ids: list[str]
    classes: tuple[str, ...]


def resize_images(images: Sequence[np.ndarray], size: int) -> np.ndarray:
    """Resize RGB images to ``size`` x ``size`` and stack them channel-first.

    Args:
        images: N uint8 arrays (H, W, 3) of any sizes (a list, or an array (N, H, W, 3)).
        size: the side of the output, in pixels.

    Returns:
        uint8 (N, 3, size, size). Pillow's bilinear filter widens with the scale factor when it
        shrinks an image (it averages, so no aliasing), which is why it is used here and not
        ``torch.nn.functional.interpolate``'s point sampling.

    >>> resize_images([np.zeros((10, 20, 3), np.uint8)], 8).shape
    (1, 3, 8, 8)
    """
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}.")
    out = np.empty((len(images), 3, size, size), dtype=np.uint8)
    for k, image in enumerate(images):
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f"Image {k} should be uint8 (H, W, 3) RGB, got {image.dtype} {image.shape}. "
                "Read images with helpers.data.hidden.read_hidden_inputs or PIL's "
                "Image.convert('RGB')."
            )
        resized = Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR)
        out[k] = np.asarray(resized).transpose(2, 0, 1)
    return out


def classification_arrays(
    root: str | os.PathLike,
    split: str,
    *,
    size: int,
    difficult: str = "positive",
    classes: Sequence[str] | None = None,
) -> ClassificationArrays:
    """Read a split of a VOC-layout tree (real VOC 2007 or the synthetic scenes) into memory.

    Args:
        root: the VOC folder, or a folder holding ``VOCdevkit/VOC2007``.
        split: ``"train"``, ``"val"``, ``"trainval"`` or ``"test"``.
        size: the side, in pixels, every image is resized to.
        difficult: ``"positive"`` or ``"ignore"``, as in
            :class:`helpers.data.voc.VOCClassification`.
        classes: the class names in target order; by default the tree's own (its
            ``classes.txt``, or VOC's 20).

    Returns:
        A :class:`ClassificationArrays`.
    """
    from helpers.data.voc import VOCClassification, _read_image

    data = VOCClassification(root, split, classes=classes, difficult=difficult)
    images = resize_images([np.asarray(_read_image(path)) for path in data.images], size)
    return ClassificationArrays(images, data.labels.copy(), list(data.ids), tuple(data.classes))
