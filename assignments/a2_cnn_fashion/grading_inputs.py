"""The hidden tests' inputs for a2: ``make_inputs(rng)`` gives every array a test cell reads with
``grading_input(name)``. Shapes and dtypes are the ones the notebook's docstrings promise, so a
student's function sees nothing it was not told about."""

from __future__ import annotations

import numpy as np


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
    class_labels = rng.integers(0, 7, 300)  # class 7 of 8 never occurs: its accuracy is NaN
    class_predicted = np.where(rng.random(300) < 0.6, class_labels, rng.integers(0, 8, 300))
    return {
        "conv_params": conv_params,
        "step_images": rng.standard_normal((8, 1, 28, 28)).astype(np.float32),
        "step_labels": rng.integers(0, 10, 8).astype(np.int64),
        "class_predicted": class_predicted.astype(np.int64),
        "class_labels": class_labels.astype(np.int64),
        "improved_images": rng.standard_normal((6, 1, 28, 28)).astype(np.float32),
        "five_images": rng.standard_normal((3, 1, 28, 28)).astype(np.float32),
        "init_shape": np.array(
            [rng.integers(16, 33), rng.integers(48, 65), 3, rng.integers(100, 201)], np.int64
        ),
        "feature_images": rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
        "labels10": rng.integers(0, 10, 60).astype(np.int64),
        "scramble_images": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "scramble_order7": rng.permutation(16).astype(np.int64),
        "scramble_order14": rng.permutation(4).astype(np.int64),
    }
