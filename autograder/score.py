"""Scoring, in the grader's own process: test records against expected results, and prediction
files against hidden labels.

Nothing the student produced is imported or unpickled here: records are ``.npy`` files loaded
with ``allow_pickle=False``, predictions are CSV text (or ``.npy`` without pickle), and every
file is size-checked before it is read. Messages never show an expected value or a hidden label.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.config import Performance

__all__ = [
    "Expected",
    "TestOutcome",
    "compare_record",
    "load_expected",
    "read_predictions",
    "score_performance",
    "score_test_cell",
]

MAX_RECORD_BYTES = 64 * 1024 * 1024
MAX_PREDICTION_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Expected:
    """One expected record of a test cell, as the source solution made it at build time."""

    name: str
    rtol: float
    atol: float


@dataclass
class TestOutcome:
    """One line of results.json before formatting."""

    name: str
    score: float
    max_score: float
    passed: bool
    output: str
    visibility: str = "visible"
    kind: str = "test"  # "test" | "performance" | "notice"


def load_expected(bundle: Path) -> dict[str, list[Expected]]:
    """The expected records of every test cell: ``{grade_id: [Expected, ...]}``."""
    data = json.loads((bundle / "expected.json").read_text())
    return {gid: [Expected(**e) for e in entry["records"]] for gid, entry in data["tests"].items()}


def _load_npy(path: Path, limit: int) -> np.ndarray:
    if path.stat().st_size > limit:
        raise ValueError(f"it is {path.stat().st_size:,} bytes, over the {limit:,} byte limit")
    return np.load(path, allow_pickle=False)


def compare_record(name: str, actual_dir: Path, expected_dir: Path, rule: Expected) -> str | None:
    """``None`` when the record matches, else a sentence saying how it differs (no values).

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> np.save(d / "a.npy", np.array([1.0, 2.0]))
    >>> compare_record("a", d, d, Expected("a", 1e-6, 0.0)) is None
    True
    """
    path = actual_dir / f"{name}.npy"
    if not path.is_file():
        return f"record '{name}' was not made (the test stopped before it, or never reached it)"
    try:
        actual = _load_npy(path, MAX_RECORD_BYTES)
    except Exception as error:
        return f"record '{name}' could not be read ({error})"
    expected = np.load(expected_dir / f"{name}.npy", allow_pickle=False)
    if actual.shape != expected.shape:
        return (
            f"record '{name}' has shape {actual.shape}, expected {expected.shape}. "
            "Check the shapes your code returns against the docstring."
        )
    numeric = "biuf"
    if expected.dtype.kind in numeric and actual.dtype.kind in numeric:
        close = np.isclose(
            actual.astype(np.float64), expected.astype(np.float64),
            rtol=rule.rtol, atol=rule.atol, equal_nan=True,
        )  # fmt: skip
        if close.all():
            return None
        return (
            f"record '{name}': {int((~close).sum())} of {close.size} values differ from the "
            f"expected result (tolerance rtol={rule.rtol:g}, atol={rule.atol:g})"
        )
    if expected.dtype.kind == actual.dtype.kind == "c":
        if np.allclose(actual, expected, rtol=rule.rtol, atol=rule.atol, equal_nan=True):
            return None
        return f"record '{name}' differs from the expected result"
    if expected.dtype.kind in "US" and actual.dtype.kind in "US":
        if np.array_equal(actual.astype(str), expected.astype(str)):
            return None
        return f"record '{name}' differs from the expected text"
    return (
        f"record '{name}' holds {actual.dtype.kind!r}-kind values (dtype {actual.dtype}) where "
        f"{expected.dtype} was expected"
    )


def score_test_cell(
    gid: str,
    points: float,
    *,
    error: str | None,
    not_run: str | None,
    expected: list[Expected],
    actual_dir: Path,
    expected_dir: Path,
    visibility: str,
) -> TestOutcome:
    """A test cell earns its points when it ran, raised nothing, and every record matches."""
    problems: list[str] = []
    if not_run:
        problems.append(not_run)
    elif error:
        problems.append(error)
    else:
        for rule in expected:
            problem = compare_record(rule.name, actual_dir, expected_dir, rule)
            if problem:
                problems.append(problem)
    passed = not problems
    output = "Passed." if passed else "\n".join(problems)
    return TestOutcome(gid, points if passed else 0.0, points, passed, output, visibility)


def read_predictions(path: Path, ids: list[str], num_classes: int, multilabel: bool) -> np.ndarray:
    """Read and check a prediction file; rows come back in the order of ``ids``.

    Returns:
        int64 (N,) class indices, or float64 (N, K) scores when ``multilabel``.

    Raises:
        ValueError: with a sentence a student can act on (which rows, which ids, what type).
    """
    size = path.stat().st_size
    if size > MAX_PREDICTION_BYTES:
        raise ValueError(f"{path.name} is {size:,} bytes, over the {MAX_PREDICTION_BYTES:,} limit.")
    if path.suffix == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise ValueError(
                f"{path.name} could not be loaded without pickle ({error}). Save a numeric "
                "array with np.save, not a Python object."
            ) from error
        rows = list(zip(ids, values, strict=False)) if len(values) == len(ids) else None
        if rows is None:
            raise ValueError(f"{path.name} has {len(values)} rows, expected {len(ids)}.")
        table = {i: v for i, v in rows}
    else:
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(
                f"{path.name} is not a text CSV file (it may be a pickle or binary file). "
                "Write it with helpers.predictions.save_predictions."
            ) from error
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        width = 1 + (num_classes if multilabel else 1)
        if not header or header[0] != "id" or len(header) != width:
            want = "id,<one column per class>" if multilabel else "id,label"
            raise ValueError(f"{path.name} must start with the header '{want}', got {header}.")
        table = {}
        duplicates = 0
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != width:
                raise ValueError(
                    f"{path.name} line {line} has {len(row)} fields, expected {width}."
                )
            if row[0] in table:
                duplicates += 1
            table[row[0]] = row[1:]
        if duplicates:
            raise ValueError(f"{path.name} lists {duplicates} ids more than once.")
    missing = [i for i in ids if i not in table]
    unknown = len(table) - (len(ids) - len(missing))
    if missing or unknown:
        raise ValueError(
            f"{path.name} must have exactly one row per hidden image: {len(missing)} ids are "
            f"missing (e.g. {missing[:3]}) and {unknown} rows have ids that are not hidden images."
        )
    try:
        values = np.array([np.asarray(table[i], dtype=np.float64) for i in ids])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path.name} holds values that are not numbers ({error}).") from error
    if not np.isfinite(values).all():
        raise ValueError(
            f"{path.name} holds {int((~np.isfinite(values)).sum())} NaN or inf values."
        )
    if multilabel:
        return values.reshape(len(ids), num_classes)
    values = values.reshape(len(ids))
    if not np.all(values == np.round(values)) or values.min() < 0 or values.max() >= num_classes:
        raise ValueError(
            f"{path.name}: every label must be a whole class index from 0 to {num_classes - 1}."
        )
    return values.astype(np.int64)


def score_performance(
    band: Performance, output_dir: Path, labels_dir: Path, visibility: str
) -> tuple[TestOutcome, float | None]:
    """Score one prediction file: (the result line, the metric value for the leaderboard)."""
    from helpers.data.hidden import read_hidden_labels

    ids, labels, class_names = _labels(labels_dir, read_hidden_labels)
    multilabel = labels.ndim == 2
    path = output_dir / band.predictions
    if not path.is_file():
        return TestOutcome(
            band.name, 0.0, band.max_score, False,
            f"{band.predictions} was not written. The notebook's prediction cell writes it into "
            "OUTPUT_DIR while grading; check that the cells before it ran without errors.",
            visibility, "performance",
        ), None  # fmt: skip
    try:
        predictions = read_predictions(path, ids, len(class_names), multilabel)
    except ValueError as error:
        return TestOutcome(band.name, 0.0, band.max_score, False, str(error), visibility,
                           "performance"), None  # fmt: skip
    value = _metric(band.metric, predictions, labels)
    points = band.points(value)
    output = (
        f"{band.metric} = {value:.4f} on {len(ids)} hidden images: {points:g} of "
        f"{band.max_score:g} points (0 at {band.zero_at:g}, full at {band.full_at:g})."
    )
    return TestOutcome(band.name, points, band.max_score, points >= band.max_score, output,
                       visibility, "performance"), value  # fmt: skip


def _labels(labels_dir: Path, reader):
    """(ids, labels, class names): names from the multi-label header, or 0..K-1 for labels."""
    ids, labels = reader(labels_dir)
    labels = np.asarray(labels)
    if labels.ndim == 2:
        with open(labels_dir / "labels.csv", newline="") as f:
            class_names = next(csv.reader(f))[1:]
    else:
        class_names = [str(k) for k in range(int(labels.max()) + 1)]
    return list(ids), labels, class_names


def _metric(name: str, predictions: np.ndarray, labels: np.ndarray) -> float:
    from helpers import metrics

    if name == "accuracy":
        value = float(metrics.accuracy(predictions, labels))
    else:
        value = float(metrics.mean_average_precision(predictions, labels))
    return value if math.isfinite(value) else float("nan")
