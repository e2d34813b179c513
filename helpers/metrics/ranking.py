"""Average precision (AP) per class and its mean (mAP), exact, for multi-label classification.

AP here is scikit-learn's non-interpolated AP, the area under the precision-recall curve taken as
a step function::

    AP = sum over thresholds k of (R_k - R_{k-1}) * P_k

with one threshold per distinct score (tied scores enter together, as in scikit-learn's
``average_precision_score``), ``R_k`` and ``P_k`` the recall and precision of "score >= threshold
k", and ``R_0 = 0``. The VOC 2007 variant (``voc07=True``) instead averages, over the 11 recall
levels r = 0, 0.1, ..., 1, the highest precision reached at a recall of at least r.

Written by hand (not a loop over ``sklearn.metrics.average_precision_score``) because one sort
over all classes at once, on the tensors' own device, is what makes the evaluator fast enough to run
every epoch; ``bench/metrics.py`` measures the difference and the tests pin the values to
scikit-learn's. The same formula, fed per-bin counts instead of per-score counts, gives the
constant-memory segmentation AP of :mod:`helpers.metrics.segmentation`.

Targets: 1 positive, 0 negative, any negative number ignored (e.g. VOC ``difficult`` objects,
which the kit's VOC loader writes as -1; note that VOC's own label files use 0 for difficult).
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
import torch

from helpers.metrics._inputs import as_tensor, describe_values, shape_str, work_device

__all__ = ["MultilabelAveragePrecision", "average_precision", "mean_average_precision"]

# Targets are recoded to int8 as soon as they are validated: 1 positive, 0 negative, -1 ignored.
_POSITIVE, _IGNORED = 1, -1


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
    """Check shapes, dtypes and values; raise with what was expected and what came."""
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
    if scores.numel() and not bool(torch.isfinite(scores).all()):
        raise ValueError(
            "Expected finite `scores` but found NaN or infinity. Check the model's outputs "
            "(a NaN loss during training leaves NaN outputs)."
        )
    if targets.is_complex():
        raise TypeError(f"Expected real-valued `targets` but got dtype {targets.dtype}.")
    if targets.dtype == torch.bool or targets.numel() == 0:
        return
    if not targets.is_floating_point() and int(targets.max()) <= 1:
        return  # integers up to 1 are 1, 0 or negative: the common case costs one pass
    unexpected = (targets != 0) & (targets != 1) & ~(targets < 0)  # NaN counts as unexpected
    if bool(unexpected.any()):
        raise ValueError(
            "Expected `targets` to hold only 0, 1 or a negative number (ignored, e.g. -1 for "
            f"VOC 'difficult') but found {describe_values(targets[unexpected])}. Multi-label "
            "targets are one 0/1 column per class, not class indices."
        )


def _average_precision_format(
    scores: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores as [N, C] float32/float64 (converted exactly), targets as [N, C] int8 1/0/-1."""
    if scores.ndim == 1:
        scores, targets = scores[:, None], targets[:, None]
    if not scores.is_floating_point():
        scores = scores.double()  # integer scores: exact below 2**53
    elif scores.dtype not in (torch.float32, torch.float64):
        scores = scores.float()  # float16 / bfloat16: exact, and sortable everywhere
    if targets.is_floating_point():
        targets = torch.where(targets < 0, _IGNORED, targets)
    codes = targets.clamp(min=_IGNORED).to(torch.int8) if targets.dtype != torch.bool else targets
    device = work_device(scores.device)
    return scores.to(device), codes.to(device=device, dtype=torch.int8)


# --- compute -----------------------------------------------------------------------------------


class _Ranking(NamedTuple):
    """Every class's samples ranked best score first (rows: classes, columns: rank)."""

    is_positive: torch.Tensor  # bool [C, N]
    true_pos: torch.Tensor  # int64 [C, N]: positives ranked at or above this rank
    precision: torch.Tensor  # float64 [C, N]: precision at this rank's threshold (its tie group's
    # last rank: tied scores enter together, as in scikit-learn)


def _argsort_descending(values: torch.Tensor) -> torch.Tensor:
    """int64 [C, N]: the order that sorts each row of ``values`` [C, N] from high to low."""
    if values.device.type == "cpu":
        # NumPy's vectorised (SIMD) sort is about ten times faster than torch's on the CPU;
        # negating is exact and makes its ascending order ours.
        return torch.from_numpy(np.argsort(np.negative(values.numpy()), axis=1))
    return torch.argsort(values, dim=1, descending=True)


def _rank(scores: torch.Tensor, codes: torch.Tensor) -> _Ranking:
    """Rank every class at once: scores float [N, C], codes int8 [N, C] of 1 / 0 / -1."""
    ignored = codes < 0
    if bool(ignored.any()):
        # Ignored entries are ranked last, behind every real (finite) score: then the k-th rank
        # of a real entry has exactly k real entries at or above it, and they change nothing.
        scores = scores.masked_fill(ignored, -math.inf)
    scores_by_class, codes_by_class = scores.T.contiguous(), codes.T.contiguous()
    order = _argsort_descending(scores_by_class).to(scores.device)
    ranked_scores = scores_by_class.gather(1, order)
    is_positive = codes_by_class.gather(1, order) == _POSITIVE
    true_pos = is_positive.cumsum(dim=1)
    n_ranks = scores.shape[0]
    precision = true_pos / torch.arange(1, n_ranks + 1, dtype=torch.float64, device=scores.device)
    is_group_end = torch.ones_like(is_positive)
    is_group_end[:, :-1] = ranked_scores[:, 1:] != ranked_scores[:, :-1]
    if not bool(is_group_end.all()):
        # Ties: every rank takes the precision of its group's last rank, the first group end at
        # or after it (a running minimum of end positions, read from the right).
        ranks = torch.arange(n_ranks, device=scores.device).expand_as(order)
        group_end = torch.where(is_group_end, ranks, n_ranks).flip(1).cummin(dim=1).values.flip(1)
        precision = precision.gather(1, group_end)
    return _Ranking(is_positive, true_pos, precision)


def _mean_precision_at_positives(
    is_positive: torch.Tensor, precision: torch.Tensor, positives: torch.Tensor
) -> torch.Tensor:
    """AP = the mean, over the positives, of the precision at their threshold; NaN if none.

    This is sum_k (R_k - R_{k-1}) P_k regrouped: the recall gained at threshold k is the number
    of positives entering there, divided by the number of positives.
    """
    total = torch.where(is_positive, precision, 0.0).sum(dim=1)
    return torch.where(positives > 0, total / positives.clamp(min=1), math.nan)


def _average_precision_compute(scores: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Exact AP per class, float64 [C], from scores float [N, C] and codes int8 [N, C]."""
    if scores.shape[0] == 0:
        return torch.full((scores.shape[1],), math.nan, dtype=torch.float64, device=scores.device)
    ranking = _rank(scores, codes)
    positives = ranking.true_pos[:, -1]
    return _mean_precision_at_positives(ranking.is_positive, ranking.precision, positives)


def _voc07_average_precision_compute(scores: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """VOC 2007 11-point interpolated AP per class, float64 [C]; NaN for a class with no positive.

    Recall is compared with r = k/10 exactly, in integers (10 * TP >= k * P), so a recall of
    exactly 3/10 counts for r = 0.3 (floating-point 0.1 * 3 would not).
    """
    if scores.shape[0] == 0:
        return torch.full((scores.shape[1],), math.nan, dtype=torch.float64, device=scores.device)
    _, true_pos, precision = _rank(scores, codes)
    positives = true_pos[:, -1]
    best_from_here = precision.flip(1).cummax(dim=1).values.flip(1)
    levels = torch.arange(11, device=scores.device)
    needed = (levels[None, :] * positives[:, None] + 9) // 10  # ceil(k * P / 10) true positives
    # The first rank reaching that many true positives; its tie group's threshold and every
    # later one have a recall of at least k/10, every earlier one less.
    first = torch.searchsorted(true_pos, needed).clamp(max=true_pos.shape[1] - 1)
    ap = best_from_here.gather(1, first).mean(dim=1)
    return torch.where(positives > 0, ap, math.nan)


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


def _nanmean(values: torch.Tensor) -> float:
    """Mean of the non-NaN entries as a float; NaN (silently) when there is none."""
    return float(torch.nanmean(values.double())) if values.numel() else math.nan


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
        float64 [C] (or a 0-dim tensor for [N] input) on ``scores``' device (CPU for NumPy or
        MPS input); NaN for a class with no positive, so that it drops out of the mean.

    >>> scores = torch.tensor([[0.9, 0.1], [0.8, 0.7], [0.3, 0.2], [0.1, 0.4]])
    >>> targets = torch.tensor([[1, 0], [0, 1], [1, -1], [0, 0]])
    >>> average_precision(scores, targets)
    tensor([0.8333, 1.0000], dtype=torch.float64)
    """
    scores, targets = as_tensor(scores, "scores"), as_tensor(targets, "targets")
    _average_precision_tensor_validation(scores, targets)
    ap = _average_precision_compute(*_average_precision_format(scores, targets))
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

    Exact, so it keeps every score it is given (5 bytes per sample and class: 4952 x 20 VOC test
    images take under 0.5 MB), on the device the batches come on.

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
        self._scores: list[torch.Tensor] = []
        self._codes: list[torch.Tensor] = []
        self._batch_classes: int | None = self.num_classes

    def update(self, scores: torch.Tensor, targets: torch.Tensor) -> None:
        """Add one batch.

        Args:
            scores: float or int [N, C] (logits are fine), any device, or a NumPy array.
            targets: [N, C]: 1 positive, 0 negative, negative numbers ignored.
        """
        scores, targets = as_tensor(scores, "scores"), as_tensor(targets, "targets")
        _average_precision_tensor_validation(scores, targets, self._batch_classes)
        scores, codes = _average_precision_format(scores, targets)
        self._batch_classes = scores.shape[1]
        if self._scores and self._scores[0].device != scores.device:
            scores, codes = scores.to(self._scores[0].device), codes.to(self._scores[0].device)
        if self._scores and self._scores[0].dtype != scores.dtype:
            scores = scores.double()  # mixing float32 and float64 batches: keep every bit
            self._scores = [s.double() for s in self._scores]
        self._scores.append(scores)
        self._codes.append(codes)

    def compute_per_class(self) -> torch.Tensor:
        """AP of each class over every batch so far: float64 [C]; NaN for a class with no
        positive (and for every class, with a warning, before any update)."""
        if not self._scores:
            warnings.warn(
                "MultilabelAveragePrecision.compute() was called before any update(); "
                "returning NaN.",
                stacklevel=3,
            )
            return torch.full((self._batch_classes or 1,), math.nan, dtype=torch.float64)
        compute = _voc07_average_precision_compute if self.voc07 else _average_precision_compute
        return compute(torch.cat(self._scores), torch.cat(self._codes))

    def compute(self) -> float:
        """The mAP over every batch so far (NaN-ignoring mean over classes), as a float."""
        return _nanmean(self.compute_per_class())
