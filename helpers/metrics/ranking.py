"""Average precision (AP) per class and its mean (mAP), exact, for multi-label classification.

AP here is scikit-learn's non-interpolated AP, the area under the precision-recall curve taken as
a step function::

    AP = sum over thresholds k of (R_k - R_{k-1}) * P_k

with one threshold per distinct score (tied scores enter together, as in scikit-learn's
``average_precision_score``), ``R_k`` and ``P_k`` the recall and precision of "score >= threshold
k", and ``R_0 = 0``. The VOC 2007 variant (``voc07=True``) instead averages, over the 11 recall
levels r = 0, 0.1, ..., 1, the highest precision reached at a recall of at least r.

Written by hand (not a loop over ``sklearn.metrics.average_precision_score``) because one NumPy
sort over all classes at once is what makes the evaluator fast enough to run every epoch;
``bench/metrics.py`` measures the difference and the tests pin the values to scikit-learn's. The
same formula, fed per-bin counts instead of per-score counts, gives the constant-memory
segmentation AP of :mod:`helpers.metrics.segmentation`.

Targets: 1 positive, 0 negative, any negative number ignored (e.g. VOC ``difficult`` objects,
which the kit's VOC loader writes as -1; note that VOC's own label files use 0 for difficult).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from helpers.metrics._inputs import as_tensor, describe_values, shape_str
from helpers.metrics.ranking_numpy import (  # the NumPy core, shared with the grader
    _IGNORED,
    _average_precision_compute,
    _nanmean,
    _voc07_average_precision_compute,
)

__all__ = ["MultilabelAveragePrecision", "average_precision", "mean_average_precision"]


# --- argument and tensor validation ------------------------------------------------------------


def _average_precision_arg_validation(num_classes: int | None, voc07: bool) -> None:
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise ValueError(
            f"Expected `num_classes` to be a positive int or None but got {num_classes!r}."
        )
    if not isinstance(voc07, bool):
        raise ValueError(f"Expected `voc07` to be True or False but got {voc07!r}.")


def _average_precision_tensor_validation(
    scores: torch.Tensor, targets: torch.Tensor, num_classes: int | None = None
) -> None:
    """Check shapes and dtypes (values are checked on the NumPy copies, in the format step)."""
    if scores.ndim not in (1, 2) or scores.shape != targets.shape:
        raise ValueError(
            "Expected `scores` and `targets` of the same shape, [N, C] (N samples, C classes) or "
            f"[N] (one class), but got scores {shape_str(scores)} and targets "
            f"{shape_str(targets)}."
        )
    if num_classes is not None and (scores.ndim != 2 or scores.shape[1] != num_classes):
        raise ValueError(
            f"Expected `scores` of shape [N, {num_classes}] (num_classes={num_classes}) but got "
            f"{shape_str(scores)}."
        )
    if scores.is_complex() or scores.dtype == torch.bool:
        raise TypeError(f"Expected real-valued `scores` but got dtype {scores.dtype}.")
    if targets.is_complex():
        raise TypeError(f"Expected real-valued `targets` but got dtype {targets.dtype}.")


def _average_precision_value_validation(scores: np.ndarray, targets: np.ndarray) -> None:
    """Check values, on the NumPy copies (NumPy's element-wise loops are the fast ones)."""
    if scores.size and not np.isfinite(scores).all():
        raise ValueError(
            "Expected finite `scores` but found NaN or infinity. Check the model's outputs "
            "(a NaN loss during training leaves NaN outputs)."
        )
    if targets.dtype == np.bool_ or targets.size == 0:
        return
    if targets.dtype.kind in "iu" and targets.max() <= 1:
        return  # integers up to 1 are 1, 0 or negative: the common case costs one pass
    unexpected = (targets != 0) & (targets != 1) & ~(targets < 0)  # NaN counts as unexpected
    if unexpected.any():
        raise ValueError(
            "Expected `targets` to hold only 0, 1 or a negative number (ignored, e.g. -1 for "
            f"VOC 'difficult') but found {describe_values(targets[unexpected])}. Multi-label "
            "targets are one 0/1 column per class, not class indices."
        )


def _average_precision_format(
    scores: torch.Tensor, targets: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """Checked input as NumPy arrays on the CPU: scores float32/float64 [N, C] (converted
    exactly), targets int8 [N, C] of 1 / 0 / -1 (ignored). Raises on bad values."""
    if scores.ndim == 1:
        scores, targets = scores[:, None], targets[:, None]
    if not scores.is_floating_point():
        scores = scores.double()  # integer scores: exact below 2**53
    elif scores.dtype not in (torch.float32, torch.float64):
        scores = scores.float()  # float16 / bfloat16: exact
    if targets.dtype in (torch.float16, torch.bfloat16):
        targets = targets.float()
    scores_array, targets_array = scores.cpu().numpy(), targets.cpu().numpy()
    _average_precision_value_validation(scores_array, targets_array)
    if targets_array.dtype.kind == "f":
        targets_array = np.where(targets_array < 0, _IGNORED, targets_array)
    codes = np.maximum(targets_array, _IGNORED).astype(np.int8)  # checked: 1, 0 or negative
    return scores_array, codes


# --- compute -----------------------------------------------------------------------------------
# The exact AP of sorted scores runs in NumPy (helpers.metrics.ranking_numpy, which says why);
# the binned AP below works on torch histograms, as the segmentation evaluator keeps them.


def _average_precision_from_histograms(
    positive_counts: torch.Tensor, negative_counts: torch.Tensor
) -> torch.Tensor:
    """AP per class from score histograms, each bin acting as one group of tied scores.

    Args:
        positive_counts, negative_counts: int64 [C, B]; bin b counts the positives / negatives
            whose score falls in bin b, bins in increasing order of score.

    Returns:
        float64 [C]; NaN for a class with no positive.
    """
    positive_counts, negative_counts = positive_counts.flip(1), negative_counts.flip(1)
    true_pos = positive_counts.cumsum(dim=1)
    counted = (true_pos + negative_counts.cumsum(dim=1)).clamp(min=1)
    precision = true_pos / counted.double()
    total = (positive_counts * precision).sum(dim=1)
    positives = true_pos[:, -1]
    return torch.where(positives > 0, total / positives.clamp(min=1), math.nan)


# --- public functions --------------------------------------------------------------------------


def average_precision(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Non-interpolated average precision of each class, as scikit-learn computes it.

    Equal, within 1e-6, to ``sklearn.metrics.average_precision_score(targets[:, c], scores[:, c])``
    on each column (after dropping the column's ignored entries), tied scores included.

    Args:
        scores: float or int [N, C] (N samples, C classes) or [N] (one class), on any device, or
            a NumPy array. Any real numbers: logits, probabilities or ranks give the same AP,
            which depends only on the order of the scores within each class. NaN or infinity
            raises.
        targets: [N, C] or [N], same shape: 1 positive, 0 negative, any negative number ignored
            (VOC ``difficult``). bool, int or float.

    Returns:
        float64 [C] (a 0-dim tensor for [N] input) on the CPU, wherever the input was: the sort
        runs in NumPy, much faster than torch on the CPU, and N x C scores are quick to copy. NaN
        for a class with no positive, so that it drops out of the mean.

    >>> scores = torch.tensor([[0.9, 0.1], [0.8, 0.7], [0.3, 0.2], [0.1, 0.4]])
    >>> targets = torch.tensor([[1, 0], [0, 1], [1, -1], [0, 0]])
    >>> average_precision(scores, targets)
    tensor([0.8333, 1.0000], dtype=torch.float64)
    """
    scores, targets = as_tensor(scores, "scores"), as_tensor(targets, "targets")
    _average_precision_tensor_validation(scores, targets)
    ap = torch.from_numpy(_average_precision_compute(*_average_precision_format(scores, targets)))
    return ap[0] if scores.ndim == 1 else ap


def mean_average_precision(
    scores: torch.Tensor, targets: torch.Tensor, *, voc07: bool = False
) -> float:
    """Mean over classes of the average precision (mAP), ignoring classes with no positive.

    Args:
        scores: float or int [N, C]; see :func:`average_precision`.
        targets: [N, C]; 1 positive, 0 negative, negative numbers ignored.
        voc07: if True, each class's AP is the PASCAL VOC 2007 11-point interpolated AP (the mean,
            over r = 0, 0.1, ..., 1, of the highest precision at a recall of at least r; tied
            scores enter together) instead of the non-interpolated AP.

    Returns:
        The mAP in [0, 1] as a float; NaN when no class has a positive.

    >>> scores = torch.tensor([[0.9, 0.1], [0.8, 0.7], [0.3, 0.2], [0.1, 0.4]])
    >>> targets = torch.tensor([[1, 0], [0, 1], [1, -1], [0, 0]])
    >>> round(mean_average_precision(scores, targets), 6)
    0.916667
    >>> round(mean_average_precision(scores, targets, voc07=True), 6)
    0.924242
    """
    _average_precision_arg_validation(None, voc07)
    scores, targets = as_tensor(scores, "scores"), as_tensor(targets, "targets")
    _average_precision_tensor_validation(scores, targets)
    compute = _voc07_average_precision_compute if voc07 else _average_precision_compute
    return _nanmean(compute(*_average_precision_format(scores, targets)))


# --- streaming ---------------------------------------------------------------------------------


class MultilabelAveragePrecision:
    """Multi-label mAP accumulated batch by batch: ``update`` per batch, ``compute`` at the end.

    Exact, so it keeps every score it is given, on the CPU (5 bytes per sample and class: the
    4952 x 20 scores of the VOC 2007 test set take under 0.5 MB).

    Args:
        num_classes: C; every batch must have C columns. None: taken from the first batch.
        voc07: compute the VOC 2007 11-point AP instead of the non-interpolated AP.

    >>> metric = MultilabelAveragePrecision(num_classes=2)
    >>> metric.update(torch.tensor([[0.9, 0.1], [0.8, 0.7]]), torch.tensor([[1, 0], [0, 1]]))
    >>> metric.update(torch.tensor([[0.3, 0.2], [0.1, 0.4]]), torch.tensor([[1, -1], [0, 0]]))
    >>> round(metric.compute(), 6)
    0.916667
    >>> metric.compute_per_class()
    tensor([0.8333, 1.0000], dtype=torch.float64)
    """

    def __init__(self, num_classes: int | None = None, *, voc07: bool = False) -> None:
        _average_precision_arg_validation(num_classes, voc07)
        self.num_classes = num_classes
        self.voc07 = voc07
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self._scores: list[np.ndarray] = []
        self._codes: list[np.ndarray] = []
        self._batch_classes: int | None = self.num_classes

    def update(self, scores: torch.Tensor, targets: torch.Tensor) -> None:
        """Add one batch.

        Args:
            scores: float or int [N, C] (logits are fine), any device, or a NumPy array.
            targets: [N, C]: 1 positive, 0 negative, negative numbers ignored.
        """
        scores, targets = as_tensor(scores, "scores"), as_tensor(targets, "targets")
        _average_precision_tensor_validation(scores, targets, self._batch_classes)
        scores_array, codes = _average_precision_format(scores, targets)
        self._batch_classes = scores_array.shape[1]
        self._scores.append(scores_array)
        self._codes.append(codes)

    def compute_per_class(self) -> torch.Tensor:
        """AP of each class over every batch so far: float64 [C] on the CPU; NaN for a class with
        no positive (and for every class, with a warning, before any update)."""
        if not self._scores:
            warnings.warn(
                "MultilabelAveragePrecision.compute() was called before any update(); "
                "returning NaN.",
                stacklevel=3,
            )
            return torch.full((self._batch_classes or 1,), math.nan, dtype=torch.float64)
        compute = _voc07_average_precision_compute if self.voc07 else _average_precision_compute
        # np.concatenate keeps every bit: mixed float32 / float64 batches become float64.
        return torch.from_numpy(compute(np.concatenate(self._scores), np.concatenate(self._codes)))

    def compute(self) -> float:
        """The mAP over every batch so far (NaN-ignoring mean over classes), as a float."""
        return _nanmean(self.compute_per_class())
