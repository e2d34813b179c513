"""Scoring segmentation score maps against the hidden masks, in the grader's own process.

The notebook writes, into ``OUTPUT_DIR``, a folder (``[[performance]] predictions``, e.g.
``segmentation_scores``) holding one ``.npy`` file per hidden image, named by the id the notebook
saw (``h00017.npy``): uint8 (C, H, W), the score of each class (background first) at each pixel
of that image, quantised to 256 levels as ``round(255 * probability)``
(:func:`helpers.predictions.save_segmentation_scores` writes it). Nothing else is read.

Every file is hostile input. The folder is opened without following a link; each file is
opened relative to it (no link, one hard link, a regular file) and refused unread when it is
larger than a uint8 file of its image's shape could be in any dtype up to 8 bytes (so a float
file still gets a message about its dtype, not its size); its header is read with NumPy's
bounded header reader and checked (no Python objects, uint8, the image's exact shape) before
the data; the data must be exactly what the header promises. Files are read one at a time, so
memory is one image's scores plus the constant counts of
:class:`helpers.metrics.segmentation_numpy.QuantisedSegmentationCounts`.

The masks are the grader's own PNG files (``labels/masks/<id>.png``), read with PIL alone:
``helpers.data.voc`` would import torchvision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from autograder.safe_fs import Folder, UnsafeFileError

if TYPE_CHECKING:
    from autograder.config import Performance
    from autograder.score import TestOutcome

__all__ = [
    "SEGMENTATION_METRICS",
    "SegmentationResult",
    "evaluate_score_maps",
    "read_score_map",
    "result_table",
    "score_segmentation",
]

#: ``[[performance]] metric`` values scored here.
SEGMENTATION_METRICS = ("mean_iou", "mean_ap_segmentation")
#: Room for an ``.npy`` header: np.save writes 128 bytes for a (C, H, W) array; version 2.0
#: headers and padding stay far below this.
HEADER_BYTES = 4096
#: Widest dtype whose file is still read far enough to say "wrong dtype" rather than "too big".
WIDEST_ITEM = 8
#: Problems listed in one message; the rest are counted.
SHOWN_PROBLEMS = 5
IGNORE_INDEX = 255
_SAVE_HINT = (
    "Write the folder with helpers.predictions.save_segmentation_scores(folder, ids, "
    "probabilities), which saves uint8 (C, H, W) per image."
)


@dataclass(frozen=True)
class SegmentationResult:
    """Per-class AP and IoU over the hidden set (float64 [C] each; NaN: not defined)."""

    class_names: tuple[str, ...]
    ap: np.ndarray
    iou: np.ndarray
    images: int

    @property
    def mean_ap(self) -> float:
        return _nanmean(self.ap)

    @property
    def mean_iou(self) -> float:
        return _nanmean(self.iou)

    def metric(self, name: str) -> float:
        """The value of ``[[performance]] metric`` ``name``."""
        return {"mean_iou": self.mean_iou, "mean_ap_segmentation": self.mean_ap}[name]


def _nanmean(values: np.ndarray) -> float:
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else math.nan


def read_score_map(folder: Folder, name: str, shape: tuple[int, int, int]) -> np.ndarray:
    """The uint8 (C, H, W) array of ``name`` in ``folder``, checked before its data is read.

    Raises:
        ValueError: a sentence saying what is wrong with this file and what to do.
    """
    expected_bytes = math.prod(shape)
    limit = HEADER_BYTES + WIDEST_ITEM * expected_bytes
    try:
        stream = folder.open_binary(name, limit)
    except UnsafeFileError as error:
        message = str(error)
        if "byte limit" in message:
            message += (f" A score file for this image, uint8 {shape}, is "
                        f"{128 + expected_bytes:,} bytes.")  # fmt: skip
        raise ValueError(message) from None
    with stream:
        try:
            version = np.lib.format.read_magic(stream)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}[version]  # fmt: skip
            found, fortran, dtype = read_header(stream, max_header_size=HEADER_BYTES)
        except (ValueError, KeyError, EOFError) as error:
            raise ValueError(
                f"{name} is not an .npy file np.save wrote ({error or 'unknown version'})."
            ) from None
        if dtype.hasobject:
            raise ValueError(f"{name} holds Python objects (dtype {dtype}); it is not loaded.")
        if dtype != np.uint8:
            raise ValueError(
                f"{name} holds {dtype} values; the grader reads uint8 score levels, "
                "round(255 * probability)."
            )
        if tuple(found) != tuple(shape):
            raise ValueError(
                f"{name} has shape {tuple(found)}, expected {tuple(shape)}: one score map per "
                "class (background first) at the hidden image's own height and width."
            )
        data = stream.read(expected_bytes + 1)
    if len(data) != expected_bytes:
        raise ValueError(
            f"{name}'s header promises {expected_bytes:,} bytes of scores but the file holds "
            f"{len(data):,}{' or more' if len(data) > expected_bytes else ''}: it was cut short "
            "or changed after np.save. Run the prediction cell again."
        )
    return np.frombuffer(data, np.uint8).reshape(shape, order="F" if fortran else "C")


def read_mask_png(path: Path) -> np.ndarray:
    """A hidden mask (the grader's own file): uint8 (H, W), 0 background, k + 1 for class k,
    255 ignored. PIL only, so scoring never imports torch.

    Raises:
        ValueError: the file is missing or not a class-index PNG (the bundle is broken).
    """
    from PIL import Image, UnidentifiedImageError

    why = None
    try:
        with Image.open(path) as png:
            png.load()
            if png.mode in ("P", "L"):
                return np.array(png, dtype=np.uint8)
            why = f"a {png.mode} image, not class indices"
    except FileNotFoundError:
        why = "missing"
    except (OSError, UnidentifiedImageError, SyntaxError) as error:
        why = f"not a readable PNG ({error})"
    # The grader's own data: a ValueError keeps it to this item (and says whose fix it is).
    raise ValueError(
        f"The grader's hidden mask {path.name} is {why}. This is not your submission's fault: "
        "tell your instructor, who should build the assignment again."
    )


def evaluate_score_maps(
    output_dir: Folder,
    folder_name: str,
    labels_dir: Path,
    ids: list[str],
    mask_ids: Mapping[str, str] | None = None,
) -> SegmentationResult:
    """Per-class AP and IoU of the score maps in ``output_dir/folder_name``.

    Args:
        output_dir: the kernel's OUTPUT_DIR, verified.
        folder_name: the score maps' folder (one path component).
        labels_dir: the hidden set's labels folder (``labels.csv`` for the class names,
            ``masks/<id>.png``); the grader's own.
        ids: the ids the notebook saw, in its ``ids.csv`` order.
        mask_ids: ``{id the notebook saw: id of its mask}``; ``None``: the same ids.

    Raises:
        ValueError: the folder or files cannot be scored; the message says which and why (up
            to ``SHOWN_PROBLEMS`` files, the rest counted).
    """
    from helpers.metrics.segmentation_numpy import QuantisedSegmentationCounts

    with (labels_dir / "labels.csv").open(newline="") as f:
        class_names = ("background", *f.readline().strip().split(",")[1:])
    counts = QuantisedSegmentationCounts(len(class_names), ignore_index=IGNORE_INDEX)
    try:
        folder = output_dir.folder(folder_name)
    except UnsafeFileError as error:
        raise ValueError(f"{error} Write {folder_name} as a folder in OUTPUT_DIR. "
                         f"{_SAVE_HINT}") from None  # fmt: skip
    problems: list[str] = []
    missing: list[str] = []
    with folder:
        for image_id in ids:
            mask_id = (mask_ids or {}).get(image_id, image_id)
            mask = read_mask_png(labels_dir / "masks" / f"{mask_id}.png")
            name = f"{image_id}.npy"
            if not folder.exists(name):
                missing.append(name)
                continue
            try:
                scores = read_score_map(folder, name, (len(class_names), *mask.shape))
            except ValueError as error:
                problems.append(str(error))
                continue
            if not problems and not missing:  # once one file is broken, only check the rest
                counts.update(scores, mask)
    if missing:
        problems.insert(0, (
            f"{folder_name}/ has no file for {len(missing):,} of the {len(ids):,} hidden images "
            f"(e.g. {', '.join(missing[:3])}): one file per id of ids.csv, named <id>.npy."
        ))  # fmt: skip
    if problems:
        shown = problems[:SHOWN_PROBLEMS]
        more = len(problems) - len(shown)
        tail = f"\n... and {more:,} more files with problems." if more else ""
        raise ValueError("\n".join(shown) + tail + f"\n{_SAVE_HINT}")
    ap, iou = counts.compute()
    return SegmentationResult(tuple(class_names), ap, iou, counts.images)


def result_table(result: SegmentationResult) -> str:
    """Per-class AP and IoU as a fixed-width text table ('-': not defined for that class).

    >>> print(result_table(SegmentationResult(("background", "cat"), np.array([0.9, np.nan]),
    ...                                       np.array([0.8, 0.0]), 3)))
    class            AP     IoU
    background   0.9000  0.8000
    cat               -  0.0000
    mean         0.9000  0.4000
    """
    width = max(len("class"), *(len(n) for n in result.class_names))

    def cell(value: float) -> str:
        return f"{value:7.4f}" if value == value else f"{'-':>7}"

    rows = [f"{'class':<{width}}  {'AP':>7} {'IoU':>7}"]
    for n, a, i in zip(result.class_names, result.ap, result.iou, strict=True):
        rows.append(f"{n:<{width}}  {cell(a)} {cell(i)}")
    rows.append(f"{'mean':<{width}}  {cell(result.mean_ap)} {cell(result.mean_iou)}")
    return "\n".join(rows)


def score_segmentation(
    band: Performance,
    output_dir: Folder | Path,
    labels_dir: Path,
    ids: list[str],
    hidden_ids: Mapping[str, str] | None,
    visibility: str,
) -> tuple[TestOutcome, float | None]:
    """:func:`autograder.score.score_performance` for a folder of score maps: (the result line,
    the metric value or ``None``); the output ends with the per-class AP and IoU table."""
    from autograder.score import TestOutcome, _as_folder

    def failed(message: str) -> tuple[TestOutcome, None]:
        return TestOutcome(band.name, 0.0, band.max_score, False, message, visibility,
                           "performance"), None  # fmt: skip

    try:
        folder, opened = _as_folder(output_dir)
    except UnsafeFileError as error:
        return failed(f"OUTPUT_DIR could not be read: {error} Write the score maps into it as a "
                      "folder; do not replace it.")  # fmt: skip
    try:
        if not folder.exists(band.predictions):
            return failed(
                f"{band.predictions}/ was not written. The notebook's prediction cell writes it "
                "into OUTPUT_DIR while grading; check that the cells before it ran without errors."
            )
        result = evaluate_score_maps(folder, band.predictions, labels_dir, ids, hidden_ids)
    except ValueError as error:
        return failed(str(error))
    finally:
        if opened:
            folder.close()
    value = result.metric(band.metric)
    points = band.points(value)
    output = (
        f"{band.metric} = {value:.4f} on {result.images} hidden images: {points:g} of "
        f"{band.max_score:g} points (0 at {band.zero_at:g}, full at {band.full_at:g}).\n\n"
        f"{result_table(result)}"
    )
    return TestOutcome(band.name, points, band.max_score, points >= band.max_score, output,
                       visibility, "performance"), value  # fmt: skip
