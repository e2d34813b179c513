"""The grader's torch-free segmentation metrics: per-class AP and IoU of 8-bit score maps.

A graded notebook hands in, for each hidden image, one score per class and pixel quantised to
256 levels (``helpers.predictions.save_segmentation_scores``: ``round(255 * probability)``).
:class:`QuantisedSegmentationCounts` is fed one image at a time and keeps only

- a C x C confusion matrix of (true class, predicted class) pixel counts, the predicted class
  being the highest quantised score (ties go to the lowest class index, as ``np.argmax`` and
  ``torch.max`` break them), for IoU; and
- per class, two 256-bin histograms of that class's score level: one over the pixels of the
  class, one over all other pixels, for AP.

With 256 possible score levels, each histogram bin *is* one group of tied scores, so AP from the
histograms is the exact non-interpolated AP of sorting every pixel (ties entering together, as in
scikit-learn): the same number :class:`helpers.metrics.SegmentationEvaluator` gives with
``bins=None`` on the probabilities ``level / 255`` (tests/test_score_masks.py checks it). Memory
is constant: 8 * C * (C + 512) bytes, whatever the number of images. Nothing here imports torch:
the grader scores in a container of 768 MB, and torch alone takes about 400.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "LEVELS",
    "QuantisedSegmentationCounts",
    "average_precision_from_histograms",
    "iou_from_confusion_matrix_of_arrays",
]

#: Score levels of a quantised score map: uint8, 0 (probability 0) to 255 (probability 1).
LEVELS = 256


def average_precision_from_histograms(
    positive_counts: np.ndarray, negative_counts: np.ndarray
) -> np.ndarray:
    """AP per class from score histograms, each bin one group of tied scores.

    The NumPy twin of ``helpers.metrics.ranking._average_precision_from_histograms``: AP is the
    mean, over the positives, of the precision at the threshold where they enter.

    Args:
        positive_counts, negative_counts: int [C, B]; bin b counts the positives / negatives
            whose score falls in bin b, bins in increasing order of score.

    Returns:
        float64 [C]; NaN for a class with no positive.

    >>> average_precision_from_histograms(np.array([[0, 1, 1]]), np.array([[1, 1, 0]]))
    array([0.83333333])
    """
    positive_counts = np.asarray(positive_counts, dtype=np.int64)[:, ::-1]
    negative_counts = np.asarray(negative_counts, dtype=np.int64)[:, ::-1]
    true_pos = positive_counts.cumsum(axis=1)
    counted = np.maximum(true_pos + negative_counts.cumsum(axis=1), 1)
    total = (positive_counts * (true_pos / counted)).sum(axis=1)
    positives = true_pos[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(positives > 0, total / np.maximum(positives, 1), math.nan)


def iou_from_confusion_matrix_of_arrays(confmat: np.ndarray) -> np.ndarray:
    """IoU_c = TP_c / (TP_c + FP_c + FN_c) from an int [C, C] confusion matrix (rows: true,
    columns: predicted), float64 [C]; NaN for a class absent from both, as
    :func:`helpers.metrics.iou_from_confusion_matrix` gives.

    >>> iou_from_confusion_matrix_of_arrays(np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]]))
    array([0.75      , 0.66666667,        nan])
    """
    confmat = np.asarray(confmat, dtype=np.int64)
    true_pos = np.diagonal(confmat)
    union = confmat.sum(axis=0) + confmat.sum(axis=1) - true_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, true_pos / np.maximum(union, 1), math.nan)


def _nanmean(values: np.ndarray) -> float:
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else math.nan


class QuantisedSegmentationCounts:
    """Per-class AP and IoU over a set of images, fed one quantised score map at a time.

    Args:
        num_classes: C, background included.
        ignore_index: mask value of pixels left out of every count (VOC: 255).

    >>> counts = QuantisedSegmentationCounts(num_classes=2)
    >>> foreground = np.array([[230, 204], [102, 26]], dtype=np.uint8)   # (H=2, W=2)
    >>> counts.update(np.stack([255 - foreground, foreground]), np.array([[1, 0], [1, 255]]))
    >>> ap, iou = counts.compute()
    >>> ap.round(4).tolist(), iou.round(4).tolist()
    ([0.5, 0.8333], [0.0, 0.3333])
    """

    def __init__(self, num_classes: int, ignore_index: int | None = 255) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"Expected num_classes >= 2 (background counts), got {num_classes!r}.")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.confusion_matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
        #: int64 [C, 2, LEVELS]: [:, 0] the other pixels' levels, [:, 1] the class's own pixels'.
        self.histograms = np.zeros((num_classes, 2, LEVELS), dtype=np.int64)
        self.images = 0

    def update(self, scores: np.ndarray, mask: np.ndarray) -> None:
        """Add one image.

        Args:
            scores: uint8 (C, H, W): score level of each class at each pixel.
            mask: int (H, W): the true class of each pixel, 0..C-1, or ``ignore_index``.

        Raises:
            ValueError: shapes that do not match, scores not uint8, or mask values that are no
                class (the mask is the grader's, so this is the grader's data to fix).
        """
        c = self.num_classes
        if scores.dtype != np.uint8 or scores.ndim != 3 or scores.shape[0] != c:
            raise ValueError(f"Expected uint8 scores (C={c}, H, W), got {scores.dtype} "
                             f"{scores.shape}.")  # fmt: skip
        if mask.shape != scores.shape[1:]:
            raise ValueError(f"Expected a mask of shape {scores.shape[1:]}, got {mask.shape}.")
        labels = mask.reshape(-1).astype(np.int64)
        valid = labels != self.ignore_index if self.ignore_index is not None else slice(None)
        labels = labels[valid]
        if labels.size and (labels.min() < 0 or labels.max() >= c):
            bad = sorted(set(np.unique(labels).tolist()) - set(range(c)))
            raise ValueError(
                f"Expected mask values 0..{c - 1} or {self.ignore_index}, found {bad}."
            )
        flat = scores.reshape(c, -1)[:, valid]  # (C, P) levels of the pixels that count
        predicted = flat.argmax(axis=0)  # ties: the lowest class index
        self.confusion_matrix += np.bincount(labels * c + predicted, minlength=c * c).reshape(c, c)
        for k in range(c):
            # One bincount per class: level + LEVELS when the pixel is of class k.
            index = flat[k].astype(np.int64) + LEVELS * (labels == k)
            self.histograms[k] += np.bincount(index, minlength=2 * LEVELS).reshape(2, LEVELS)
        self.images += 1

    def compute(self) -> tuple[np.ndarray, np.ndarray]:
        """(AP, IoU): float64 [C] each, NaN for a class no pixel belongs to (AP) or that is
        absent from both prediction and truth (IoU)."""
        ap = average_precision_from_histograms(self.histograms[:, 1], self.histograms[:, 0])
        return ap, iou_from_confusion_matrix_of_arrays(self.confusion_matrix)

    def means(self) -> tuple[float, float]:
        """(mean AP, mean IoU): NaN-ignoring means over the classes."""
        ap, iou = self.compute()
        return _nanmean(ap), _nanmean(iou)
