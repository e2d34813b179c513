"""Semantic segmentation: per-class AP and IoU over a whole test set, in constant memory.

:class:`SegmentationEvaluator` is fed one batch at a time and keeps only

- a C x C confusion matrix of (true class, predicted class) pixel counts, for IoU, and
- per class, two histograms of the class's probability over ``bins`` equal bins: one for the
  pixels of that class, one for all other pixels, for AP.

Both have a fixed size, so memory does not grow with the test set, and AP follows from the
histograms exactly as from sorted scores, each bin acting as one group of tied scores. Bin k holds
the probabilities p with k <= p * (bins - 1) < k + 1 (the last bin holds p = 1), i.e. the
thresholds are k / (bins - 1), as torchmetrics' ``thresholds=torch.linspace(0, 1, bins,
dtype=torch.float64)``; the products are taken in float64, which is exact for float32
probabilities. ``bench/metrics.py`` measures the
result against exact AP (scikit-learn, on a subset) and against torchmetrics' binned
``MulticlassAveragePrecision``.

Scores: the evaluator is told once, when it is created, whether it will get logits (softmax over
dimension 1 is applied) or probabilities (checked to lie in [0, 1], never transformed). It never
decides per batch, which is how torchmetrics can silently score one batch as logits and the next
as probabilities.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from helpers.metrics._inputs import as_tensor, shape_str
from helpers.metrics.classification import (
    _class_index_validation,
    _classification_arg_validation,
    _confusion_matrix_update,
    iou_from_confusion_matrix,
)
from helpers.metrics.ranking import (
    _average_precision_compute,
    _average_precision_from_histograms,
    _nanmean,
)

__all__ = ["SegmentationEvaluator", "SegmentationScores"]

ScoreKind = Literal["logits", "probabilities"]
_SCORE_KINDS = ("logits", "probabilities")

# Pixels processed at once (whole images; one image if it is larger): bounds the temporary
# memory of an update whatever the batch size. bench/metrics.py measures the peak for 6 classes.
_CHUNK_PIXELS = 2**19


@dataclass(frozen=True, eq=False)
class SegmentationScores(Mapping[str, Any]):
    """What :meth:`SegmentationEvaluator.compute` returns; also a read-only mapping of its fields,
    so ``helpers.train.fit`` logs its float means as history columns (``<name>_mean_ap``,
    ``<name>_mean_iou``) and leaves the per-class tensors out.

    Attributes:
        ap: float64 [C], CPU: average precision of each class (one class against the rest, over
            every pixel not ignored); NaN for a class no pixel belongs to.
        iou: float64 [C], CPU: intersection over union of each class, predicted class = highest
            score; NaN for a class absent from both prediction and ground truth.
        mean_ap: NaN-ignoring mean of ``ap``.
        mean_iou: NaN-ignoring mean of ``iou`` (mIoU).
    """

    ap: torch.Tensor
    iou: torch.Tensor
    mean_ap: float
    mean_iou: float

    def scalars(self) -> dict[str, float]:
        """The means as plain floats: ``{"mean_ap": ..., "mean_iou": ...}``."""
        return {"mean_ap": self.mean_ap, "mean_iou": self.mean_iou}

    def __getitem__(self, key: str) -> Any:
        if key not in _RESULT_FIELDS:
            raise KeyError(f"{key!r}; SegmentationScores holds {', '.join(_RESULT_FIELDS)}.")
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_RESULT_FIELDS)

    def __len__(self) -> int:
        return len(_RESULT_FIELDS)


_RESULT_FIELDS = ("ap", "iou", "mean_ap", "mean_iou")


# --- argument and tensor validation ------------------------------------------------------------


def _segmentation_arg_validation(
    num_classes: int, ignore_index: int | None, bins: int | None, scores: str
) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            f"Expected `num_classes` to be an int >= 2 (background counts as a class) but got "
            f"{num_classes!r}."
        )
    _classification_arg_validation(num_classes, ignore_index)
    if bins is not None and (isinstance(bins, bool) or not isinstance(bins, int) or bins < 2):
        raise ValueError(
            f"Expected `bins` to be an int >= 2 (e.g. 1000) or None (exact AP) but got {bins!r}."
        )
    if scores not in _SCORE_KINDS:
        raise ValueError(
            f"Unknown value {scores!r} for argument scores. Valid values are "
            "{'logits', 'probabilities'}: 'logits' for raw model outputs (softmax is applied), "
            "'probabilities' for outputs that already went through softmax."
        )


def _segmentation_tensor_validation(
    scores: torch.Tensor, masks: torch.Tensor, num_classes: int
) -> None:
    """Check shapes and dtypes (values are checked chunk by chunk during the update)."""
    if scores.ndim < 2 or scores.shape[1] != num_classes:
        raise ValueError(
            f"Expected `scores` of shape [N, C, H, W] with C = {num_classes} (num_classes) but got "
            f"{shape_str(scores)}."
        )
    if masks.shape != scores.shape[:1] + scores.shape[2:]:
        raise ValueError(
            f"Expected `masks` of shape [N, H, W] matching scores {shape_str(scores)}, i.e. "
            f"[{scores.shape[0]}, {', '.join(str(n) for n in scores.shape[2:])}], but got "
            f"{shape_str(masks)}."
        )
    if not scores.is_floating_point():
        raise TypeError(
            f"Expected floating-point `scores` (logits or probabilities) but got {scores.dtype}."
        )
    if masks.is_floating_point() or masks.is_complex() or masks.dtype == torch.bool:
        raise TypeError(
            f"Expected `masks` to hold class indices (uint8 or int64, as read from PNG masks) but "
            f"got {masks.dtype}."
        )


def _chunk_value_validation(
    scores: torch.Tensor, masks: torch.Tensor, num_classes: int, ignore_index: int | None,
    score_kind: ScoreKind,
) -> None:  # fmt: skip
    """Check one chunk's values: finite scores, probabilities in [0, 1], known mask values."""
    low, high = (float(v) for v in torch.aminmax(scores))  # NaN propagates into both
    if score_kind == "probabilities" and not (low >= 0.0 and high <= 1.0):
        raise ValueError(
            "SegmentationEvaluator(scores='probabilities') expects values in [0, 1] but this "
            f"batch holds values from {low:g} to {high:g}. If these are raw model outputs, create "
            "the evaluator with scores='logits' (softmax over the classes is then applied)."
        )
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(
            f"Expected finite `scores` but this batch holds values from {low:g} to {high:g}. "
            "Check the model's outputs (a NaN loss during training leaves NaN outputs)."
        )
    if score_kind == "logits" and low >= 0.0 and high <= 1.0:
        sums = scores.sum(dim=1, dtype=torch.float32)
        if bool(((sums - 1.0).abs() < 1e-3).all()):
            warnings.warn(
                "SegmentationEvaluator(scores='logits') got scores that sum to 1 over the classes, "
                "like probabilities. Softmax is applied to them anyway; if they are probabilities, "
                "create the evaluator with scores='probabilities'.",
                stacklevel=4,
            )
    _class_index_validation(masks, "masks", num_classes, ignore_index)


# --- update and compute ------------------------------------------------------------------------


def _pixel_chunks(scores: torch.Tensor, masks: torch.Tensor):
    """(scores [n, C, P], masks [n, P]) pieces of the batch, about _CHUNK_PIXELS pixels each."""
    n_images = scores.shape[0]
    scores, masks = scores.reshape(n_images, scores.shape[1], -1), masks.reshape(n_images, -1)
    per_image = max(masks.shape[1], 1)
    step = max(1, _CHUNK_PIXELS // per_image)
    for start in range(0, n_images, step):
        yield scores[start : start + step], masks[start : start + step]


def _segmentation_update(
    scores: torch.Tensor, masks: torch.Tensor, *, num_classes: int, ignore_index: int | None,
    bins: int | None, score_kind: ScoreKind,
) -> tuple[torch.Tensor, torch.Tensor | None, list[tuple[np.ndarray, np.ndarray]]]:  # fmt: skip
    """One batch's counts.

    Args:
        scores: float [N, C, H, W]; masks: int [N, H, W] (already shape- and dtype-checked).

    Returns:
        ``confmat``: int64 [C, C]; ``histograms``: int64 [C, 2, bins] (index 0 negatives, 1
        positives) or None when ``bins`` is None; ``samples``: for ``bins=None``, a list of
        (probabilities float [P, C], labels int64 [P]) for the pixels not ignored, else empty.
    """
    device = scores.device
    confmat = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
    histograms = None
    if bins is not None:
        histograms = torch.zeros(num_classes, 2, bins, dtype=torch.int64, device=device)
    samples: list[tuple[np.ndarray, np.ndarray]] = []
    for chunk, labels in _pixel_chunks(scores, masks):
        if chunk.dtype not in (torch.float32, torch.float64):
            chunk = chunk.float()  # float16 / bfloat16 (mixed precision): softmax in float32
        labels = labels.long()
        valid = (
            labels != ignore_index
            if ignore_index is not None
            else torch.ones_like(labels, dtype=torch.bool)
        )
        _chunk_value_validation(chunk, labels, num_classes, ignore_index, score_kind)
        # The predicted class is the highest score; softmax preserves it, so take it from the raw
        # scores (float rounding in softmax could otherwise turn a near-tie into a tie).
        predicted = torch.max(chunk, dim=1).indices
        confmat += _confusion_matrix_update(predicted, labels, num_classes, ignore_index)
        probabilities = torch.softmax(chunk, dim=1) if score_kind == "logits" else chunk
        if histograms is None:
            keep = valid.flatten()
            flat = probabilities.transpose(1, 2).reshape(-1, num_classes)
            samples.append((flat[keep].cpu().numpy(), labels.flatten()[keep].cpu().numpy()))
            continue
        trash = 2 * bins  # ignored pixels are counted in one extra bin that is then cut off
        for c in range(num_classes):
            # Bin index floor(p * (bins - 1)) taken in float64: exact for float32 p, so the bins
            # are exactly the thresholds linspace(0, 1, bins).
            index = (probabilities[:, c].double() * (bins - 1)).long()
            index += bins * (labels == c)
            index.masked_fill_(~valid, trash)
            counts = torch.bincount(index.flatten(), minlength=trash + 1)
            histograms[c] += counts[:trash].view(2, bins)
    return confmat, histograms, samples


def _segmentation_compute(
    confmat: torch.Tensor,
    histograms: torch.Tensor | None,
    samples: list[tuple[np.ndarray, np.ndarray]],
) -> SegmentationScores:
    """Per-class AP and IoU and their means from the accumulated state."""
    num_classes = confmat.shape[0]
    iou = iou_from_confusion_matrix(confmat.cpu())
    if histograms is not None:
        ap = _average_precision_from_histograms(histograms[:, 1], histograms[:, 0]).cpu()
    elif samples:
        probabilities = np.concatenate([p for p, _ in samples])
        labels = np.concatenate([lab for _, lab in samples])
        one_hot = (labels[:, None] == np.arange(num_classes)).astype(np.int8)
        ap = torch.from_numpy(_average_precision_compute(probabilities, one_hot))
    else:
        ap = torch.full((num_classes,), math.nan, dtype=torch.float64)
    return SegmentationScores(ap=ap, iou=iou, mean_ap=_nanmean(ap), mean_iou=_nanmean(iou))


# --- streaming ---------------------------------------------------------------------------------


class SegmentationEvaluator:
    """Per-class AP and IoU of a segmentation model over a test set, fed batch by batch.

    Args:
        num_classes: C, background included (VOC: 21).
        ignore_index: mask value of pixels to leave out of every count (VOC: 255, object
            borders); None if every pixel counts.
        bins: number of probability bins per class for AP (thresholds ``linspace(0, 1, bins)``):
            memory is constant, 16 * C * bins bytes, and AP is within a few 1e-4 of exact AP for
            1000 bins (measured in ``bench/metrics.py``). None: exact AP, keeping every pixel's
            probabilities on the CPU (4 * C + 8 bytes per pixel for float32 scores), for small
            sets only.
        scores: what :meth:`update` will get, fixed for the evaluator's life: ``"logits"`` (raw
            model outputs; softmax over dim 1 is applied) or ``"probabilities"`` (already
            softmaxed; must lie in [0, 1], else update raises).

    State lives on the device of the batches (moved if a batch comes on another device; CPU for
    MPS, which lacks float64). Memory of an update is bounded too: pixels are processed in chunks
    of whole images, about half a million pixels each.

    >>> evaluator = SegmentationEvaluator(num_classes=2, scores="probabilities")
    >>> foreground = torch.tensor([[[0.9, 0.8], [0.4, 0.1]]])   # [N=1, H=2, W=2]
    >>> evaluator.update(torch.stack([1 - foreground, foreground], dim=1),
    ...                  torch.tensor([[[1, 0], [1, 255]]]))
    >>> result = evaluator.compute()
    >>> result.ap, result.iou
    (tensor([0.5000, 0.8333], dtype=torch.float64), tensor([0.0000, 0.3333], dtype=torch.float64))
    >>> result.scalars()
    {'mean_ap': 0.6666666666666666, 'mean_iou': 0.16666666666666666}
    """

    def __init__(
        self,
        num_classes: int,
        ignore_index: int | None = 255,
        bins: int | None = 1000,
        *,
        scores: ScoreKind = "logits",
    ) -> None:
        _segmentation_arg_validation(num_classes, ignore_index, bins, scores)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.bins = bins
        self.scores = scores
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self.confusion_matrix = torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)
        self.histograms: torch.Tensor | None = None
        if self.bins is not None:
            self.histograms = torch.zeros(self.num_classes, 2, self.bins, dtype=torch.int64)
        self._samples: list[tuple[np.ndarray, np.ndarray]] = []
        self._updates = 0

    def update(self, scores: torch.Tensor, masks: torch.Tensor) -> None:
        """Add one batch.

        Args:
            scores: float [N, C, H, W] (float16/bfloat16 from mixed precision are fine), logits
                or probabilities as chosen when the evaluator was created. Torch tensor on any
                device, or NumPy array.
            masks: int [N, H, W] (uint8 from PNG masks or int64): class indices 0..C-1 or
                ``ignore_index``.
        """
        scores, masks = as_tensor(scores, "scores"), as_tensor(masks, "masks")
        if scores.device.type == "mps":  # float64 binning needs a device that has float64
            scores = scores.cpu()
        masks = masks.to(scores.device)
        _segmentation_tensor_validation(scores, masks, self.num_classes)
        confmat, histograms, samples = _segmentation_update(
            scores,
            masks,
            num_classes=self.num_classes,
            ignore_index=self.ignore_index,
            bins=self.bins,
            score_kind=self.scores,
        )
        if self.confusion_matrix.device != scores.device:
            self.confusion_matrix = self.confusion_matrix.to(scores.device)
            if self.histograms is not None:
                self.histograms = self.histograms.to(scores.device)
        self.confusion_matrix += confmat
        if self.histograms is not None:
            self.histograms += histograms
        self._samples.extend(samples)
        self._updates += 1

    def compute(self) -> SegmentationScores:
        """Per-class AP and IoU, and their NaN-ignoring means, over every batch so far."""
        if self._updates == 0:
            warnings.warn(
                "SegmentationEvaluator.compute() was called before any update(); the scores are "
                "all NaN.",
                stacklevel=2,
            )
        return _segmentation_compute(self.confusion_matrix, self.histograms, self._samples)
