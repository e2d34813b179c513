"""Two models' predictions on the same images, one row per model, to compare them at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from helpers.plots._style import _LAYOUT
from helpers.plots.convert import ArrayLike, _first_images, _image_list
from helpers.plots.image_grid import _draw_labelled_image
from helpers.plots.labels import _label_text, _names, _num_classes, image_labels


def plot_side_by_side(
    images: ArrayLike,
    targets: ArrayLike,
    predictions_a: ArrayLike,
    predictions_b: ArrayLike,
    *,
    names: tuple[str, str] = ("model A", "model B"),
    class_names: Sequence[str] | None = None,
    threshold: float = 0.5,
    multilabel: bool | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    axes: Any = None,
) -> np.ndarray:
    """Two models' predictions on the same images: one row per model, one column per image.

    Each panel's title is that model's prediction, green when right and red when wrong (the frame
    too); the true label is written under the bottom row, and each row's label counts how many
    the model got right. Inputs are as in :func:`plot_image_grid`; at most 16 images are shown.

    Returns:
        The axes, ``(2, N)``: row 0 is ``names[0]``'s model.

    >>> import torch
    >>> axes = plot_side_by_side(torch.rand(2, 3, 8, 8), [0, 1], [0, 1], [1, 1])
    >>> [ax.get_title() for ax in axes[1]], axes[1, 0].get_ylabel()
    (['1', '1'], 'model B\\n1/2 right')
    """
    pictures = _first_images(_image_list(images), 16)
    n = len(pictures)
    rows = [
        image_labels(targets, predictions, threshold=threshold, multilabel=multilabel)[:n]
        for predictions in (predictions_a, predictions_b)
    ]
    if any(len(r) < n for r in rows):
        raise ValueError(f"Got {n} images but fewer labels; pass one target and prediction each.")
    class_count = _num_classes(rows[0] + rows[1], targets, predictions_a, predictions_b)
    label_names = _names(class_names, class_count)
    if axes is None:
        _, axes = plt.subplots(2, n, figsize=(1.9 * n + 0.6, 4.8), squeeze=False, layout=_LAYOUT)
    grid = np.asarray(axes, dtype=object)
    if grid.shape != (2, n):
        raise ValueError(f"Expected axes of shape (2, {n}) for {n} images; got {grid.shape}.")
    for r, (row_labels, model) in enumerate(zip(rows, names, strict=True)):
        for i in range(n):
            ax = grid[r, i]
            _draw_labelled_image(
                ax, pictures[i], row_labels[i], label_names, mean=mean, std=std, show_true=False
            )
            ax.set_title(
                _label_text(row_labels[i].predicted, label_names),
                fontsize=8,
                color=ax.title.get_color(),
            )
        right = sum(bool(lab.correct) for lab in row_labels)
        grid[r, 0].set_ylabel(f"{model}\n{right}/{n} right", fontsize=9)
    for i in range(n):
        grid[1, i].set_xlabel(f"true: {_label_text(rows[0][i].true, label_names)}", fontsize=8)
    return grid
