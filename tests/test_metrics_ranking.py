"""Average precision and mAP (helpers.metrics.ranking) against scikit-learn and the VOC devkit."""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, precision_recall_curve

from helpers.metrics import (
    MultilabelAveragePrecision,
    StreamingMetric,
    average_precision,
    mean_average_precision,
)

# Small, tie-rich cases: scores from a handful of values, targets from {-1, 0, 1}.
PROPERTY = settings(max_examples=60, deadline=None)


@st.composite
def multilabel_cases(draw, max_n=40, max_c=4):
    """(scores float64 [N, C], targets int64 [N, C] of -1/0/1), with ties and empty classes."""
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(1, max_c))
    levels = draw(st.integers(1, 8))  # few distinct scores: many ties
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, (n, c)) / levels + rng.normal(0, 3, (1, c))
    targets = rng.choice([-1, 0, 1], p=[0.1, 0.6, 0.3], size=(n, c))
    if c > 1:
        targets[:, 0] = np.where(targets[:, 0] == 1, 0, targets[:, 0])  # a class with no positive
    return scores, targets


def sklearn_ap(scores, targets):
    """scikit-learn's AP of each column over its non-ignored entries; NaN without a positive."""
    out = []
    for column in range(scores.shape[1]):
        keep = targets[:, column] >= 0
        y, s = targets[keep, column], scores[keep, column]
        out.append(average_precision_score(y, s) if (y == 1).any() else math.nan)
    return np.array(out)


def voc07_reference(scores, targets):
    """11-point AP from scikit-learn's precision-recall curve, recall compared exactly."""
    out = []
    for column in range(scores.shape[1]):
        keep = targets[:, column] >= 0
        y, s = targets[keep, column], scores[keep, column]
        positives = int((y == 1).sum())
        if positives == 0:
            out.append(math.nan)
            continue
        precision, recall, _ = precision_recall_curve(y, s)
        precision, recall = precision[:-1], recall[:-1]  # drop the (recall 0, precision 1) end
        recall_fractions = [Fraction(round(r * positives), positives) for r in recall]
        total = 0.0
        for k in range(11):
            reached = [
                p for p, r in zip(precision, recall_fractions, strict=True) if r >= Fraction(k, 10)
            ]
            total += max(reached, default=0.0)
        out.append(total / 11)
    return np.array(out)


def voc_devkit_ap(scores, targets):
    """VOCevalcls.m's 11-point AP: rank by score, one point per sample (valid without ties)."""
    out = []
    for column in range(scores.shape[1]):
        order = np.argsort(-scores[:, column], kind="stable")
        gt = targets[order, column]
        tp, fp = np.cumsum(gt == 1), np.cumsum(gt == 0)
        recall, precision = tp / max((gt == 1).sum(), 1), tp / np.maximum(tp + fp, 1)
        ap = 0.0
        for t in np.linspace(0, 1, 11):
            ap += precision[recall >= t - 1e-12].max(initial=0.0) / 11
        out.append(ap)
    return np.array(out)


@PROPERTY
@given(multilabel_cases())
def test_average_precision_matches_sklearn_with_ties_and_ignored_entries(case):
    """Does AP equal scikit-learn's on every column, ties, -1 entries and empty classes included?"""
    scores, targets = case
    ours = average_precision(scores, targets).numpy()
    np.testing.assert_allclose(ours, sklearn_ap(scores, targets), atol=1e-6, equal_nan=True)


def test_average_precision_matches_sklearn_on_a_voc_sized_float32_set():
    """On 4952 x 20 float32 logits, where rounding alone makes ties, is AP still sklearn's?"""
    rng = np.random.default_rng(4)
    targets = (rng.random((4952, 20)) < rng.uniform(0.02, 0.3, size=20)).astype(np.int64)
    scores = (2 * targets + rng.normal(size=targets.shape)).astype(np.float32)
    targets[rng.random(targets.shape) < 0.01] = -1
    assert any(len(np.unique(scores[:, c])) < 4952 for c in range(20))  # ties are there
    np.testing.assert_allclose(
        average_precision(scores, targets).numpy(), sklearn_ap(scores, targets), atol=1e-9
    )


@PROPERTY
@given(multilabel_cases())
def test_voc07_matches_an_independent_11_point_implementation(case):
    """Does voc07=True match an 11-point AP built on scikit-learn's precision-recall curve?"""
    scores, targets = case
    expected = np.nanmean(voc07_reference(scores, targets)) if (targets == 1).any() else math.nan
    ours = mean_average_precision(scores, targets, voc07=True)
    assert ours == pytest.approx(expected, abs=1e-9, nan_ok=True)


def test_voc07_matches_the_devkit_formula_without_ties():
    """Without ties, is voc07=True the VOC devkit's per-sample 11-point AP?"""
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(300, 5))
    targets = (rng.random((300, 5)) < 0.2).astype(int)
    expected = voc_devkit_ap(scores, targets).mean()
    assert mean_average_precision(scores, targets, voc07=True) == pytest.approx(expected, abs=1e-12)


def test_voc07_counts_a_recall_of_exactly_three_tenths_for_level_point_three():
    """Is recall 3/10 compared exactly with r = 0.3 (not lost to 0.1 * 3 = 0.30000000000000004)?"""
    # 10 positives; the best precision at recall >= 0.3 is reached at exactly 3 of 10 positives.
    targets = torch.tensor([1, 1, 1] + [0] * 5 + [1] * 7)[:, None]
    scores = -torch.arange(len(targets), dtype=torch.float64)[:, None]
    precision_at_3 = 1.0  # the first three are all positive
    ap = mean_average_precision(scores, targets, voc07=True)
    # Levels 0..0.3 take precision 1; levels 0.4..1.0 take 10/15 (best at full recall).
    assert ap == pytest.approx((4 * precision_at_3 + 7 * 10 / 15) / 11, abs=1e-12)


def test_a_class_without_positives_is_nan_and_left_out_of_the_mean():
    """Does a class with no positive give NaN (not 0), and mAP average only the others?"""
    scores = torch.tensor([[0.9, 0.2], [0.1, 0.8], [0.5, 0.4]])
    targets = torch.tensor([[1, 0], [0, 0], [0, -1]])
    ap = average_precision(scores, targets)
    assert ap[0] == 1.0 and math.isnan(ap[1])
    assert mean_average_precision(scores, targets) == 1.0
    assert math.isnan(mean_average_precision(scores, torch.zeros_like(targets)))


def test_ap_depends_only_on_the_order_of_scores():
    """Do logits and their sigmoid (a monotone map) give the same AP?"""
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, size=(500, 3))
    targets = (rng.random((500, 3)) < 0.3).astype(np.int64)
    from_logits = average_precision(logits, targets)
    from_probabilities = average_precision(1 / (1 + np.exp(-logits)), targets)
    torch.testing.assert_close(from_logits, from_probabilities, rtol=0, atol=1e-12)


def test_numpy_torch_dtypes_and_one_dimensional_input_agree():
    """Do NumPy and torch, float16, int and bool inputs, and [N] input give the same AP?"""
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 50, size=(200, 4))
    targets = rng.random((200, 4)) < 0.3
    expected = sklearn_ap(scores.astype(float), targets.astype(int))
    for s, t in [
        (scores, targets),
        (torch.from_numpy(scores).to(torch.float16), torch.from_numpy(targets)),
        (scores.astype(np.float32), targets.astype(np.float32)),
        (torch.from_numpy(scores), torch.from_numpy(targets).to(torch.int8)),
    ]:
        np.testing.assert_allclose(average_precision(s, t).numpy(), expected, atol=1e-12)
    one_class = average_precision(scores[:, 2], targets[:, 2])
    assert one_class.shape == () and float(one_class) == pytest.approx(expected[2], abs=1e-12)


def test_read_only_numpy_arrays_are_accepted_without_warnings():
    """Can the autograder pass memory-mapped (read-only) prediction arrays without warnings?"""
    scores = np.arange(6, dtype=np.float32).reshape(3, 2)
    scores.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ap = average_precision(scores, np.array([[1, 0], [0, 1], [1, 1]]))
    assert ap.tolist() == pytest.approx([(1 + 2 / 3) / 2, 1.0])


def test_empty_input_gives_nan():
    """Does a set with no sample give NaN per class rather than crash?"""
    ap = average_precision(torch.zeros(0, 3), torch.zeros(0, 3))
    assert ap.shape == (3,) and torch.isnan(ap).all()


def test_streaming_map_equals_one_call_on_the_whole_set():
    """Does MultilabelAveragePrecision over batches equal mAP on the concatenated set?"""
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(103, 6)).astype(np.float32)
    targets = rng.choice([-1, 0, 1], p=[0.05, 0.75, 0.2], size=(103, 6))
    for voc07 in (False, True):
        metric = MultilabelAveragePrecision(num_classes=6, voc07=voc07)
        assert isinstance(metric, StreamingMetric)
        for start in range(0, 103, 16):
            metric.update(torch.from_numpy(scores[start : start + 16]), targets[start : start + 16])
        result = metric.compute()
        assert isinstance(result, float)
        assert result == pytest.approx(mean_average_precision(scores, targets, voc07=voc07))
    metric.reset()
    metric.update(scores[:10], targets[:10])
    expected = mean_average_precision(scores[:10], targets[:10], voc07=True)
    assert metric.compute() == pytest.approx(expected)


def test_streaming_map_before_any_update_warns_and_gives_nan():
    """Does compute() before update() say so and return NaN rather than crash?"""
    with pytest.warns(UserWarning, match=r"compute\(\) was called before any update\(\)"):
        assert math.isnan(MultilabelAveragePrecision(num_classes=3).compute())


def test_streaming_map_rejects_a_batch_with_another_number_of_classes():
    """Does a batch with the wrong number of columns get a message naming both?"""
    metric = MultilabelAveragePrecision()
    metric.update(torch.rand(4, 20), torch.ones(4, 20))
    with pytest.raises(ValueError, match=r"Expected `scores` of shape \[N, 20\] .* got \[4, 21\]"):
        metric.update(torch.rand(4, 21), torch.ones(4, 21))


@pytest.mark.parametrize(
    ("scores", "targets", "error", "message"),
    [
        (
            torch.rand(5, 3),
            torch.ones(5, 4),
            ValueError,
            r"same shape, \[N, C\] .* got scores \[5, 3\] and targets \[5, 4\]",
        ),
        (
            torch.rand(4, 2),
            torch.tensor([[1, 2], [0, 5], [0, 0], [1, 1]]),
            ValueError,
            r"only 0, 1 or a negative number .* but found 2, 5\. .*not class indices",
        ),
        (
            torch.rand(2, 2),
            torch.tensor([[0.5, 1.0], [0.0, 0.0]]),
            ValueError,
            r"but found 0\.5\.",
        ),
        (
            torch.tensor([[0.1], [math.nan]]),
            torch.tensor([[1], [0]]),
            ValueError,
            r"Expected finite `scores` but found NaN or infinity",
        ),
        (
            "scores.npy",
            torch.ones(2, 2),
            TypeError,
            r"Expected `scores` to be a torch.Tensor or a NumPy array but got str",
        ),
    ],
)
def test_bad_input_gets_a_message_with_what_was_expected_and_what_came(
    scores, targets, error, message
):
    """Do wrong shapes, non-0/1 targets, NaN scores and wrong types raise clear messages?"""
    with pytest.raises(error, match=message):
        average_precision(scores, targets)
