"""Segmentation overlays: class-index masks drawn over their images in VOC's colours.

A mask is class indices ``(H, W)`` of an integer dtype, 255 = ignore (VOC's border).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.patches import Patch
from torchvision.utils import draw_segmentation_masks

from helpers.data.voc import IGNORE_INDEX, VOC_CLASSES, VOC_PALETTE
from helpers.plots._style import _LAYOUT
from helpers.plots.convert import ArrayLike, _first_images, _image_list, _to_numpy, to_display_image

#: PASCAL VOC's segmentation classes, index = mask value (0 is background; 255 = IGNORE_INDEX).
VOC_SEGMENTATION_CLASSES = ("background", *VOC_CLASSES)

#: VOC's colour for each mask value, uint8 (256, 3) RGB (the palette of VOC's PNG masks).
_VOC_COLOURS = np.array(VOC_PALETTE, dtype=np.uint8).reshape(256, 3)


def _check_mask(mask: ArrayLike, names: Sequence[str], what: str = "mask") -> np.ndarray:
    m = _to_numpy(mask)
    if m.ndim == 3 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2 or not (np.issubdtype(m.dtype, np.integer) or m.dtype == bool):
        hint = (
            " If these are per-class scores (C, H, W), take scores.argmax(0) first."
            if m.ndim == 3
            else ""
        )
        raise ValueError(
            f"Expected the {what} as class indices (H, W) of an integer dtype, {IGNORE_INDEX} = "
            f"ignore; got shape {tuple(m.shape)} and dtype {m.dtype}.{hint}"
        )
    m = m.astype(np.int64)
    bad = sorted(set(np.unique(m).tolist()) - set(range(len(names))) - {IGNORE_INDEX})
    if bad:
        raise ValueError(
            f"The {what} holds values {bad[:10]} that are neither a class index below "
            f"{len(names)} nor {IGNORE_INDEX} (ignore). Pass class_names for every class."
        )
    return m


def plot_segmentation(
    image: ArrayLike,
    mask: ArrayLike,
    *,
    class_names: Sequence[str] | None = None,
    alpha: float = 0.55,
    show_background: bool = False,
    legend: bool = True,
    title: str | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A class-index mask drawn semi-transparently over its image, in VOC's colours.

    Args:
        image: one image, float ``(C, H, W)`` in [0, 1] or uint8 ``(H, W, C)``, C = 1 or 3.
        mask: class indices ``(H, W)`` (integer dtype) of the same H and W; 255 = ignore, drawn in
            VOC's cream border colour.
        class_names: one name per class index; default VOC's 21 (``VOC_SEGMENTATION_CLASSES``).
        alpha: opacity of the colours, 0 (image only) to 1 (mask only).
        show_background: also tint class 0 (by default the background is left clear).
        legend: list the classes present in the mask, with their colours, right of the image.
        title, mean, std, ax: as elsewhere in this module.

    >>> mask = np.zeros((8, 8), dtype=np.int64); mask[2:6, 2:6] = 15; mask[0, 0] = 255
    >>> ax = plot_segmentation(torch.rand(3, 8, 8), mask)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['person', 'ignore']
    """
    names = list(VOC_SEGMENTATION_CLASSES if class_names is None else class_names)
    m = _check_mask(mask, names)
    pixels = to_display_image(image, mean=mean, std=std)
    if pixels.shape[:2] != m.shape:
        raise ValueError(
            f"The image is {pixels.shape[0]}×{pixels.shape[1]} (H×W) but the mask is "
            f"{m.shape[0]}×{m.shape[1]}; they must match pixel for pixel (resize the mask with "
            f"nearest-neighbour interpolation, or the image to the mask)."
        )
    rgb = np.repeat(pixels[..., None], 3, axis=-1) if pixels.ndim == 2 else pixels
    present = [int(c) for c in np.unique(m) if show_background or c != 0]
    colours = _VOC_COLOURS
    if present:
        layers = torch.from_numpy(np.stack([m == c for c in present]))
        blended = draw_segmentation_masks(
            torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))),
            layers,
            alpha=alpha,
            colors=[tuple(int(v) for v in colours[c]) for c in present],
        )
        rgb = blended.numpy().transpose(1, 2, 0)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4), layout=_LAYOUT)
    ax.imshow(rgb, vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=9)
    if legend:
        _segmentation_legend(ax, present, names)
    return ax


def _segmentation_legend(ax: Axes, classes: Sequence[int], names: Sequence[str]) -> None:
    """Colour patches for the given class indices, right of the axes."""
    if not classes:
        return
    colours = _VOC_COLOURS
    handles = [
        Patch(
            facecolor=colours[c] / 255.0,
            edgecolor="black",
            label="ignore" if c == IGNORE_INDEX else names[c],
        )
        for c in classes
    ]
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False
    )


def plot_segmentations(
    images: ArrayLike,
    masks: ArrayLike,
    predictions: ArrayLike | None = None,
    *,
    class_names: Sequence[str] | None = None,
    alpha: float = 0.55,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    axes: Any = None,
) -> np.ndarray:
    """Rows of image / true mask / predicted mask, for a few images.

    ``masks`` and ``predictions`` are class indices ``(N, H, W)`` (or lists of ``(H, W)``);
    255 = ignore. The predicted panel's title gives its pixel accuracy over non-ignored pixels.
    At most 16 images are shown. Each row's legend lists the classes of both its masks.

    Returns:
        The axes, ``(N, 2)`` or ``(N, 3)`` with predictions.

    >>> masks = np.zeros((2, 8, 8), dtype=np.int64); masks[:, 2:6, 2:6] = 12
    >>> guess = masks.copy(); guess[:, 2:6, 2:4] = 8
    >>> axes = plot_segmentations(torch.rand(2, 3, 8, 8), masks, guess)
    >>> axes.shape, axes[0, 2].get_title()
    ((2, 3), 'predicted (pixel acc 0.875)')
    >>> [t.get_text() for t in axes[0, 2].get_legend().get_texts()]
    ['cat', 'dog']
    """
    pictures = _first_images(_image_list(images), 16)
    n = len(pictures)
    true_masks = list(masks)[:n]
    predicted = None if predictions is None else list(predictions)[:n]
    if len(true_masks) < n or (predicted is not None and len(predicted) < n):
        raise ValueError(f"Got {n} images but fewer masks; pass one mask (and prediction) each.")
    ncols = 2 if predicted is None else 3
    if axes is None:
        _, axes = plt.subplots(
            n, ncols, figsize=(3.4 * ncols + 1.2, 3.0 * n), squeeze=False, layout=_LAYOUT
        )
    grid = np.asarray(axes, dtype=object)
    if grid.shape != (n, ncols):
        raise ValueError(f"Expected axes of shape ({n}, {ncols}); got {grid.shape}.")
    names = list(VOC_SEGMENTATION_CLASSES if class_names is None else class_names)
    for i in range(n):
        pixels = to_display_image(pictures[i], mean=mean, std=std)
        grid[i, 0].imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=1)
        grid[i, 0].set_xticks([])
        grid[i, 0].set_yticks([])
        grid[i, 0].set_title("image", fontsize=9)
        common = dict(class_names=names, alpha=alpha, mean=mean, std=std, legend=False)
        plot_segmentation(pictures[i], true_masks[i], title="true", ax=grid[i, 1], **common)
        shown = set(np.unique(_check_mask(true_masks[i], names)).tolist())
        if predicted is not None:
            t = _check_mask(true_masks[i], names)
            p = _check_mask(predicted[i], names, what="predicted mask")
            if p.shape != t.shape:
                raise ValueError(
                    f"Image {i}: the true mask is {t.shape[0]}×{t.shape[1]} but the predicted "
                    f"mask is {p.shape[0]}×{p.shape[1]}; predict at the mask's size."
                )
            valid = t != IGNORE_INDEX
            accuracy = float((p[valid] == t[valid]).mean()) if valid.any() else math.nan
            title = f"predicted (pixel acc {accuracy:.3f})"
            plot_segmentation(pictures[i], p, title=title, ax=grid[i, 2], **common)
            shown |= set(np.unique(p).tolist())
        # one legend per row, for the classes of the true and the predicted mask together
        _segmentation_legend(grid[i, -1], sorted(shown - {0}), names)
    return grid
