"""The hidden tests' inputs for a2: ``make_inputs(rng)`` gives every array a test cell reads with
``grading_input(name)``. Shapes and dtypes are the ones the notebook's docstrings promise, so a
student's function sees nothing it was not told about.

Sizes, counts and options are drawn from wide ranges: ``build`` draws several input sets and
refuses a record that is the same in all of them, so a shape or a parameter count recorded from
these inputs must differ between draws, and must be computed by the student's code rather than
read off the inputs' sizes (``autograder.evidence``)."""

from __future__ import annotations

import numpy as np


def _moving_order(rng: np.random.Generator, tiles: int) -> np.ndarray:
    """A tile order that is not the identity: scrambling by the identity copies the input, which
    build refuses as no evidence (for 4 tiles 1 draw in 24 was the identity)."""
    order = rng.permutation(tiles)
    while np.array_equal(order, np.arange(tiles)):
        order = rng.permutation(tiles)
    return order.astype(np.int64)


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every hidden test's input, drawn from ``rng`` (the grader seeds it)."""
    sizes = rng.integers(12, 64, 12)
    kernels = rng.integers(1, 6, 12)
    conv_params = np.stack(
        [
            sizes,
            kernels,
            rng.integers(1, 4, 12),  # stride
            rng.integers(0, 3, 12),  # padding
            rng.integers(1, 3, 12),  # dilation; sizes >= 12 keep every output >= 1
        ],
        axis=1,
    ).astype(np.int64)
    # One drawn class of 8 never occurs (its accuracy is NaN); the others are drawn at random.
    present = np.delete(np.arange(8), rng.integers(0, 8))
    class_labels = rng.choice(present, 300)
    class_predicted = np.where(rng.random(300) < 0.6, class_labels, rng.integers(0, 8, 300))
    return {
        "conv_params": conv_params,
        "step_images": rng.standard_normal((8, 1, 28, 28)).astype(np.float32),
        "step_labels": rng.integers(0, 10, 8).astype(np.int64),
        "class_predicted": class_predicted.astype(np.int64),
        "class_labels": class_labels.astype(np.int64),
        "five_images": rng.standard_normal((rng.integers(1, 7), 1, 28, 28)).astype(np.float32),
        "five_config": np.array(
            [rng.integers(2, 17), rng.integers(2, 9)], np.int64
        ),  # classes, width
        # At least 16 * 48 * 9 conv weights and 48 * 100 linear ones, so that a sample std is
        # within 1 % of the scheme's (the test allows 6 %); sizes vary so xavier's and he's stds do.
        "init_shape": np.array(
            [
                rng.integers(16, 65),
                rng.integers(48, 129),
                rng.choice([3, 5]),
                rng.integers(100, 301),
            ],
            np.int64,
        ),
        "feature_images": rng.integers(0, 256, (rng.integers(4, 12), 28, 28), dtype=np.uint8),
        "labels10": rng.integers(0, 10, 60).astype(np.int64),
        "scramble_images": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "scramble_order7": _moving_order(rng, 16),
        "scramble_order14": _moving_order(rng, 4),
    }
