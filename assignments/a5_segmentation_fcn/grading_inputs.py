"""The hidden tests' inputs for a5: ``make_inputs(rng)`` gives every array a test cell reads with
``grading_input(name)``. Shapes and dtypes are the ones the notebook's docstrings promise.

Sizes, class counts and which classes are absent are drawn, so every record differs between the
draws ``build`` makes (``autograder.evidence``): an output shape is recorded for odd input sizes
drawn here, a confusion matrix for masks with a class absent from both prediction and truth, a
class only in the truth, and ignored (255) pixels.
"""

from __future__ import annotations

import numpy as np

IGNORE = 255


def _odd(rng: np.random.Generator, low: int, high: int) -> int:
    return int(rng.integers(low // 2, high // 2)) * 2 + 1


def _masks_with_gaps(rng: np.random.Generator, classes: int, shape: tuple[int, ...]):
    """(predicted, target) int64 masks: one class absent from both, one only in the target,
    about 15 % of the target ignored; the rest agree on about 60 % of the pixels."""
    absent, target_only = rng.choice(classes, 2, replace=False)
    allowed = np.setdiff1d(np.arange(classes), [absent])
    guesses = np.setdiff1d(allowed, [target_only])  # never predicted
    target = rng.choice(allowed, shape)
    predicted = np.where(rng.random(shape) < 0.6, target, rng.choice(guesses, shape))
    predicted = np.where(predicted == target_only, rng.choice(guesses, shape), predicted)
    target = np.where(rng.random(shape) < 0.15, IGNORE, target)
    return predicted.astype(np.int64), target.astype(np.int64)


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every hidden test's input, drawn from ``rng`` (the grader seeds it)."""
    up_n, up_c = int(rng.integers(1, 4)), int(rng.integers(2, 7))
    up_h, up_w = int(rng.integers(3, 10)), int(rng.integers(3, 10))
    loss_n, loss_c = int(rng.integers(2, 5)), int(rng.integers(3, 7))
    loss_h, loss_w = int(rng.integers(5, 17)), int(rng.integers(5, 17))
    loss_logits = 2 * rng.standard_normal((loss_n, loss_c, loss_h, loss_w))
    loss_masks = rng.integers(0, loss_c, (loss_n, loss_h, loss_w))
    loss_masks[rng.random(loss_masks.shape) < 0.2] = IGNORE
    cm_classes = int(rng.integers(4, 8))
    cm_predicted, cm_target = _masks_with_gaps(rng, cm_classes, (3, 17, 23))
    weight_classes = int(rng.integers(3, 7))
    weight_masks = rng.choice(weight_classes, (4, 21, 19), p=rng.dirichlet(np.ones(weight_classes)))
    weight_masks[rng.random(weight_masks.shape) < 0.1] = IGNORE
    step_masks = rng.integers(0, 3, (4, 24, 24))
    step_masks[rng.random(step_masks.shape) < 0.1] = IGNORE
    return {
        "upsample_scores": rng.standard_normal((up_n, up_c, up_h, up_w)).astype(np.float32),
        "upsample_size": np.array([_odd(rng, 17, 61), _odd(rng, 17, 61)], np.int64),
        # Two odd sizes >= 33, one per network variant run in the test, and a class count.
        "odd_sizes": np.array([[_odd(rng, 33, 99), _odd(rng, 33, 99)] for _ in range(2)], np.int64),
        "net_classes": np.array(rng.integers(2, 8), np.int64),
        "loss_logits": loss_logits.astype(np.float32),
        "loss_masks": loss_masks.astype(np.int64),
        "loss_weights": rng.uniform(0.2, 3.0, loss_c).astype(np.float32),
        "cm_predicted": cm_predicted,
        "cm_target": cm_target,
        "cm_classes": np.array(cm_classes, np.int64),
        "weight_masks": weight_masks.astype(np.uint8),
        "weight_classes": np.array(weight_classes, np.int64),
        "step_images": rng.standard_normal((4, 3, 24, 24)).astype(np.float32),
        "step_masks": step_masks.astype(np.int64),
        "step_seed": np.array(rng.integers(0, 2**31), np.int64),
    }
