"""helpers.withheld: library answers raise inside the block, wherever they were reached from,
and are whole again afterwards."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import helpers.metrics.ranking as ranking
from helpers.grading import withheld
from helpers.withheld import withheld_functions

SCORES, TARGETS = np.array([0.9, 0.8, 0.7, 0.1]), np.array([1, 0, 1, 0])


def test_every_alias_of_the_kits_ap_raises_inside_and_works_after():
    alias = ranking.average_precision
    partial = functools.partial(ranking.average_precision)

    def closure():
        return alias(SCORES, TARGETS)

    def default(f=ranking.average_precision):
        return f(SCORES, TARGETS)

    before = float(alias(SCORES, TARGETS))
    calls = [lambda: alias(SCORES, TARGETS), lambda: partial(SCORES, TARGETS), closure, default,
             lambda: ranking.mean_average_precision(SCORES[:, None], TARGETS[:, None])]  # fmt: skip
    with withheld("average precision"):
        for call in calls:
            with pytest.raises(RuntimeError, match="compute the average precision yourself"):
                call()
    assert [float(np.asarray(call())) for call in calls[:4]] == [before] * 4


def test_functions_are_restored_when_the_block_raises():
    code = ranking.average_precision.__code__
    with pytest.raises(ZeroDivisionError), withheld("average precision"):
        raise ZeroDivisionError
    assert ranking.average_precision.__code__ is code


def test_scikit_learns_validated_functions_and_their_wrapped_core_raise():
    metrics = pytest.importorskip("sklearn.metrics")
    with withheld("average precision"):
        for call in (metrics.average_precision_score, metrics.average_precision_score.__wrapped__,
                     metrics.precision_recall_curve):  # fmt: skip
            with pytest.raises(RuntimeError, match="not available inside this test"):
                call(TARGETS, SCORES)
    assert metrics.average_precision_score(TARGETS, SCORES) == pytest.approx(5 / 6)


def test_confusion_matrix_answers_are_withheld_too():
    import torch

    from helpers.metrics import SegmentationEvaluator, confusion_matrix, iou_from_confusion_matrix

    names = {f.__name__ for f in withheld_functions("confusion matrix")}
    assert {"confusion_matrix", "iou_from_confusion_matrix"} <= names
    with withheld("confusion matrix"):
        with pytest.raises(RuntimeError, match="compute the confusion matrix yourself"):
            confusion_matrix(np.array([0, 1]), np.array([0, 1]), 2)
        with pytest.raises(RuntimeError):
            iou_from_confusion_matrix(np.eye(2))
        evaluator = SegmentationEvaluator(2)  # its update counts a confusion matrix too
        with pytest.raises(RuntimeError, match="not available inside this test"):
            evaluator.update(torch.zeros(1, 2, 3, 3), torch.zeros(1, 3, 3, dtype=torch.int64))
    assert np.asarray(confusion_matrix(np.array([0, 1]), np.array([0, 1]), 2)).trace() == 2


def test_the_graders_numpy_counts_are_withheld_too():
    from helpers.metrics.segmentation_numpy import (
        QuantisedSegmentationCounts,
        iou_from_confusion_matrix_of_arrays,
    )

    counts = QuantisedSegmentationCounts(2)
    scores, mask = np.zeros((2, 3, 3), np.uint8), np.zeros((3, 3), np.int64)
    with withheld("confusion matrix"):
        for call in (lambda: counts.update(scores, mask),
                     lambda: iou_from_confusion_matrix_of_arrays(np.eye(2))):  # fmt: skip
            with pytest.raises(RuntimeError, match="compute the confusion matrix yourself"):
                call()
    counts.update(scores, mask)
    assert counts.confusion_matrix[0, 0] == 9


def test_an_unknown_answer_is_named():
    with pytest.raises(KeyError, match="known: "), withheld("accuracy"):
        pass
