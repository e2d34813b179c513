"""Prediction files for the autograder's performance tests.

The notebook writes its predictions for the hidden test images into ``OUTPUT_DIR``; the grader
reads them as plain text (CSV, never pickle), checks them and scores them against labels the
notebook cannot read. Two CSV layouts:

- single-label classification: header ``id,label``, one row per image, ``label`` an int class
  index;
- multi-label classification: header ``id,<class 1>,...,<class K>``, one real score per class
  (probabilities or logits: average precision only looks at the order).

Rows may come in any order, but every hidden id must appear exactly once.

Semantic segmentation has a folder instead (:func:`save_segmentation_scores`): one ``<id>.npy``
per hidden image, uint8 (C, H, W), each class's probability at each pixel as
``round(255 * p)``, written with ``np.save`` (no pickle). 8 bits keep a 500-image set of
128 x 128 images with 4 classes at 33 MB, and the grader's AP over 256 levels is exact.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["save_predictions", "save_segmentation_scores"]


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


def save_segmentation_scores(folder: str | Path, ids: Sequence[str], probabilities) -> Path:
    """Write per-class segmentation scores for the grader: ``folder/<id>.npy`` for each image.

    Args:
        folder: the folder to write, e.g. ``Path(OUTPUT_DIR) / "segmentation_scores"``.
        ids: (N,) the hidden images' ids, in the order of ``probabilities``.
        probabilities: N arrays or tensors float (C, H, W) in [0, 1] (softmax over the classes,
            background first), each at its image's own height and width; or one float
            (N, C, H, W) array or tensor when all images have the same size.

    Returns:
        The folder written. Each file holds uint8 (C, H, W): ``round(255 * p)``.

    >>> import tempfile
    >>> p = np.array([[[0.0, 0.5]], [[1.0, 0.5]]])             # (C=2, H=1, W=2)
    >>> out = save_segmentation_scores(tempfile.mkdtemp() + "/s", ["h0"], [p])
    >>> np.load(out / "h0.npy").tolist()
    [[[0, 128]], [[255, 128]]]
    """
    ids = [str(i) for i in ids]
    if len(ids) != len(probabilities):
        raise ValueError(
            f"Got {len(ids)} ids but {len(probabilities)} score maps: there must be one per "
            "hidden image, in the order of the ids."
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for image_id, p in zip(ids, probabilities, strict=True):
        p = _as_numpy(p)
        if p.ndim != 3 or p.dtype.kind != "f":
            raise ValueError(
                f"The scores of {image_id} must be float probabilities (C, H, W), got "
                f"{p.dtype} {p.shape}. Hint: softmax(logits, dim=1)[k], not argmax."
            )
        if not (np.isfinite(p).all() and p.min() >= 0 and p.max() <= 1):
            raise ValueError(
                f"The scores of {image_id} must be probabilities in [0, 1]; apply softmax over "
                "the class axis to the model's logits first."
            )
        # rint, not a cast: a cast truncates, so 0.999 would become 254.
        np.save(folder / f"{image_id}.npy", np.rint(p * 255).astype(np.uint8), allow_pickle=False)
    return folder
