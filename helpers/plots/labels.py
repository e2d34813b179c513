"""Labels of each image: what it is, what a model said, and whether that was right.

Single-label targets are class indices ``(N,)``; multi-label targets are multi-hot ``(N, C)``
with -1 = ignored. Predictions are class indices ``(N,)`` or scores ``(N, C)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers.plots.convert import ArrayLike, _to_numpy


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
