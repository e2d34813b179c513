"""Evaluators for the course: accuracy, confusion matrix, AP/mAP, and segmentation AP and IoU.

Students and the autograder score models with the same functions. Each takes torch tensors on
any device or NumPy arrays, checks its input and says what it expected when it gets something
else, and gives the textbook answer (multi-label AP equals scikit-learn's
``average_precision_score`` per class).

Functions (one call on a whole set):

- :func:`accuracy`, :func:`confusion_matrix`, :func:`iou_from_confusion_matrix`
  (``helpers.metrics.classification``; per-class accuracy is a2's exercise ``class_accuracies``)
- :func:`average_precision`, :func:`mean_average_precision` (``helpers.metrics.ranking``; their
  NumPy core, and the grader's torch-free metrics, in ``helpers.metrics.ranking_numpy``)

Streaming classes (``reset()``, ``update(outputs, targets)`` per batch, ``compute()``), the shape
``helpers.train.fit`` expects (:class:`StreamingMetric`):

- :class:`Accuracy` -> float
- :class:`MultilabelAveragePrecision` -> float (mAP); ``compute_per_class()`` -> AP per class
- :class:`SegmentationEvaluator` -> :class:`SegmentationScores` (per-class AP and IoU, their means)
"""

from helpers._lazy import lazy_exports

# Imported on first use, so that the grader's torch-free ``helpers.metrics.ranking_numpy`` can be
# imported without torch (helpers._lazy).
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "classification": [
            "Accuracy",
            "accuracy",
            "confusion_matrix",
            "iou_from_confusion_matrix",
        ],
        "ranking": ["MultilabelAveragePrecision", "average_precision", "mean_average_precision"],
        "segmentation": ["SegmentationEvaluator", "SegmentationScores"],
        "streaming": ["StreamingMetric"],
    },
)
