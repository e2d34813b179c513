"""Single-label classification: accuracy, confusion matrix and IoU.

Predictions may be given as class indices or as scores: an int tensor shaped like the targets is
read as predicted classes; a float tensor with one more dimension, classes in dimension 1 (the
shape a model outputs: [N, C] for images, [N, C, H, W] for segmentation), is turned into classes by
taking the highest score. The two cannot be confused, so nothing is guessed.

Counting is a single ``torch.bincount`` over ``target * C + pred`` on the tensors' own device.
scikit-learn's ``confusion_matrix`` gives the same matrix (the tests check it) but is NumPy-only and
would drop classes absent from both inputs unless told every label.
"""

from __future__ import annotations

import math
import warnings

import torch

from helpers.metrics._inputs import as_tensor, describe_values, shape_str

__all__ = [
    "Accuracy",
    "accuracy",
    "confusion_matrix",
    "iou_from_confusion_matrix",
]


# --- argument and tensor validation ------------------------------------------------------------


def _classification_arg_validation(num_classes: int | None, ignore_index: int | None) -> None:
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise ValueError(f"Expected `num_classes` to be a positive int but got {num_classes!r}.")
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, int)
    ):
        raise ValueError(f"Expected `ignore_index` to be an int or None but got {ignore_index!r}.")
    if ignore_index is not None and num_classes is not None and 0 <= ignore_index < num_classes:
        raise ValueError(
            f"`ignore_index`={ignore_index} is also a class index (0..{num_classes - 1}); choose a "
            "value outside that range (e.g. 255, as VOC masks use) or None."
        )


def _predicted_classes(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Class indices from ``pred``: itself when shaped like ``target``, else argmax over dim 1."""
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(
            f"Expected `target` to hold class indices (an int tensor, e.g. int64) but got dtype "
            f"{target.dtype}. One-hot targets can be turned into indices with target.argmax(1)."
        )
    if pred.shape == target.shape:
        if pred.is_floating_point() or pred.is_complex() or pred.dtype == torch.bool:
            raise TypeError(
                f"`pred` has the shape of `target` ({shape_str(target)}), so it should hold class "
                f"indices (an int tensor) but its dtype is {pred.dtype}. Pass the model's scores "
                "[N, C, ...] instead, or take pred.argmax(1) first."
            )
        return pred
    if pred.ndim == target.ndim + 1 and pred.shape[:1] + pred.shape[2:] == target.shape:
        if not pred.is_floating_point():
            raise TypeError(
                f"`pred` of shape {shape_str(pred)} is read as scores [N, C, ...] and should be "
                f"floating point, but its dtype is {pred.dtype}."
            )
        if pred.shape[1] == 1:
            raise ValueError(
                f"`pred` of shape {shape_str(pred)} has one score per sample, so the highest score "
                "is always class 0. For a single binary logit, pass (pred > 0).long() "
                "squeezed to the shape of `target`."
            )
        # torch.max over dim 1 returns the first maximal index, like argmax, and ran about six
        # times faster than argmax on [10, 6, 224 * 224] scores on the CPU (one thread).
        return torch.max(pred, dim=1).indices
    raise ValueError(
        "Expected `pred` to be class indices shaped like `target` "
        f"({shape_str(target)}) or scores [N, C, ...] with classes in dimension 1, but got "
        f"{shape_str(pred)}."
    )


def _class_index_validation(
    values: torch.Tensor, name: str, num_classes: int, ignore_index: int | None = None
) -> None:
    """Raise unless every entry is in 0..num_classes-1 (or equals ``ignore_index``)."""
    bad = (values < 0) | (values >= num_classes)
    if ignore_index is not None:
        bad &= values != ignore_index
    if bool(bad.any()):
        allowed = f"0..{num_classes - 1}" + (
            "" if ignore_index is None else f" or ignore_index={ignore_index}"
        )
        raise ValueError(
            f"Expected `{name}` to hold class indices {allowed} (num_classes={num_classes}) but "
            f"found {describe_values(values[bad])}."
        )


def _classification_format(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int | None, ignore_index: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted and true class indices, int64, same shape, on ``pred``'s device, validated."""
    pred, target = as_tensor(pred, "pred"), as_tensor(target, "target")
    target = target.to(pred.device)
    classes = _predicted_classes(pred, target)
    if num_classes is not None:
        if classes is not pred and pred.shape[1] != num_classes:
            raise ValueError(
                f"`pred` holds scores for {pred.shape[1]} classes (shape {shape_str(pred)}, "
                f"classes in dimension 1) but num_classes={num_classes}."
            )
        _class_index_validation(classes, "pred", num_classes)
        _class_index_validation(target, "target", num_classes, ignore_index)
    return classes.long(), target.long()


# --- update and compute ------------------------------------------------------------------------


def _confusion_matrix_update(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int | None
) -> torch.Tensor:
    """int64 [C, C] counts, rows true class, columns predicted class, ignored targets dropped."""
    index = target * num_classes + pred
    if ignore_index is not None:
        # Ignored pixels go to one extra bin that is cut off: cheaper than boolean indexing.
        index = index.masked_fill(target == ignore_index, num_classes * num_classes)
    counts = torch.bincount(index.flatten(), minlength=num_classes * num_classes + 1)
    return counts[: num_classes * num_classes].view(num_classes, num_classes)


def _safe_ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """float64 numerator / denominator, NaN where the denominator is 0."""
    ratio = numerator.double() / denominator.clamp(min=1).double()
    return torch.where(denominator > 0, ratio, math.nan)


# --- public functions --------------------------------------------------------------------------


def confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, *, ignore_index: int | None = None
) -> torch.Tensor:
    """Counts of (true class, predicted class) pairs: always C x C, every class present.

    Args:
        pred: int [N, ...] predicted classes, or float [N, C, ...] scores (argmax over dim 1).
            Torch tensor on any device or NumPy array.
        target: int [N, ...] true classes in 0..C-1 (or ``ignore_index``).
        num_classes: C.
        ignore_index: a target value to leave out (VOC masks use 255 for object borders).

    Returns:
        int64 [C, C] on ``pred``'s device: entry [i, j] counts samples (or pixels) of true class i
        predicted as j, as in ``sklearn.metrics.confusion_matrix``.

    >>> confusion_matrix(torch.tensor([0, 2, 2, 1]), torch.tensor([0, 1, 2, 255]), 3,
    ...                  ignore_index=255)
    tensor([[1, 0, 0],
            [0, 0, 1],
            [0, 0, 1]])
    """
    _classification_arg_validation(num_classes, ignore_index)
    pred, target = _classification_format(pred, target, num_classes, ignore_index)
    return _confusion_matrix_update(pred, target, num_classes, ignore_index)


def iou_from_confusion_matrix(confmat: torch.Tensor) -> torch.Tensor:
    """Intersection over union (Jaccard index) of each class from a confusion matrix.

    IoU_c = TP_c / (TP_c + FP_c + FN_c). A class absent from both the prediction and the ground
    truth has 0 / 0: NaN, not 0, so that it drops out of the mean IoU rather than dragging it down.

    Args:
        confmat: int [C, C], rows true class, columns predicted (see :func:`confusion_matrix`).

    Returns:
        float64 [C].

    >>> iou_from_confusion_matrix(torch.tensor([[3, 1, 0], [0, 2, 0], [0, 0, 0]]))
    tensor([0.7500, 0.6667,    nan], dtype=torch.float64)
    """
    confmat = as_tensor(confmat, "confmat")
    if confmat.ndim != 2 or confmat.shape[0] != confmat.shape[1]:
        raise ValueError(f"Expected a square confusion matrix [C, C] but got {shape_str(confmat)}.")
    true_pos = confmat.diagonal()
    return _safe_ratio(true_pos, confmat.sum(dim=0) + confmat.sum(dim=1) - true_pos)


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of samples whose predicted class is the true class.

    Args:
        pred: int [N, ...] predicted classes, or float [N, C, ...] scores (logits or
            probabilities; the highest score in dim 1 is the prediction).
        target: int [N, ...] true classes.

    Returns:
        A float in [0, 1]; NaN when there is no sample.

    >>> accuracy(torch.tensor([[2.0, 0.1], [0.3, 0.9], [1.5, -1.0]]), torch.tensor([0, 1, 1]))
    0.6666666666666666
    """
    pred, target = _classification_format(pred, target, None, None)
    return float((pred == target).sum()) / target.numel() if target.numel() else math.nan


# --- streaming ---------------------------------------------------------------------------------


class Accuracy:
    """Accuracy accumulated batch by batch: ``update`` per batch, ``compute`` at the end.

    Keeps two counts on the batches' device, so ``update`` never waits for the GPU.

    >>> metric = Accuracy()
    >>> metric.update(torch.tensor([[2.0, 0.1], [0.3, 0.9]]), torch.tensor([0, 1]))
    >>> metric.update(torch.tensor([1, 0]), torch.tensor([1, 1]))
    >>> metric.compute()
    0.75
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self._correct: torch.Tensor | int = 0
        self._total = 0

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Add one batch.

        Args:
            outputs: float [N, C, ...] scores or int [N, ...] predicted classes.
            targets: int [N, ...] true classes.
        """
        pred, target = _classification_format(outputs, targets, None, None)
        self._correct = self._correct + (pred == target).sum()
        self._total += target.numel()

    def compute(self) -> float:
        """Accuracy over every batch so far, as a float (NaN, with a warning, if none)."""
        if self._total == 0:
            warnings.warn(
                "Accuracy.compute() was called before any update(); returning NaN.", stacklevel=2
            )
            return math.nan
        return float(self._correct) / self._total
