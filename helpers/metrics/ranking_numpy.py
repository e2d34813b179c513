"""The NumPy core of exact average precision, and the grader's torch-free metrics.

:mod:`helpers.metrics.ranking` validates torch tensors or arrays and calls the core here; the
autograder scores prediction files with :func:`accuracy_of_indices` and
:func:`mean_average_precision_of_arrays`, which run the same core on arrays it has already
checked, without importing torch (a Gradescope container has 768 MB; torch takes about 400).
Students and the grader therefore get the same numbers from the same code.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["accuracy_of_indices", "mean_average_precision_of_arrays"]

# Targets are recoded to int8 as soon as they are validated: 1 positive, 0 negative, -1 ignored.
_POSITIVE, _IGNORED = 1, -1


# --- compute -----------------------------------------------------------------------------------
# On NumPy arrays: every op here is a sort or a pass over N x C numbers, and NumPy's vectorised
# (SIMD) sort and element-wise loops beat torch's CPU kernels by far (measured on one thread: a
# row-wise sort of 20 x 4952 float32 scores takes 1.1 ms with np.argsort and 8.8 ms with
# torch.sort; a comparison over them 4 us against 65 us). N x C scores are small, so GPU tensors
# are simply copied over.


class _Ranking(NamedTuple):
    """Every class's samples ranked best score first (rows: classes, columns: rank 0, 1, ...).

    Tied scores enter together, as in scikit-learn: the threshold of a rank is the last rank of
    its tie group. Ties are few in real outputs, so they are kept sparse, as flat indices into
    [C, N]: ``continued`` lists (sorted) the ranks whose score equals the next rank's, and
    ``group_last`` the last rank of each one's group.
    """

    is_positive: np.ndarray  # bool [C, N]
    true_pos: np.ndarray  # int32 [C, N]: positives ranked at or above this rank
    continued: np.ndarray  # int64 [T]
    group_last: np.ndarray  # int64 [T]

    def precision_at(self, flat_ranks: np.ndarray) -> np.ndarray:
        """float64 precision at the threshold of each flat rank (row * N + rank, sorted)."""
        n_ranks = self.true_pos.shape[1]
        if self.continued.size:
            where = np.searchsorted(self.continued, flat_ranks).clip(max=self.continued.size - 1)
            tied = self.continued[where] == flat_ranks
            flat_ranks = np.where(tied, self.group_last[where], flat_ranks)
        rank_in_row = flat_ranks % n_ranks
        return self.true_pos.reshape(-1)[flat_ranks] / (rank_in_row + 1.0)


def _rank(scores: np.ndarray, codes: np.ndarray) -> _Ranking:
    """Rank every class at once: scores float [N, C], codes int8 [N, C] of 1 / 0 / -1.

    Written to allocate little: a few N x C arrays, the rest in place.
    """
    n_ranks, n_classes = scores.shape
    # Our own [C, N] copy, negated (exact) so that NumPy's ascending sort ranks best first.
    negated = np.negative(scores.T, order="C")
    ignored = codes.T < 0
    if ignored.any():
        # Ignored entries are ranked last, behind every real (finite) score: then the k-th rank
        # of a real entry has exactly k real entries at or above it, and they change nothing.
        negated[ignored] = np.inf
    order = np.argsort(negated, axis=1)
    order += np.arange(n_classes)[:, None] * n_ranks  # flat indices: np.take is the fast gather
    ranked = np.take(negated, order)
    is_positive = np.take(np.ascontiguousarray(codes.T), order) == _POSITIVE
    del order
    count_type = np.int32 if n_ranks < 2**31 else np.int64
    true_pos = np.cumsum(is_positive, axis=1, dtype=count_type)
    # Ties among real scores only (ignored entries tie at +inf here, harmlessly).
    tied = (ranked[:, 1:] == ranked[:, :-1]) & (ranked[:, 1:] < np.inf)
    rows, columns = np.nonzero(tied)
    continued = rows * n_ranks + columns  # flat, sorted; a run of ties never crosses rows
    group_last = continued
    if continued.size:
        run_last = continued[np.append(np.flatnonzero(np.diff(continued) != 1), -1)]
        group_last = run_last[np.searchsorted(run_last, continued)] + 1
    return _Ranking(is_positive, true_pos, continued, group_last)


def _average_precision_compute(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Exact AP per class, float64 [C], from scores float [N, C] and codes int8 [N, C].

    AP = sum_k (R_k - R_{k-1}) P_k regrouped: the recall gained at threshold k is the number of
    positives entering there over the number of positives, so AP is the mean, over the positives,
    of the precision at their threshold. NaN for a class with no positive.
    """
    n_ranks, n_classes = scores.shape
    if n_ranks == 0:
        return np.full(n_classes, np.nan)
    ranking = _rank(scores, codes)
    positive_ranks = np.flatnonzero(ranking.is_positive)
    total = np.bincount(
        positive_ranks // n_ranks, ranking.precision_at(positive_ranks), minlength=n_classes
    )
    positives = ranking.true_pos[:, -1]
    return np.where(positives > 0, total / np.maximum(positives, 1), np.nan)


def _voc07_average_precision_compute(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """VOC 2007 11-point interpolated AP per class, float64 [C]; NaN for a class with no positive.

    Recall is compared with r = k/10 exactly, in integers (10 * TP >= k * P), so a recall of
    exactly 3/10 counts for r = 0.3 (floating-point 0.1 * 3 would not).
    """
    n_ranks, n_classes = scores.shape
    if n_ranks == 0:
        return np.full(n_classes, np.nan)
    ranking = _rank(scores, codes)
    true_pos = ranking.true_pos
    positives = true_pos[:, -1]
    precision = ranking.precision_at(np.arange(n_classes * n_ranks)).reshape(n_classes, n_ranks)
    best_from_here = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    needed = (np.arange(11) * positives[:, None] + 9) // 10  # ceil(k * P / 10) true positives
    # The first rank reaching that many true positives: its tie group's threshold and every later
    # one have a recall of at least k/10, every earlier one less. One search over all classes:
    # row c is shifted by c * (N + 1), which keeps the flattened counts sorted.
    shift = np.arange(n_classes)[:, None] * (n_ranks + 1)
    first = np.searchsorted((true_pos + shift).ravel(), (needed + shift).ravel())
    first = first.reshape(n_classes, 11) - np.arange(n_classes)[:, None] * n_ranks
    ap = np.take_along_axis(best_from_here, first, axis=1).mean(axis=1)
    return np.where(positives > 0, ap, np.nan)


def _nanmean(values: np.ndarray) -> float:
    """Mean of the non-NaN entries (an array, or a CPU tensor) as a float; NaN (silently) when
    there is none."""
    values = np.asarray(values, dtype=np.float64)
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else math.nan


# --- the grader's metrics ----------------------------------------------------------------------


def accuracy_of_indices(pred: np.ndarray, target: np.ndarray) -> float:
    """The fraction of samples whose predicted class index equals the target's.

    Args:
        pred: int (N,) predicted class indices.
        target: int (N,) true class indices.

    >>> accuracy_of_indices(np.array([1, 0, 1]), np.array([1, 0, 2]))
    0.6666666666666666
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.ndim != 1 or pred.shape != target.shape or pred.size == 0:
        raise ValueError(
            f"Expected `pred` and `target` of the same shape (N,), N > 0, but got "
            f"{pred.shape} and {target.shape}."
        )
    return float(np.mean(pred == target))


def mean_average_precision_of_arrays(
    scores: np.ndarray, targets: np.ndarray, *, voc07: bool = False
) -> float:
    """mAP over classes with a positive, as :func:`helpers.metrics.mean_average_precision`.

    Args:
        scores: float (N, C), finite.
        targets: int (N, C): 1 positive, 0 negative, any negative number ignored.
        voc07: the VOC 2007 11-point AP instead of the non-interpolated AP.

    >>> scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.3, 0.2], [0.1, 0.4]])
    >>> targets = np.array([[1, 0], [0, 1], [1, -1], [0, 0]])
    >>> round(mean_average_precision_of_arrays(scores, targets), 6)
    0.916667
    """
    scores, targets = np.asarray(scores, dtype=np.float64), np.asarray(targets)
    if scores.ndim != 2 or scores.shape != targets.shape:
        raise ValueError(
            f"Expected `scores` and `targets` of the same shape (N, C), but got {scores.shape} "
            f"and {targets.shape}."
        )
    if not np.isfinite(scores).all():
        raise ValueError("Expected finite `scores`, but found NaN or infinity.")
    if targets.size and not np.isin(targets[targets >= 0], (0, 1)).all():
        raise ValueError("Expected `targets` to hold only 1, 0 or negative (ignored) values.")
    codes = np.maximum(targets, _IGNORED).astype(np.int8)
    compute = _voc07_average_precision_compute if voc07 else _average_precision_compute
    return _nanmean(compute(scores, codes))
