"""Per-class results: one bar per class (accuracy, AP, IoU, ...) and the confusion matrix."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

from helpers.metrics import confusion_matrix
from helpers.plots._style import _LAYOUT
from helpers.plots.convert import ArrayLike, _to_numpy
from helpers.plots.labels import _names


def plot_per_class(
    values: ArrayLike | Mapping[str, float],
    class_names: Sequence[str] | None = None,
    *,
    ylabel: str = "",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """One bar per class (accuracy, AP, IoU, ...), with the mean over classes as a dashed line.

    A NaN value (e.g. the AP of a class with no positive example in this split) is not a 0: its
    bar is left out, "n/a" marks its place, a note says why, and the mean skips it.

    Args:
        values: ``(C,)`` numbers, or a dict class name -> number.
        class_names: ``C`` names for the x axis (not needed with a dict).
        ylabel: what the numbers are, e.g. ``"AP"``.
        title: defaults to ``"per-class <ylabel>"``.
        ax: where to draw; a new figure when ``None``.

    >>> ax = plot_per_class([0.9, float("nan"), 0.5], ["cat", "dog", "cow"], ylabel="AP")
    >>> len(ax.patches), [t.get_text() for t in ax.get_xticklabels()]
    (2, ['cat', 'dog', 'cow'])
    >>> ax.get_lines()[0].get_label()
    'mean 0.700'
    """
    if isinstance(values, Mapping):
        if class_names is None:
            class_names = list(values)
        values = [values[name] for name in class_names]
    v = _to_numpy(values).astype(np.float64).ravel()
    names = _names(class_names, v.size)
    if len(names) != v.size:
        raise ValueError(
            f"Got {v.size} values but {len(names)} class names; pass one value per class."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 0.45 * v.size + 1.5), 3.8), layout=_LAYOUT)
    x = np.arange(v.size)
    present = ~np.isnan(v)
    bars = ax.bar(x[present], v[present], color="tab:blue", alpha=0.85)
    if v.size <= 12:
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    missing = np.flatnonzero(~present)
    for i in missing:
        ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=7, color="gray", rotation=90)
    if missing.size:  # under the tick labels, where no bar can cover it
        ax.set_xlabel(
            f"n/a: {missing.size} class(es) without a value (e.g. no positive example), "
            f"left out of the mean",
            fontsize=7,
            color="gray",
        )
    if present.any():
        mean = float(v[present].mean())
        ax.axhline(mean, color="tab:orange", linestyle="--", label=f"mean {mean:.3f}")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xticks(
        x, names, rotation=45 if v.size > 6 else 0, ha="right" if v.size > 6 else "center"
    )
    ax.set_xlim(-0.6, v.size - 0.4)
    if present.any() and v[present].min() >= 0 and v[present].max() <= 1:
        ax.set_ylim(0, 1.08)  # scores in [0, 1]: a fixed scale makes runs comparable
    ax.set_ylabel(ylabel)
    ax.set_title(f"per-class {ylabel}".strip() if title is None else title)
    ax.grid(True, axis="y", alpha=0.3)
    return ax


def plot_confusion_matrix(
    confusion: ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
    *,
    targets: ArrayLike | None = None,
    predictions: ArrayLike | None = None,
    normalize: bool = False,
    annotate: bool | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Confusion-matrix heat map: rows are true classes, columns predicted classes.

    Give either ``confusion``, a ``(C, C)`` matrix of counts (e.g. from
    ``helpers.metrics.confusion_matrix``), or ``targets`` and ``predictions`` (class indices
    ``(N,)``; predictions may also be scores ``(N, C)``).

    Args:
        class_names: C names for both axes.
        normalize: divide each row by its total, so cell (i, j) is the fraction of class i
            predicted as j (the diagonal is per-class recall). A class with no example has an
            empty row and gives a warning.
        annotate: write the number in each cell; by default when C <= 15.
        ax: where to draw; a new figure when ``None``.

    >>> ax = plot_confusion_matrix([[5, 1], [0, 4]], ["cat", "dog"], normalize=True)
    >>> [t.get_text() for t in ax.texts]
    ['0.83', '0.17', '0.00', '1.00']
    """
    if (confusion is None) == (targets is None or predictions is None):
        raise ValueError(
            "Pass either confusion (a (C, C) matrix of counts) or both targets= and "
            "predictions= (class indices), not both and not neither."
        )
    if confusion is None:
        p = _to_numpy(predictions)
        labels_max = max(int(_to_numpy(targets).max(initial=0)), int(p.max(initial=0)))
        c = p.shape[1] if p.ndim == 2 else len(class_names or ()) or labels_max + 1
        counts = confusion_matrix(torch.as_tensor(p), torch.as_tensor(_to_numpy(targets)), c)
        matrix = counts.cpu().numpy().astype(np.float64)
    else:
        matrix = _to_numpy(confusion).astype(np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"Expected a square (C, C) confusion matrix; got shape {matrix.shape}.")
    c = matrix.shape[0]
    names = _names(class_names, c)[:c]
    if len(names) != c:
        raise ValueError(f"Got {len(names)} class names for a {c}×{c} matrix.")
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        empty = np.flatnonzero(totals[:, 0] == 0)
        if empty.size:
            warnings.warn(
                f"No example of class(es) {', '.join(names[i] for i in empty)}: "
                f"their rows are left empty.",
                stacklevel=2,
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix = np.where(totals > 0, matrix / totals, np.nan)
    if ax is None:
        side = max(4.0, 0.45 * c + 2.5)
        _, ax = plt.subplots(figsize=(side + 1, side), layout=_LAYOUT)
    image = ax.imshow(
        np.ma.masked_invalid(matrix),
        cmap="Blues",
        vmin=0,
        vmax=1 if normalize else None,
        interpolation="nearest",
    )
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if annotate is None:
        annotate = c <= 15
    if annotate:
        top = np.nanmax(matrix) if np.isfinite(matrix).any() else 1.0
        for i in range(c):
            for j in range(c):
                if math.isnan(matrix[i, j]):
                    continue
                text = f"{matrix[i, j]:.2f}" if normalize else f"{matrix[i, j]:.0f}"
                dark = matrix[i, j] > 0.6 * top
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
    ax.set_xticks(np.arange(c), names, rotation=45, ha="right")
    ax.set_yticks(np.arange(c), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix" + (" (row-normalised)" if normalize else " (counts)"))
    return ax
