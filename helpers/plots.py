"""Figures for reports: curves, per-class bars, confusion matrices, image grids, segmentation.

Every report the course receives has loss and metric curves, per-class results, prediction
pictures and an ablation table; each figure here is one call. Every function takes ``ax=None``
(or ``axes=None`` for several panels), draws on what it is given or on a new figure, and returns
what it drew on, so figures compose::

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    plot_curves(history, "loss", ax=left)
    plot_per_class(ap_per_class, VOC_CLASSES, ax=right, ylabel="AP")
    fig.savefig("report.png")

Inputs
------
* **Histories**: a :class:`helpers.history.History` or a plain dict of lists (column -> values),
  with columns ``train_<name>`` / ``val_<name>`` (``train_loss``, ``val_accuracy``, ...).
* **Images**: torch tensors or NumPy arrays, either float ``(C, H, W)`` in [0, 1] (what
  torchvision's ``ToTensor`` gives) or uint8 ``(H, W, C)`` in [0, 255] (what PIL gives), with
  C = 1 (Fashion-MNIST) or 3 (VOC). A batch is ``(N, C, H, W)``, ``(N, H, W, C)``, a
  Fashion-MNIST-style ``(N, H, W)`` or a list of single images (sizes may differ). Pass
  ``mean=``/``std=`` to undo a ``Normalize`` transform.
* **Labels**: single-label targets are class indices ``(N,)``; predictions are class indices
  ``(N,)`` or scores ``(N, C)`` (arg-max taken). Multi-label targets are multi-hot ``(N, C)`` with
  1 = present, 0 = absent, -1 = ignored ("difficult" in VOC); predictions are probabilities
  ``(N, C)`` (apply ``torch.sigmoid`` to logits), a class counts as predicted when its score is
  ``>= threshold``.
* **Segmentation masks**: class indices ``(H, W)``, integer dtype, 255 = ignore (VOC's border).

Small problems (an empty class, logits where probabilities were expected, too many images)
give a warning and a sensible figure; only input that cannot be drawn raises.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib


def _use_agg_when_headless() -> None:
    """Pick the Agg backend on a Linux machine without a display, and change nothing else.

    Why here: a grading container or a CI runner has no display, and a script importing this
    module must still be able to save figures. Jupyter's kernel sets ``MPLBACKEND`` to its inline
    backend before any import, a student may have chosen a backend already, and switching after
    ``pyplot`` is imported would close open figures, so in all those cases we keep out of it.
    """
    if os.environ.get("MPLBACKEND") or "matplotlib.pyplot" in sys.modules:
        return
    chosen = getattr(matplotlib.rcParams, "_get_backend_or_none", lambda: None)()
    if chosen is not None:  # set in a matplotlibrc: respect it
        return
    has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not has_display:
        matplotlib.use("Agg")


_use_agg_when_headless()

import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice, on purpose)
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from torchvision.utils import draw_segmentation_masks  # noqa: E402

from helpers.data.voc import IGNORE_INDEX, VOC_CLASSES, VOC_PALETTE  # noqa: E402
from helpers.history import History  # noqa: E402
from helpers.metrics import confusion_matrix  # noqa: E402

__all__ = [
    "IGNORE_INDEX",
    "VOC_SEGMENTATION_CLASSES",
    "ImageLabels",
    "image_labels",
    "plot_confusion_matrix",
    "plot_curves",
    "plot_history",
    "plot_image_grid",
    "plot_per_class",
    "plot_segmentation",
    "plot_segmentations",
    "plot_side_by_side",
    "to_display_image",
]

#: PASCAL VOC's segmentation classes, index = mask value (0 is background; 255 = IGNORE_INDEX).
VOC_SEGMENTATION_CLASSES = ("background", *VOC_CLASSES)

#: VOC's colour for each mask value, uint8 (256, 3) RGB (the palette of VOC's PNG masks).
_VOC_COLOURS = np.array(VOC_PALETTE, dtype=np.uint8).reshape(256, 3)

#: A grid larger than this is unreadable and slow; we show the first ones and warn.
MAX_GRID_IMAGES = 64

#: Layout of the figures made here: "constrained" keeps titles, rotated tick labels and legends
#: outside the axes from overlapping (axes a student passes in keep their figure's layout).
_LAYOUT = "constrained"

_CORRECT = "tab:green"
_WRONG = "tab:red"

ArrayLike = torch.Tensor | np.ndarray | Sequence[Any]


# --------------------------------------------------------------------------------------------
# Conversions shared by the plots (and by helpers.widgets)
# --------------------------------------------------------------------------------------------


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def to_display_image(
    image: ArrayLike,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> np.ndarray:
    """One image as matplotlib wants it: float ``(H, W)`` (grey) or ``(H, W, 3)``, in [0, 1].

    ``image`` is a tensor or array: float ``(C, H, W)`` in [0, 1], uint8 ``(H, W, C)`` in
    [0, 255], or ``(H, W)``; C is 1 or 3. The layout is read from where the 1 or 3 sits; when
    both ends could be channels (a 3×H×3 image), float means CHW and uint8 means HWC.
    ``mean``/``std`` (one number per channel) undo a ``Normalize`` transform. Float values
    outside [0, 1] give a warning and are rescaled to fit.

    >>> to_display_image(torch.zeros(3, 4, 5)).shape
    (4, 5, 3)
    >>> to_display_image(np.full((28, 28), 255, dtype=np.uint8)).max()
    np.float32(1.0)
    """
    array = _to_numpy(image)
    if array.ndim == 3:
        first, last = array.shape[0] in (1, 3), array.shape[-1] in (1, 3)
        if first and (not last or array.dtype != np.uint8):
            array = np.moveaxis(array, 0, -1)
        elif not last:
            raise ValueError(
                f"Expected one image of shape (C, H, W) or (H, W, C) with C = 1 or 3, or (H, W); "
                f"got shape {tuple(array.shape)}. For a batch, pass it to a grid function such as "
                f"plot_image_grid, or index one image first (images[0])."
            )
    elif array.ndim != 2:
        raise ValueError(
            f"Expected one image of shape (C, H, W), (H, W, C) or (H, W); got shape "
            f"{tuple(array.shape)}."
        )
    integer_pixels = array.dtype == np.uint8 or np.issubdtype(array.dtype, np.integer)
    array = array.astype(np.float32) / 255.0 if integer_pixels else array.astype(np.float32)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if mean is not None or std is not None:
        channels = 1 if array.ndim == 2 else array.shape[-1]
        m = np.broadcast_to(np.asarray(0.0 if mean is None else mean, np.float32), (channels,))
        s = np.broadcast_to(np.asarray(1.0 if std is None else std, np.float32), (channels,))
        array = array * (s[0] if array.ndim == 2 else s) + (m[0] if array.ndim == 2 else m)
    if not np.isfinite(array).all():
        warnings.warn("This image holds NaN or inf values; they are drawn as black.", stacklevel=3)
        array = np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(array.min()), float(array.max())
    if low < -1e-3 or high > 1 + 1e-3:
        warnings.warn(
            f"Expected float pixels in [0, 1]; this image spans [{low:.2f}, {high:.2f}], so it is "
            f"rescaled to fit. If it was normalised, pass mean= and std= (the ones given to "
            f"Normalize) to draw its true colours.",
            stacklevel=3,
        )
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return np.clip(array, 0.0, 1.0)


def _image_list(images: ArrayLike) -> list[Any]:
    """Split a batch into single images (see the module docstring for accepted layouts)."""
    if isinstance(images, torch.Tensor | np.ndarray):
        if images.ndim in (3, 4):  # (N, H, W) grey, or (N, C, H, W) / (N, H, W, C)
            return list(images)
        if images.ndim == 2:
            return [images]
        raise ValueError(
            f"Expected a batch of images (N, C, H, W), (N, H, W, C) or (N, H, W); got shape "
            f"{tuple(images.shape)}."
        )
    if isinstance(images, Sequence) and not isinstance(images, str):
        return list(images)
    raise TypeError(
        f"Expected images as a tensor, a NumPy array or a list of images; got "
        f"{type(images).__name__}."
    )


def _names(class_names: Sequence[str] | None, num_classes: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    names = [str(n) for n in class_names]
    if len(names) < num_classes:
        raise ValueError(
            f"Got {len(names)} class names but the labels use {num_classes} classes "
            f"(indices up to {num_classes - 1}). Pass one name per class, in index order."
        )
    return names


# --------------------------------------------------------------------------------------------
# Labels of one image: what it is, what a model said, and whether that was right
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageLabels:
    """True and predicted classes of one image, as class indices.

    ``true`` and ``predicted`` are ``None`` when not given; ``ignored`` lists classes whose target
    is -1 (multi-label), which count neither for nor against the prediction.
    """

    true: tuple[int, ...] | None
    predicted: tuple[int, ...] | None
    ignored: tuple[int, ...] = ()

    @property
    def correct(self) -> bool | None:
        """Whether the predicted set equals the true set (ignored classes left out)."""
        if self.true is None or self.predicted is None:
            return None
        return set(self.predicted) - set(self.ignored) == set(self.true)


def image_labels(
    targets: ArrayLike | None = None,
    predictions: ArrayLike | None = None,
    *,
    threshold: float = 0.5,
    multilabel: bool | None = None,
) -> list[ImageLabels]:
    """Per-image true and predicted class sets, from targets and predictions as the kit has them.

    Args:
        targets: single-label class indices ``(N,)`` or multi-label multi-hot ``(N, C)`` with
            1 present, 0 absent, -1 ignored. Optional.
        predictions: single-label class indices ``(N,)`` or scores ``(N, C)`` (arg-max taken);
            multi-label probabilities ``(N, C)``, a class is predicted when ``score >= threshold``.
        threshold: the multi-label decision threshold.
        multilabel: ``None`` reads it from the targets (2-D means multi-label); set it when only
            predictions are given.

    Returns:
        One :class:`ImageLabels` per image.

    >>> [x.correct for x in image_labels([3, 1], [[0.1, 0.2, 0.3, 0.4], [0.0, 0.9, 0.1, 0.0]])]
    [True, True]
    >>> x = image_labels([[1, -1, 0]], [[0.8, 0.7, 0.2]])[0]
    >>> x.true, x.predicted, x.ignored, x.correct
    ((0,), (0, 1), (1,), True)
    """
    t = None if targets is None else _to_numpy(targets)
    p = None if predictions is None else _to_numpy(predictions)
    if t is None and p is None:
        return []
    if multilabel is None:
        multilabel = t is not None and t.ndim == 2
    if t is not None and t.ndim != (2 if multilabel else 1):
        want = "multi-hot (N, C)" if multilabel else "class indices (N,)"
        raise ValueError(f"Expected targets as {want}; got shape {tuple(t.shape)}.")
    if t is not None and p is not None and len(t) != len(p):
        raise ValueError(
            f"Got {len(t)} targets but {len(p)} predictions; pass one of each per image."
        )
    true_sets: list[tuple[int, ...]] | None = None
    ignored: list[tuple[int, ...]] = []
    if t is not None and multilabel:
        bad = sorted(set(np.unique(t).tolist()) - {-1, 0, 1})
        if bad:
            raise ValueError(
                f"Expected multi-label targets to hold only {{0, 1}} or -1 but found {bad}."
            )
        true_sets = [tuple(np.flatnonzero(row == 1).tolist()) for row in t]
        ignored = [tuple(np.flatnonzero(row == -1).tolist()) for row in t]
    elif t is not None:
        if t.size and (not np.issubdtype(t.dtype, np.integer) or t.min() < 0):
            raise ValueError(
                f"Expected single-label targets as class indices 0, 1, ... (int); got dtype "
                f"{t.dtype} with values from {t.min()} to {t.max()}."
            )
        true_sets = [(int(v),) for v in t]
    pred_sets: list[tuple[int, ...]] | None = None
    if p is not None and multilabel:
        if p.ndim != 2 or (t is not None and p.shape[1] != t.shape[1]):
            raise ValueError(
                f"For multi-label targets of shape {None if t is None else tuple(t.shape)}, "
                f"expected predictions as scores (N, C) of the same shape; got shape "
                f"{tuple(p.shape)}."
            )
        if p.size and (p.min() < 0 or p.max() > 1):
            warnings.warn(
                f"Multi-label scores are compared with threshold={threshold}, which expects "
                f"probabilities in [0, 1], but these span [{p.min():.2f}, {p.max():.2f}]. If they "
                f"are logits, pass torch.sigmoid(logits).",
                stacklevel=2,
            )
        pred_sets = [tuple(np.flatnonzero(row >= threshold).tolist()) for row in p]
    elif p is not None:
        if p.ndim == 2:
            p = p.argmax(axis=1)
        elif p.ndim != 1:
            raise ValueError(
                f"Expected predictions as class indices (N,) or scores (N, C); got shape "
                f"{tuple(p.shape)}."
            )
        pred_sets = [(int(v),) for v in p]
    n = len(t) if t is not None else len(p)  # type: ignore[arg-type]
    return [
        ImageLabels(
            true=None if true_sets is None else true_sets[i],
            predicted=None if pred_sets is None else pred_sets[i],
            ignored=ignored[i] if ignored else (),
        )
        for i in range(n)
    ]


def _num_classes(labels: Sequence[ImageLabels], *arrays: Any) -> int:
    """Classes the labels (or the width of any (N, C) array) refer to."""
    widths = [
        a.shape[1] for a in map(_to_numpy, (x for x in arrays if x is not None)) if a.ndim == 2
    ]
    used = [c for lab in labels for c in (lab.true or ()) + (lab.predicted or ())]
    return max([*widths, max(used, default=-1) + 1, 1])


def _label_text(classes: tuple[int, ...] | None, names: Sequence[str]) -> str:
    if classes is None:
        return ""
    return ", ".join(names[c] for c in classes) if classes else "(none)"


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


def _first_images(images: list[Any], limit: int) -> list[Any]:
    if len(images) > limit:
        warnings.warn(
            f"Showing the first {limit} of {len(images)} images; pass a slice such as "
            f"images[:16] to choose which.",
            stacklevel=3,
        )
        return images[:limit]
    return images


# --------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------


def _column(history: History | Mapping[str, Sequence[float]], column: str) -> tuple[list, list]:
    """(epochs, values) of one column; epochs from the ``epoch`` column where there is one."""
    if isinstance(history, History):
        rows = [(i, row) for i, row in enumerate(history) if column in row]
        return [row.get("epoch", i + 1) for i, row in rows], [row[column] for _, row in rows]
    values = [math.nan if v is None else float(v) for v in history[column]]
    epochs = list(history.get("epoch", []))
    if len(epochs) != len(values):
        epochs = list(range(1, len(values) + 1))
    return epochs, values


def _columns(history: Any) -> list[str]:
    if isinstance(history, History):
        if len(history) == 0:
            raise ValueError("This history is empty: train for at least one epoch, then plot it.")
        return history.columns
    if isinstance(history, Mapping):
        if not history:
            raise ValueError("This history is empty: train for at least one epoch, then plot it.")
        return list(history)
    raise TypeError(
        f"Expected a History (what helpers.train.fit returns) or a dict of lists such as "
        f"{{'train_loss': [...], 'val_loss': [...]}}; got {type(history).__name__}."
    )


def plot_curves(
    history: History | Mapping[str, Sequence[float]],
    name: str = "loss",
    *,
    ax: Axes | None = None,
    label: str | None = None,
) -> Axes:
    """Train and validation curves of one quantity over the epochs.

    Draws ``train_<name>`` (dashed) and ``val_<name>`` (solid) in one colour, marks the best
    validation epoch in the legend (lowest for a loss, highest otherwise), and returns the axes.
    Call it again on the same ``ax`` with another ``label`` to compare runs. A column name that
    exists as it is (``"lr"``) is drawn alone.

    Args:
        history: a ``History`` or a dict of lists (column -> one value per epoch).
        name: the quantity, e.g. ``"loss"``, ``"accuracy"``, ``"map"``.
        ax: where to draw; a new figure when ``None``.
        label: the run's name, put before "train"/"val" in the legend.

    >>> ax = plot_curves({"train_loss": [0.9, 0.5], "val_loss": [1.0, 0.7]})
    >>> [line.get_label() for line in ax.get_lines()]
    ['train', 'val (best 0.700 @ 2)']
    """
    columns = _columns(history)
    wanted = [c for c in (f"train_{name}", f"val_{name}") if c in columns]
    if not wanted and name in columns:
        wanted = [name]
    if not wanted:
        raise ValueError(
            f"This history has no column train_{name}, val_{name} or {name}. It has: "
            f"{', '.join(columns)}."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5), layout=_LAYOUT)
    colour = None
    for column in wanted:
        epochs, values = _column(history, column)
        split = column.split("_", 1)[0] if column != name else name
        text = split if label is None else f"{label} {split}"
        finite = [(e, v) for e, v in zip(epochs, values, strict=True) if not math.isnan(v)]
        if column.startswith("val_") and finite:
            pick = min if name.endswith("loss") else max
            best_epoch, best = pick(finite, key=lambda ev: ev[1])
            text += f" (best {best:.3f} @ {best_epoch})"
        (line,) = ax.plot(
            epochs,
            values,
            linestyle="--" if column.startswith("train_") else "-",
            marker="o" if len(values) <= 30 else None,
            markersize=3,
            color=colour,
            label=text,
        )
        colour = line.get_color()  # train and val of one run share a colour
    ax.set_xlabel("epoch")
    ax.set_ylabel(name)
    ax.set_title(name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_history(
    history: History | Mapping[str, Sequence[float]],
    names: Sequence[str] | None = None,
    *,
    axes: Any = None,
    label: str | None = None,
) -> np.ndarray:
    """Loss and metric curves, one panel per quantity, train vs validation in each.

    Args:
        history: a ``History`` or a dict of lists with ``train_<name>`` / ``val_<name>`` columns.
        names: quantities to draw, e.g. ``["loss", "accuracy"]``; by default every name that has
            a ``train_`` or ``val_`` column, loss first.
        axes: one axes per name; a new figure of one row when ``None``.
        label: the run's name in the legends (call again on the same axes to compare runs).

    Returns:
        The axes drawn on, a 1-D array of ``len(names)``.

    >>> axes = plot_history({"train_loss": [1.0, 0.6], "val_loss": [1.1, 0.8],
    ...                      "val_accuracy": [0.5, 0.7]})
    >>> [ax.get_title() for ax in axes]
    ['loss', 'accuracy']
    """
    columns = _columns(history)
    if names is None:
        found = [c.split("_", 1)[1] for c in columns if c.startswith(("train_", "val_"))]
        names = sorted(dict.fromkeys(found), key=lambda n: n != "loss")
        if not names:
            raise ValueError(
                f"This history has no train_<name> or val_<name> columns to plot. It has: "
                f"{', '.join(columns)}. Use plot_curves(history, name) for another column."
            )
    if isinstance(names, str):
        names = [names]
    if axes is None:
        _, axes = plt.subplots(
            1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False, layout=_LAYOUT
        )
    flat = np.asarray(axes, dtype=object).ravel()
    if flat.size != len(names):
        raise ValueError(
            f"Got {flat.size} axes for {len(names)} panels ({', '.join(names)}); pass one axes "
            f"per name."
        )
    for ax, name in zip(flat, names, strict=True):
        plot_curves(history, name, ax=ax, label=label)
    return flat


# --------------------------------------------------------------------------------------------
# Per-class results
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Images with labels
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Segmentation
# --------------------------------------------------------------------------------------------


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
