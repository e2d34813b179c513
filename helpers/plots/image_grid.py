"""A grid of images titled with their true and predicted labels, coloured by correctness.

:func:`_draw_labelled_image` draws one such panel; :func:`plot_side_by_side` and
:mod:`helpers.widgets` draw theirs with it, so every view of a prediction looks the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from helpers.plots._style import _CORRECT, _LAYOUT, _WRONG
from helpers.plots.convert import (
    ArrayLike,
    _first_images,
    _image_list,
    _to_numpy,
    to_display_image,
)
from helpers.plots.labels import ImageLabels, _label_text, _names, _num_classes, image_labels

#: A grid larger than this is unreadable and slow; we show the first ones and warn.
MAX_GRID_IMAGES = 64


def _draw_labelled_image(
    ax: Axes,
    image: Any,
    labels: ImageLabels | None,
    names: Sequence[str],
    *,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    show_true: bool = True,
) -> None:
    """Draw one image with its labels as the title; frame and title coloured by correctness."""
    pixels = to_display_image(image, mean=mean, std=std)
    ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    lines = []
    if labels is not None and labels.true is not None and show_true:
        lines.append(f"true: {_label_text(labels.true, names)}")
    if labels is not None and labels.predicted is not None:
        lines.append(f"pred: {_label_text(labels.predicted, names)}")
    correct = None if labels is None else labels.correct
    colour = "black" if correct is None else (_CORRECT if correct else _WRONG)
    ax.set_title("\n".join(lines), color=colour, fontsize=8)
    for spine in ax.spines.values():
        spine.set_visible(correct is not None)
        spine.set_edgecolor(colour)
        spine.set_linewidth(2.5)


def _grid(n: int, ncols: int, axes: Any, panel: tuple[float, float]) -> np.ndarray:
    """Axes for n panels: the ones given (checked), or a new figure of rows of ncols."""
    if axes is not None:
        flat = np.asarray(axes, dtype=object).ravel()
        if flat.size < n:
            raise ValueError(f"Got {flat.size} axes for {n} images; pass at least {n} axes.")
        return np.asarray(axes, dtype=object)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    _, grid = plt.subplots(
        nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), squeeze=False, layout=_LAYOUT
    )
    return grid


def plot_image_grid(
    images: ArrayLike,
    targets: ArrayLike | None = None,
    predictions: ArrayLike | None = None,
    *,
    class_names: Sequence[str] | None = None,
    threshold: float = 0.5,
    multilabel: bool | None = None,
    ncols: int = 8,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    axes: Any = None,
) -> np.ndarray:
    """A grid of images titled with their true and predicted labels.

    A title reads "true: ...", then "pred: ..."; when both are given, title and frame are green
    for a right prediction and red for a wrong one (multi-label: right means exactly the true set,
    ignoring classes marked -1).

    Args:
        images: a batch (see the module docstring): ``(N, C, H, W)`` float in [0, 1],
            ``(N, H, W, C)`` uint8, ``(N, H, W)`` or a list of images. At most 64 are shown.
        targets: ``(N,)`` class indices, or ``(N, C)`` multi-hot with -1 = ignored. Optional.
        predictions: ``(N,)`` class indices or ``(N, C)`` scores; multi-label: probabilities,
            predicted when ``>= threshold``. Optional.
        class_names: names for the class indices (by default the indices themselves).
        multilabel: read from ``targets`` (2-D = multi-label) unless given.
        ncols: panels per row of a new figure.
        mean, std: undo a ``Normalize`` transform before drawing.
        axes: axes to draw on (at least N); a new figure when ``None``.

    Returns:
        The axes, 2-D (rows, columns) for a new figure; panels past N are blanked.

    >>> import torch
    >>> axes = plot_image_grid(torch.rand(2, 1, 28, 28), [0, 1], [0, 0], class_names=["a", "b"])
    >>> [ax.get_title() for ax in axes.ravel()]
    ['true: a\\npred: a', 'true: b\\npred: a']
    """
    pictures = _first_images(_image_list(images), MAX_GRID_IMAGES)
    n = len(pictures)
    labels = image_labels(targets, predictions, threshold=threshold, multilabel=multilabel)
    if labels and len(labels) < n:
        raise ValueError(f"Got {n} images but only {len(labels)} labels; pass one per image.")
    names = _names(class_names, _num_classes(labels[:n], targets, predictions))
    multi = bool(multilabel) or (targets is not None and _to_numpy(targets).ndim == 2)
    grid = _grid(n, ncols, axes, (1.9, 2.3 if multi else 2.1))
    flat = grid.ravel()
    for i, ax in enumerate(flat):
        if i >= n:
            ax.axis("off")
            continue
        _draw_labelled_image(
            ax, pictures[i], labels[i] if labels else None, names, mean=mean, std=std
        )
    return grid
