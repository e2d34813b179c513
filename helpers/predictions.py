"""Prediction files for the autograder's performance tests.

The notebook writes its predictions for the hidden test images into ``OUTPUT_DIR``; the grader
reads them as plain text (CSV, never pickle), checks them and scores them against labels the
notebook cannot read. Two layouts:

- single-label classification: header ``id,label``, one row per image, ``label`` an int class
  index;
- multi-label classification: header ``id,<class 1>,...,<class K>``, one real score per class
  (probabilities or logits: average precision only looks at the order).

Rows may come in any order, but every hidden id must appear exactly once.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["save_predictions"]


def _as_numpy(values) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def save_predictions(
    path: str | Path,
    ids: Sequence[str],
    predictions,
    *,
    class_names: Sequence[str] | None = None,
) -> Path:
    """Write predictions for the grader.

    Args:
        path: the file to write, e.g. ``Path(OUTPUT_DIR) / "improved_predictions.csv"``.
        ids: (N,) the hidden images' ids, in the order of ``predictions``.
        predictions: int (N,) class indices, or float (N, K) multi-label scores; NumPy or torch.
        class_names: for (N, K) scores, the K column names (default ``class_0`` ...).

    Returns:
        The path written.

    >>> import tempfile
    >>> p = save_predictions(tempfile.mkdtemp() + "/p.csv", ["a", "b"], np.array([3, 1]))
    >>> p.read_text().splitlines()
    ['id,label', 'a,3', 'b,1']
    """
    predictions = _as_numpy(predictions)
    ids = [str(i) for i in ids]
    if len(ids) != len(predictions):
        raise ValueError(
            f"Got {len(ids)} ids but {len(predictions)} predictions: there must be one "
            "prediction per hidden image, in the order of the ids."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if predictions.ndim == 1:
            if predictions.dtype.kind not in "iu":
                raise TypeError(
                    f"Single-label predictions must be integer class indices (N,), got dtype "
                    f"{predictions.dtype}. Hint: take scores.argmax(1), not the scores."
                )
            writer.writerow(["id", "label"])
            writer.writerows(zip(ids, predictions.tolist(), strict=True))
        elif predictions.ndim == 2:
            k = predictions.shape[1]
            names = (
                list(class_names) if class_names is not None else [f"class_{j}" for j in range(k)]
            )
            if len(names) != k:
                raise ValueError(f"{k} score columns but {len(names)} class_names.")
            writer.writerow(["id", *names])
            for i, row in zip(ids, predictions.astype(np.float64).tolist(), strict=True):
                writer.writerow([i, *(repr(v) for v in row)])
        else:
            raise ValueError(
                f"predictions must be (N,) class indices or (N, K) scores, got shape "
                f"{predictions.shape}."
            )
    return path
