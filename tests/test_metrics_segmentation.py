"""SegmentationEvaluator: IoU, binned and exact AP, streaming, and what it says about bad input."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score
from torchmetrics.classification import MulticlassAveragePrecision

import helpers.metrics.segmentation as segmentation
from helpers.metrics import SegmentationEvaluator, SegmentationScores, StreamingMetric

IGNORE = 255


def realistic_batch(seed, n=4, classes=4, size=48):
    """(logits float32 [n, C, H, W], masks uint8 [n, H, W]) resembling a segmentation model's.

    Masks: background 0 and a few rectangles of other classes, with 255 on their one-pixel
    borders (as VOC marks object edges). Logits: the true class raised, plus smooth noise (a
    model's errors are blobs, not salt and pepper) and a little per-pixel noise.
    """
    g = torch.Generator().manual_seed(seed)
    masks = torch.zeros(n, size, size, dtype=torch.uint8)
    for image in range(n):
        for _ in range(3):
            y0, x0 = torch.randint(0, size - 8, (2,), generator=g).tolist()
            h, w = torch.randint(6, size // 2, (2,), generator=g).tolist()
            cls = int(torch.randint(1, classes, (1,), generator=g))
            masks[image, y0 : y0 + h, x0 : x0 + w] = IGNORE
            masks[image, y0 + 1 : y0 + h - 1, x0 + 1 : x0 + w - 1] = cls
    truth = F.one_hot(masks.long().clamp(max=classes - 1), classes).permute(0, 3, 1, 2).float()
    smooth = F.interpolate(torch.randn(n, classes, 6, 6, generator=g), size=(size, size),
                           mode="bilinear", align_corners=False)  # fmt: skip
    logits = 2.5 * truth + 1.5 * smooth + 0.5 * torch.randn(n, classes, size, size, generator=g)
    return logits, masks


def sklearn_ap_per_class(probabilities, masks, classes):
    """Exact AP per class (scikit-learn) over the pixels whose mask is not IGNORE."""
    flat = probabilities.permute(0, 2, 3, 1).reshape(-1, classes).double().numpy()
    labels = masks.flatten().long().numpy()
    keep = labels != IGNORE
    out = []
    for c in range(classes):
        y = labels[keep] == c
        out.append(average_precision_score(y, flat[keep, c]) if y.any() else math.nan)
    return np.array(out)


def test_iou_matches_a_numpy_confusion_matrix():
    """Is IoU TP / (TP + FP + FN) from a NumPy confusion matrix of argmax vs mask, 255 left out?"""
    logits, masks = realistic_batch(0)
    evaluator = SegmentationEvaluator(num_classes=4)
    evaluator.update(logits[:2], masks[:2])
    evaluator.update(logits[2:], masks[2:])
    pred, true = logits.argmax(1).flatten().numpy(), masks.flatten().numpy().astype(int)
    keep = true != IGNORE
    confmat = np.bincount(true[keep] * 4 + pred[keep], minlength=16).reshape(4, 4)
    tp = np.diag(confmat)
    expected = tp / (confmat.sum(0) + confmat.sum(1) - tp)
    result = evaluator.compute()
    np.testing.assert_allclose(result.iou.numpy(), expected)
    np.testing.assert_array_equal(evaluator.confusion_matrix.numpy(), confmat)
    assert result.mean_iou == pytest.approx(expected.mean())


def test_exact_ap_with_bins_none_matches_sklearn():
    """With bins=None, is each class's AP scikit-learn's over every pixel that is not ignored?"""
    logits, masks = realistic_batch(1)
    probabilities = torch.softmax(logits, dim=1)
    evaluator = SegmentationEvaluator(num_classes=4, bins=None, scores="probabilities")
    evaluator.update(probabilities[:3], masks[:3])
    evaluator.update(probabilities[3:], masks[3:])
    expected = sklearn_ap_per_class(probabilities, masks, 4)
    np.testing.assert_allclose(evaluator.compute().ap.numpy(), expected, atol=1e-6)


def test_binned_ap_is_within_0_002_of_exact_ap_on_realistic_outputs():
    """Is the constant-memory AP (1000 bins) within 0.002 of the exact AP, class by class?"""
    binned = SegmentationEvaluator(num_classes=4)
    exact = SegmentationEvaluator(num_classes=4, bins=None)
    for seed in range(3):
        logits, masks = realistic_batch(10 + seed, n=4, size=64)
        binned.update(logits, masks)
        exact.update(logits, masks)
    difference = (binned.compute().ap - exact.compute().ap).abs()
    assert difference.max() < 0.002, difference


def test_binned_ap_agrees_with_torchmetrics_binned_ap_with_the_same_thresholds():
    """Does binned AP equal torchmetrics' MulticlassAveragePrecision at the same thresholds?"""
    logits, masks = realistic_batch(2, n=2, size=16)
    probabilities = torch.softmax(logits, dim=1)
    bins = 50
    reference = MulticlassAveragePrecision(
        num_classes=4,
        thresholds=torch.linspace(0, 1, bins, dtype=torch.float64),
        average="none",
        ignore_index=IGNORE,
    )
    reference.update(probabilities, masks.long())
    evaluator = SegmentationEvaluator(num_classes=4, bins=bins, scores="probabilities")
    evaluator.update(probabilities, masks)
    np.testing.assert_allclose(
        evaluator.compute().ap.numpy(), reference.compute().double().numpy(), atol=1e-6
    )


def test_logits_mode_equals_probabilities_mode_on_softmaxed_scores():
    """Does scores='logits' give what scores='probabilities' gives on softmax(logits)?"""
    logits, masks = realistic_batch(3)
    from_logits = SegmentationEvaluator(num_classes=4, scores="logits")
    from_probabilities = SegmentationEvaluator(num_classes=4, scores="probabilities")
    from_logits.update(logits, masks)
    from_probabilities.update(torch.softmax(logits, dim=1), masks)
    a, b = from_logits.compute(), from_probabilities.compute()
    torch.testing.assert_close(a.iou, b.iou)
    torch.testing.assert_close(a.ap, b.ap)


def test_results_do_not_depend_on_batching_chunking_or_input_type(monkeypatch):
    """Same counts for one batch or many, small or large chunks, torch or NumPy, uint8 or int64?"""
    logits, masks = realistic_batch(4, n=6, size=24)
    whole = SegmentationEvaluator(num_classes=4)
    whole.update(logits, masks.long())
    monkeypatch.setattr(segmentation, "_CHUNK_PIXELS", 100)  # one image (576 pixels) per chunk
    pieces = SegmentationEvaluator(num_classes=4)
    for start in range(0, 6, 4):
        pieces.update(logits[start : start + 4].numpy(), masks[start : start + 4].numpy())
    torch.testing.assert_close(pieces.histograms, whole.histograms, rtol=0, atol=0)
    torch.testing.assert_close(pieces.confusion_matrix, whole.confusion_matrix, rtol=0, atol=0)


def test_state_has_a_fixed_size_and_reset_clears_it():
    """Does the state keep its size over many batches, and does reset() start afresh?"""
    evaluator = SegmentationEvaluator(num_classes=4, bins=200)
    for seed in range(4):
        evaluator.update(*realistic_batch(seed, n=2, size=16))
        assert evaluator.histograms.shape == (4, 2, 200)
        assert evaluator.confusion_matrix.shape == (4, 4)
    assert int(evaluator.histograms.sum()) == 4 * int(evaluator.confusion_matrix.sum())
    evaluator.reset()
    assert int(evaluator.histograms.sum()) == 0 and int(evaluator.confusion_matrix.sum()) == 0


def test_absent_classes_are_nan_and_left_out_of_the_means():
    """Is a class in neither mask nor prediction NaN for IoU and AP, and left out of the means?"""
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 0] = torch.tensor([[2.0, 0.0], [2.0, 0.0]])
    logits[0, 1] = torch.tensor([[0.0, 2.0], [0.0, 2.0]])
    masks = torch.tensor([[[0, 1], [0, 0]]])
    evaluator = SegmentationEvaluator(num_classes=3)
    evaluator.update(logits, masks)
    result = evaluator.compute()
    assert math.isnan(result.iou[2]) and math.isnan(result.ap[2])
    assert result.iou[:2].tolist() == [2 / 3, 1 / 2]
    assert result.mean_iou == pytest.approx((2 / 3 + 1 / 2) / 2)
    # Class 0: two sure positives, then a tie of one positive and one negative: (2 + 3/4) / 3.
    assert result.ap[:2].tolist() == pytest.approx([11 / 12, 1 / 2])
    assert result.mean_ap == pytest.approx((11 / 12 + 1 / 2) / 2)


def test_compute_returns_loggable_means_and_per_class_tensors():
    """Does compute() give float means, a mapping fit can log, and the StreamingMetric shape?"""
    evaluator = SegmentationEvaluator(num_classes=4)
    assert isinstance(evaluator, StreamingMetric)
    evaluator.update(*realistic_batch(5, n=1, size=16))
    result = evaluator.compute()
    assert isinstance(result, SegmentationScores)
    assert isinstance(result.mean_ap, float) and isinstance(result.mean_iou, float)
    assert result.ap.shape == (4,) and result.ap.dtype == torch.float64
    assert dict(result)["mean_iou"] == result.mean_iou
    assert result.scalars() == {"mean_ap": result.mean_ap, "mean_iou": result.mean_iou}


def test_half_precision_scores_give_nearly_the_same_result():
    """Do float16 logits (mixed precision) give AP and IoU close to float32's?"""
    logits, masks = realistic_batch(6)
    full, half = SegmentationEvaluator(num_classes=4), SegmentationEvaluator(num_classes=4)
    full.update(logits, masks)
    half.update(logits.half(), masks)
    assert (full.compute().ap - half.compute().ap).abs().max() < 0.01
    assert (full.compute().iou - half.compute().iou).abs().max() < 0.01


def test_compute_before_any_update_warns_and_gives_nan():
    """Does compute() with no batch say so and return NaN means?"""
    with pytest.warns(UserWarning, match=r"compute\(\) was called before any update\(\)"):
        result = SegmentationEvaluator(num_classes=3).compute()
    assert math.isnan(result.mean_ap) and math.isnan(result.mean_iou)


def test_probabilities_mode_rejects_logits_and_names_the_fix():
    """Given logits while expecting probabilities, does it raise (not guess) and name the fix?"""
    logits, masks = realistic_batch(7, n=1, size=16)
    evaluator = SegmentationEvaluator(num_classes=4, scores="probabilities")
    with pytest.raises(
        ValueError,
        match=r"scores='probabilities'\) expects values in \[0, 1\] but this batch holds values "
        r"from -?\d.* create the evaluator with scores='logits'",
    ):
        evaluator.update(logits, masks)
    assert int(evaluator.confusion_matrix.sum()) == 0  # a rejected batch leaves no trace


def test_logits_mode_warns_when_given_probabilities():
    """Given probabilities while expecting logits, does it warn that softmax is applied again?"""
    logits, masks = realistic_batch(8, n=1, size=16)
    evaluator = SegmentationEvaluator(num_classes=4)
    with pytest.warns(UserWarning, match=r"got scores that sum to 1 over the classes"):
        evaluator.update(torch.softmax(logits, dim=1), masks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluator.update(logits, masks)  # real logits: no warning


@pytest.mark.parametrize(
    ("scores", "masks", "error", "message"),
    [
        (
            torch.randn(2, 5, 8, 8),
            torch.zeros(2, 8, 8, dtype=torch.long),
            ValueError,
            r"Expected `scores` of shape \[N, C, H, W\] with C = 4 \(num_classes\) but got "
            r"\[2, 5, 8, 8\]",
        ),
        (
            torch.randn(2, 4, 8, 8),
            torch.zeros(2, 8, 7, dtype=torch.long),
            ValueError,
            r"Expected `masks` of shape \[N, H, W\] .* \[2, 8, 8\], but got \[2, 8, 7\]",
        ),
        (
            torch.randn(2, 4, 8, 8),
            torch.full((2, 8, 8), 7),
            ValueError,
            r"Expected `masks` to hold class indices 0\.\.3 or ignore_index=255 \(num_classes=4\) "
            r"but found 7\.",
        ),
        (
            torch.randn(2, 4, 8, 8),
            torch.zeros(2, 8, 8),
            TypeError,
            r"Expected `masks` to hold class indices \(uint8 or int64",
        ),
        (
            torch.full((1, 4, 2, 2), math.nan),
            torch.zeros(1, 2, 2, dtype=torch.long),
            ValueError,
            r"Expected finite `scores`",
        ),
    ],
)
def test_bad_batches_get_a_message_with_what_was_expected_and_what_came(
    scores, masks, error, message
):
    """Do wrong shapes, unknown mask values, float masks and NaN scores raise clearly?"""
    with pytest.raises(error, match=message):
        SegmentationEvaluator(num_classes=4).update(scores, masks)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"scores": "prob"},
            r"Unknown value 'prob' for argument scores\. Valid values are "
            r"\{'logits', 'probabilities'\}",
        ),
        ({"bins": 1}, r"Expected `bins` to be an int >= 2 \(e\.g\. 1000\) or None"),
        ({"ignore_index": 2}, r"`ignore_index`=2 is also a class index \(0\.\.3\)"),
    ],
)
def test_bad_settings_are_refused_when_the_evaluator_is_created(kwargs, message):
    """Are an unknown score kind, too few bins and a clashing ignore_index refused up front?"""
    with pytest.raises(ValueError, match=message):
        SegmentationEvaluator(num_classes=4, **kwargs)
