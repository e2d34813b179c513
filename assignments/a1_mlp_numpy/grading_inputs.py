"""The inputs of a1's hidden tests: ``make_inputs(rng)`` returns every array a hidden test cell
reads with ``grading_input(name)``.

Float inputs are float64 so that the recorded outputs compare with tight tolerances; values sit
away from ReLU's kink at 0 where a gradient is ambiguous.
"""

from __future__ import annotations

import numpy as np


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0):
    x = rng.normal(scale=scale, size=shape)
    return np.where(np.abs(x) < 0.05, 0.05 * np.sign(x) + 0.05 * (x == 0), x)


def _blobs(rng: np.random.Generator, centres: np.ndarray, n: int):
    y = rng.integers(0, len(centres), size=n)
    X = centres[y] + rng.normal(size=(n, centres.shape[1]))
    return X.astype(np.float32), y.astype(np.int64)


def _loss_curve(rng: np.random.Generator) -> np.ndarray:
    """A validation-loss curve of 10-14 epochs: it falls (some steps below min_delta = 0.01)
    to its lowest point at a drawn epoch, then rises with small dips."""
    n = int(rng.integers(10, 15))
    lowest = int(rng.integers(3, n - 4))
    small = rng.random(lowest) < 0.3
    steps = np.where(small, rng.uniform(0.0, 0.008, lowest), rng.uniform(0.02, 0.1, lowest))
    down = 1.0 - np.cumsum(steps)
    up = down[-1] + np.cumsum(rng.uniform(-0.012, 0.05, n - lowest))
    return np.concatenate([down, up])


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every hidden-test input of a1, drawn from ``rng`` (same seed, same arrays)."""
    inputs: dict[str, np.ndarray] = {}
    # Part 1: flatten and normalise. One constant feature tests the std floor.
    inputs["images_small"] = rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    norm_train = rng.normal(loc=2.0, scale=1.5, size=(40, 16))
    norm_train[:, 5] = 0.25
    norm_train[:, 9] = 0.25 + 0.01 * rng.normal(size=40)  # std 0.01, below eps = 0.1
    inputs["norm_train"] = norm_train
    inputs["norm_x"] = rng.normal(loc=2.0, scale=1.5, size=(6, 16))
    # Part 2: layers.
    inputs["affine_x"] = rng.normal(size=(6, 8))
    inputs["affine_w"] = rng.normal(size=(8, 5))
    inputs["affine_b"] = rng.normal(size=5)
    inputs["affine_dout"] = rng.normal(size=(6, 5))
    inputs["act_x"] = _away_from_zero(rng, (7, 9), scale=2.0)
    inputs["act_dout"] = rng.normal(size=(7, 9))
    inputs["dropout_x"] = rng.uniform(0.5, 2.0, size=(300, 60))
    inputs["dropout_dout"] = rng.normal(size=(300, 60))
    inputs["dropout_seed"] = np.array(int(rng.integers(0, 2**31)))
    inputs["dropout_p"] = np.array(rng.uniform(0.2, 0.6))
    inputs["softmax_scores"] = rng.normal(scale=3.0, size=(8, 10))
    inputs["softmax_y"] = rng.integers(0, 10, size=8).astype(np.int64)
    # Part 3: a 3-layer network 12 -> 7 -> 6 -> 4.
    for layer, (fan_in, fan_out) in enumerate(((12, 7), (7, 6), (6, 4)), 1):
        inputs[f"mlp_W{layer}"] = rng.normal(scale=np.sqrt(2 / fan_in), size=(fan_in, fan_out))
        inputs[f"mlp_b{layer}"] = rng.normal(scale=0.1, size=fan_out)
    inputs["mlp_X"] = _away_from_zero(rng, (5, 12))
    inputs["mlp_dscores"] = rng.normal(size=(5, 4))
    # Part 4: optimiser, early stopping, training.
    inputs["sgd_w"] = rng.normal(size=(4, 5))
    inputs["sgd_dw"] = rng.normal(size=(4, 5))
    inputs["sgd_v"] = rng.normal(scale=0.1, size=(4, 5))
    inputs["es_losses"] = _loss_curve(rng)
    # Blobs that overlap (centres ~0.8 apart per axis), so the loss stays well above 0 and the
    # curves of different draws differ.
    centres = rng.normal(scale=0.8, size=(3, 10))
    inputs["train_X"], inputs["train_y"] = _blobs(rng, centres, 240)
    inputs["val_X"], inputs["val_y"] = _blobs(rng, centres, 120)
    inputs["train_seed"] = np.array(int(rng.integers(0, 2**31)))
    inputs["train_lr_decay"] = np.array(rng.uniform(0.85, 0.95))
    # Part 3 again, drawn last so the draws above stay as they were: mlp_forward in training
    # mode, dropout p and the masks' seed drawn (a network that skips dropout scores differently).
    inputs["mlp_dropout_p"] = np.array(rng.uniform(0.2, 0.6))
    inputs["mlp_dropout_seed"] = np.array(int(rng.integers(0, 2**31)))
    return inputs
