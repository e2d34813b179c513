"""The hidden tests' inputs for a3: ``make_inputs(rng)`` gives every array a test cell reads with
``grading_input(name)``. Shapes and dtypes are the ones the notebook's docstrings promise, so a
student's function sees nothing it was not told about.

What each input is built to catch:

- ``ap_scores`` are multiples of 0.1, so many scores tie (a tie is one threshold, not an order);
  ``ap_targets`` hold -1 entries (ignored, neither positive nor negative);
- ``map_targets`` has one drawn class without any positive (its AP is undefined and left out of
  the mean, not counted as 0);
- ``loss_targets`` and ``step_targets`` hold -1 entries (left out of the loss and its mean);
- ``annotation_objects`` has images whose only object of a class is difficult, and images with
  no object at all.

Sizes and counts are drawn too: ``build`` draws several input sets and refuses a record that is
the same in all of them (``autograder.evidence``).
"""

from __future__ import annotations

import numpy as np


def _targets(rng: np.random.Generator, shape: tuple[int, int], ignored: float) -> np.ndarray:
    """int64 multi-hot targets: 1 with probability 0.3, else 0; a share ``ignored`` set to -1.
    Every column keeps at least one positive and one negative."""
    targets = (rng.random(shape) < 0.3).astype(np.int64)
    targets[rng.random(shape) < ignored] = -1
    rows = rng.permutation(shape[0])
    targets[rows[0], :], targets[rows[1], :] = 1, 0
    return targets


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every hidden test's input, drawn from ``rng`` (the grader seeds it)."""
    # Annotations: M images of up to 5 objects each, (class index or -1 = no object, difficult).
    num_classes = int(rng.integers(5, 13))
    m = int(rng.integers(6, 12))
    objects = np.stack(
        [rng.integers(0, num_classes, (m, 5)), (rng.random((m, 5)) < 0.3).astype(np.int64)], axis=2
    )
    objects[rng.random((m, 5)) < 0.4, 0] = -1
    objects[0, :, 0] = -1  # an image without objects
    objects[1, :, :] = [[2, 1], [-1, 0], [3, 0], [-1, 0], [2, 1]]  # class 2 difficult only
    n_ap = int(rng.integers(40, 90))
    n_map, c_map = int(rng.integers(30, 60)), int(rng.integers(4, 9))
    map_targets = _targets(rng, (n_map, c_map), 0.1)
    map_targets[:, rng.integers(0, c_map)] = rng.choice([0, -1], n_map, p=[0.8, 0.2])
    c_step, n_loss = int(rng.integers(3, 9)), int(rng.integers(5, 20))
    return {
        "annotation_objects": objects.astype(np.int64),  # (M, 5, 2)
        "annotation_num_classes": np.array(num_classes, np.int64),
        "ap_scores": np.round(rng.random((n_ap, 4)), 1),  # float64 (N, 4), many ties
        "ap_targets": _targets(rng, (n_ap, 4), 0.15),
        "map_scores": rng.standard_normal((n_map, c_map)) + 1.5 * map_targets.clip(0),
        "map_targets": map_targets,
        "loss_logits": (3 * rng.standard_normal((n_loss, c_step))).astype(np.float32),
        "loss_targets": _targets(rng, (n_loss, c_step), 0.2),
        "step_images": rng.standard_normal((8, 3, 32, 32)).astype(np.float32),
        "step_targets": _targets(rng, (8, c_step), 0.2),
        "freeze_classes": rng.integers(2, 41, 2).astype(np.int64),
        "prediction_images": rng.integers(0, 256, (int(rng.integers(5, 12)), 48, 40, 3), np.uint8),
        "prediction_order": rng.permutation(1000)[:12].astype(np.int64),
        "prediction_classes": np.array(rng.integers(3, 9), np.int64),
    }
