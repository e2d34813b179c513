"""Accuracy, confusion matrix and IoU (helpers.metrics.classification)."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from helpers.metrics import (
    Accuracy,
    StreamingMetric,
    accuracy,
    confusion_matrix,
    iou_from_confusion_matrix,
)

PROPERTY = settings(max_examples=60, deadline=None)


@st.composite
def labelled_cases(draw):
    """(scores float32 [N, C], targets int64 [N], C) where some classes may never occur."""
    n = draw(st.integers(1, 50))
    c = draw(st.integers(2, 7))  # one score per sample is refused (see the messages test)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scores = rng.normal(size=(n, c)).astype(np.float32)
    targets = rng.integers(0, max(1, c // 2 + 1), size=n)  # upper classes often absent
    return scores, targets, c


@PROPERTY
@given(labelled_cases())
def test_confusion_matrix_matches_sklearn_and_is_always_c_by_c(case):
    """Is the matrix scikit-learn's (rows true, columns predicted), C x C with absent classes?"""
    scores, targets, c = case
    with warnings.catch_warnings():  # sklearn warns when one label occurs; labels= handles it
        warnings.simplefilter("ignore", UserWarning)
        expected = sklearn_confusion_matrix(targets, scores.argmax(1), labels=list(range(c)))
    from_scores = confusion_matrix(scores, targets, c)
    from_labels = confusion_matrix(torch.from_numpy(scores.argmax(1)), torch.from_numpy(targets), c)
    assert from_scores.shape == (c, c)
    np.testing.assert_array_equal(from_scores.numpy(), expected)
    np.testing.assert_array_equal(from_labels.numpy(), expected)


@PROPERTY
@given(labelled_cases())
def test_accuracy_matches_sklearn(case):
    """Does accuracy equal scikit-learn's? (Per-class accuracy is a2's exercise, not a helper.)"""
    scores, targets, _ = case
    predicted = scores.argmax(1)
    assert accuracy(scores, targets) == pytest.approx(accuracy_score(targets, predicted))


def test_iou_matches_a_numpy_reference_and_is_nan_for_a_class_absent_everywhere():
    """Is IoU = TP / (TP + FP + FN), NaN only for a class absent from prediction and truth?"""
    rng = np.random.default_rng(0)
    target = rng.integers(0, 4, size=1000)  # class 4 never occurs in the target...
    pred = np.where(rng.random(1000) < 0.7, target, rng.integers(0, 4, size=1000))
    pred[:3] = 4  # ...but is predicted three times; class 5 occurs nowhere
    confmat = confusion_matrix(pred, target, 6)
    iou = iou_from_confusion_matrix(confmat).numpy()
    for c in range(5):
        tp = np.sum((pred == c) & (target == c))
        union = np.sum((pred == c) | (target == c))
        assert iou[c] == pytest.approx(tp / union)
    assert iou[4] == 0.0 and math.isnan(iou[5])


def test_ignore_index_leaves_pixels_out_of_the_confusion_matrix():
    """Are target pixels equal to ignore_index left out, whatever was predicted there?"""
    target = torch.tensor([[0, 1], [255, 255]])
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 2] = 1.0  # predicts class 2 everywhere
    confmat = confusion_matrix(logits, target[None], 3, ignore_index=255)
    assert confmat.tolist() == [[0, 0, 1], [0, 0, 1], [0, 0, 0]]


def test_streaming_accuracy_equals_one_call_and_resets():
    """Does Accuracy over batches (scores or labels) equal accuracy() on the whole set?"""
    rng = np.random.default_rng(1)
    scores = torch.from_numpy(rng.normal(size=(100, 10)).astype(np.float32))
    targets = torch.from_numpy(rng.integers(0, 10, size=100))
    metric = Accuracy()
    assert isinstance(metric, StreamingMetric)
    for start in range(0, 100, 32):
        metric.update(scores[start : start + 32], targets[start : start + 32])
    assert metric.compute() == pytest.approx(accuracy(scores, targets))
    metric.reset()
    metric.update(scores.argmax(1)[:10], targets[:10].numpy())
    assert metric.compute() == pytest.approx(
        float((scores.argmax(1) == targets)[:10].double().mean())
    )


def test_compute_before_any_update_warns_and_gives_nan():
    """Does Accuracy.compute() with no batch say so and return NaN?"""
    with pytest.warns(UserWarning, match=r"Accuracy.compute\(\) was called before any update"):
        assert math.isnan(Accuracy().compute())


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: accuracy(torch.rand(4, 3), torch.rand(4, 3)),
            TypeError,
            r"Expected `target` to hold class indices .* got dtype torch.float32\. One-hot",
        ),
        (
            lambda: accuracy(torch.rand(4), torch.tensor([0, 1, 1, 0])),
            TypeError,
            r"so it should hold class indices \(an int tensor\) but its dtype is torch.float32",
        ),
        (
            lambda: accuracy(torch.rand(4, 3), torch.tensor([0, 1, 2])),
            ValueError,
            r"Expected `pred` to be class indices shaped like `target` \(\[3\]\) or scores",
        ),
        (
            lambda: accuracy(torch.randn(4, 1), torch.tensor([0, 1, 1, 0])),
            ValueError,
            r"has one score per sample, so the highest score is always class 0",
        ),
        (
            lambda: confusion_matrix(torch.tensor([0, 3, 7]), torch.tensor([0, 1, 2]), 3),
            ValueError,
            r"Expected `pred` to hold class indices 0\.\.2 \(num_classes=3\) but found 3, 7\.",
        ),
        (
            lambda: confusion_matrix(torch.rand(2, 4, 5, 5), torch.zeros(2, 5, 5).long(), 3),
            ValueError,
            r"`pred` holds scores for 4 classes .* but num_classes=3",
        ),
        (
            lambda: confusion_matrix(torch.tensor([0]), torch.tensor([0]), 3, ignore_index=1),
            ValueError,
            r"`ignore_index`=1 is also a class index \(0\.\.2\)",
        ),
    ],
)
def test_bad_input_gets_a_message_with_what_was_expected_and_what_came(call, error, message):
    """Do float targets, float labels, wrong shapes and out-of-range classes raise clearly?"""
    with pytest.raises(error, match=message):
        call()
