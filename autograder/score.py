"""Scoring, in the grader's own process: test records against expected results, and prediction
files against hidden labels.

Nothing the student produced is imported or unpickled here: records are ``.npy`` files loaded
with ``allow_pickle=False``, predictions are CSV text (or ``.npy`` without pickle). Every file is
opened through a verified folder handle (:mod:`autograder.safe_fs`: no link is followed, regular
files with one hard link only) and size-checked before it is read; an ``.npy`` header's shape and
dtype are checked before its data is; a CSV is read as a stream with caps on its lines derived
from the hidden set. Messages never show an expected value, a hidden label or a file's content.

Why over ~400 lines: the two readers of untrusted files (records, prediction files) share the
verified-handle and size-checking steps and the one place messages are worded; segmentation
score maps are read and scored in :mod:`autograder.score_masks`, and cutting records from
predictions is the next split when either grows.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from autograder.config import Performance
from autograder.manifest import Expected, read_manifest
from autograder.safe_fs import Folder, UnsafeFileError
from autograder.score_masks import SEGMENTATION_METRICS, score_segmentation

__all__ = [
    "Expected",
    "TestOutcome",
    "compare_record",
    "load_expected",
    "load_npy_bytes",
    "read_predictions",
    "record_points_problem",
    "score_performance",
    "score_test_cell",
]

MAX_RECORD_BYTES = 64 * 1024 * 1024
#: An upper bound on any prediction file; the real bound is derived from the hidden set's size.
MAX_PREDICTION_BYTES = 256 * 1024 * 1024
#: Lines a prediction CSV may have beyond its header and one row per hidden image (blank lines).
SPARE_LINES = 16
#: Characters allowed per value in a prediction CSV ('-1.2345678901234567e-308' is 24).
CHARS_PER_VALUE = 32


@dataclass
class TestOutcome:
    """One line of results.json before formatting."""

    name: str
    score: float
    max_score: float
    passed: bool
    output: str
    visibility: str = "visible"
    kind: str = "test"  # "test" | "performance" | "notice" | "manual" (graded by hand)
    pending_points: float = 0.0  # "manual": the points a grader gives later (not in max_score)


def load_expected(bundle: Path) -> dict[str, list[Expected]]:
    """The expected records of every test cell: ``{grade_id: [Expected, ...]}``."""
    return {gid: list(test.records) for gid, test in read_manifest(bundle).tests.items()}


def load_npy_bytes(
    data: bytes, name: str, *, shape: tuple[int, ...] | None = None, rows: int | None = None
) -> np.ndarray:
    """An array from the bytes of an ``.npy`` file, without pickle; the header is checked first.

    Args:
        data: the file's bytes (already bounded by the caller).
        name: the file's name, for messages.
        shape: the exact shape wanted, or ``rows``: the length of the first axis wanted.

    Raises:
        ValueError: not an ``.npy`` file, Python objects inside, a shape other than wanted, or a
            header that promises more (or fewer) bytes than the file holds.
    """
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            found_shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            found_shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"format version {version} is not read here (np.save writes 1.0)")
    except ValueError as error:
        raise ValueError(f"{name} is not an .npy file np.save wrote ({error})") from None
    if dtype.hasobject:
        raise ValueError(
            f"{name} could not be loaded without pickle: it holds Python objects (dtype {dtype})"
        )
    if shape is not None and tuple(found_shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(found_shape)}, expected {tuple(shape)}")
    if rows is not None and (len(found_shape) == 0 or found_shape[0] != rows):
        raise ValueError(f"{name} has shape {tuple(found_shape)}, expected {rows} rows")
    promised = math.prod(found_shape) * dtype.itemsize  # Python ints: no overflow
    if promised != len(data) - f.tell():
        raise ValueError(
            f"{name}'s header promises {promised:,} bytes of data but the file holds "
            f"{len(data) - f.tell():,}; it was cut short or changed after np.save"
        )
    return np.load(io.BytesIO(data), allow_pickle=False)


def _as_folder(folder: Folder | Path) -> tuple[Folder, bool]:
    """A handle for ``folder`` and whether this call opened it (and must close it)."""
    if isinstance(folder, Folder):
        return folder, False
    return Folder.open(folder), True


def compare_record(
    name: str, actual_dir: Folder | Path, expected_dir: Path, rule: Expected
) -> str | None:
    """``None`` when the record matches, else a sentence saying how it differs (no values).

    ``actual_dir`` is the records folder the kernel wrote: pass a verified :class:`Folder`
    (a path is opened without following a link in its last component).

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> np.save(d / "a.npy", np.array([1.0, 2.0]))
    >>> compare_record("a", d, d, Expected("a", 1e-6, 0.0)) is None
    True
    """
    expected = np.load(expected_dir / f"{name}.npy", allow_pickle=False)  # the bundle's own
    try:
        folder, opened = _as_folder(actual_dir)
    except UnsafeFileError as error:
        return f"record '{name}' could not be read: the records folder {error}"
    try:
        if not folder.exists(f"{name}.npy"):
            return f"record '{name}' was not made (the test stopped before it, or never reached it)"
        data = folder.read_bytes(f"{name}.npy", MAX_RECORD_BYTES)
        header_shape = _npy_shape(data)
        if header_shape is not None and header_shape != expected.shape:
            return (
                f"record '{name}' has shape {header_shape}, expected {expected.shape}. "
                "Check the shapes your code returns against the docstring."
            )
        actual = load_npy_bytes(data, f"{name}.npy")
    except (ValueError, OSError) as error:
        return f"record '{name}' could not be read ({error})"
    finally:
        if opened:
            folder.close()
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


def _npy_shape(data: bytes) -> tuple[int, ...] | None:
    """The shape an ``.npy`` header declares, or ``None`` when there is no readable header."""
    try:
        f = io.BytesIO(data)
        version = np.lib.format.read_magic(f)
        read = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}[version]  # fmt: skip
        return tuple(read(f)[0])
    except (ValueError, KeyError):
        return None


def score_test_cell(
    gid: str,
    points: float,
    *,
    error: str | None,
    not_run: str | None,
    expected: list[Expected],
    actual_dir: Folder | Path,
    expected_dir: Path,
    visibility: str,
    record_points: Mapping[str, float] | None = None,
) -> TestOutcome:
    """A test cell earns its points when it ran, raised nothing, and every record matches.

    With ``record_points`` (``{record name: points}``, adding up to ``points``; checked at build),
    a cell that ran without raising earns the points of each record that matches, so one wrong
    output of several independent ones costs only its share. A cell that raised or did not run
    still earns 0: its records may come from before the failure.
    """
    problems: list[str] = []
    earned = 0.0
    if not_run:
        problems.append(not_run)
    elif error:
        problems.append(error)
    else:
        for rule in expected:
            problem = compare_record(rule.name, actual_dir, expected_dir, rule)
            if problem:
                share = (record_points or {}).get(rule.name)
                problems.append(problem if share is None else f"{problem} (-{share:g} points)")
            elif record_points:
                earned += record_points.get(rule.name, 0.0)
    passed = not problems
    if passed:
        score = points
    elif record_points and not (not_run or error):
        score = min(points, round(earned, 6))
    else:
        score = 0.0
    output = "Passed." if passed else "\n".join(problems)
    if not passed and score > 0:
        output += f"\nPartial credit: {score:g} of {points:g} points for the records that match."
    return TestOutcome(gid, score, points, passed, output, visibility)


def record_points_problem(
    gid: str, points: float, names: list[str], record_points: object
) -> str | None:
    """``None`` when a test cell's ``metadata.kit.record_points`` can split its points, else a
    sentence saying what is wrong and what to do.

    >>> print(record_points_problem("t", 3, ["a", "b"], {"a": 1, "b": 1}))
    t: metadata.kit.record_points adds up to 2 points, but the cell is worth 3. Make them agree.
    """
    if not isinstance(record_points, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
        for v in record_points.values()
    ):
        return (f"{gid}: metadata.kit.record_points must map each record name to its points "
                "(a number, 0 or more), e.g. {\"affine_forward.out\": 1}.")  # fmt: skip
    if set(record_points) != set(names):
        unknown = sorted(set(record_points) - set(names))
        missing = sorted(set(names) - set(record_points))
        return (f"{gid}: metadata.kit.record_points names {unknown or 'no'} unknown records and "
                f"misses {missing or 'none'}; the cell records {names}. Give each record its "
                "points.")  # fmt: skip
    total = sum(record_points.values())
    if abs(total - points) > 1e-9:
        return (f"{gid}: metadata.kit.record_points adds up to {total:g} points, but the cell is "
                f"worth {points:g}. Make them agree.")  # fmt: skip
    return None


def read_predictions(path: Path, ids: list[str], num_classes: int, multilabel: bool) -> np.ndarray:
    """Read and check the prediction file at ``path`` (see :func:`read_predictions_in`).

    Its last component must not be a link; the folders above are the caller's to trust.
    """
    path = Path(path)
    with Folder.open(path.parent) as folder:
        return read_predictions_in(folder, path.name, ids, num_classes, multilabel)


def prediction_caps(ids: list[str], num_classes: int, multilabel: bool) -> tuple[int, int, int]:
    """(lines, characters per line, bytes) that a prediction file for ``ids`` may use.

    One row per hidden image plus the header and ``SPARE_LINES`` blank ones; a row holds the
    longest id and one value (or one per class) of up to ``CHARS_PER_VALUE`` characters each.

    >>> prediction_caps(["h00000", "h00001"], 10, multilabel=False)
    (19, 56, 1102)
    """
    values = num_classes if multilabel else 1
    longest_id = max((len(i) for i in ids), default=0)
    line_chars = longest_id + 1 + values * (CHARS_PER_VALUE + 1) + 16
    lines = len(ids) + 1 + SPARE_LINES
    return lines, line_chars, min(MAX_PREDICTION_BYTES, lines * (line_chars + 2))


def _capped_lines(text: TextIO, name: str, max_lines: int, max_chars: int) -> Iterator[str]:
    """The lines of ``text`` for csv.reader, stopping at the first line or row over its cap.

    csv.reader alone would hold a line of any length in memory, so lines are cut here first.
    """
    for number in range(1, max_lines + 2):
        line = text.readline(max_chars + 2)
        if not line:
            return
        if number > max_lines:
            raise ValueError(
                f"{name} has more than {max_lines:,} lines; expected a header and one row per "
                f"hidden image ({max_lines - 1 - SPARE_LINES:,} rows)."
            )
        if len(line.rstrip("\r\n")) > max_chars:
            raise ValueError(
                f"{name} line {number} is longer than {max_chars:,} characters; a row holds an "
                "id and its predicted value(s) only."
            )
        yield line


def read_predictions_in(
    folder: Folder,
    name: str,
    ids: list[str],
    num_classes: int,
    multilabel: bool,
    class_names: list[str] | None = None,
) -> np.ndarray:
    """Read and check the prediction file ``name`` in ``folder``; rows come back in ``ids`` order.

    ``class_names`` (multi-label): a CSV header that names classes has its columns put in this
    order, so each column is scored against the class it names; it must name each class once
    (:func:`_class_columns`). A header naming no class is read in the class order.

    The file is opened without following links and refused unread when it is larger than a
    file for ``len(ids)`` images can be (:func:`prediction_caps`); a CSV (UTF-8, a byte-order
    mark allowed) is read line by line within those caps, an ``.npy`` file's header is checked
    before its data is read.

    Returns:
        int64 (N,) class indices, or float64 (N, K) scores when ``multilabel``.

    Raises:
        ValueError: with a sentence a student can act on (which rows, which ids, what type).
    """
    max_lines, max_chars, max_bytes = prediction_caps(ids, num_classes, multilabel)
    values_per_row = num_classes if multilabel else 1
    header: list[str] = []
    if name.endswith(".npy"):
        max_bytes = 2**16 + len(ids) * values_per_row * 16  # header + up to 16 bytes per value
    hint = (
        f" A prediction file for {len(ids):,} hidden images is smaller; write one row per image "
        "with helpers.predictions.save_predictions."
    )
    try:
        stream = folder.open_binary(name, max_bytes)
    except UnsafeFileError as error:
        message = str(error)
        raise ValueError(message + (hint if "byte limit" in message else "")) from None
    with stream:
        if name.endswith(".npy"):
            try:
                values = load_npy_bytes(stream.read(max_bytes + 1), name, rows=len(ids))
            except ValueError as error:
                raise ValueError(
                    f"{error}. Save a numeric array, one row per hidden image, with np.save "
                    "(not a Python object)."
                ) from None
            table = dict(zip(ids, values, strict=True))
        else:
            text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
            try:
                header, table = _read_csv_rows(
                    text, name, max_lines, max_chars, num_classes, multilabel
                )
            except UnicodeDecodeError:
                raise ValueError(
                    f"{name} is not a text CSV file (it may be a pickle or binary file). "
                    "Write it with helpers.predictions.save_predictions."
                ) from None
            except csv.Error as error:
                raise ValueError(
                    f"{name} is not a CSV file the grader can read ({error}). Write it with "
                    "helpers.predictions.save_predictions."
                ) from None
    missing = [i for i in ids if i not in table]
    unknown = len(table) - (len(ids) - len(missing))
    if missing or unknown:
        raise ValueError(
            f"{name} must have exactly one row per hidden image: {len(missing)} ids are "
            f"missing (e.g. {missing[:3]}) and {unknown} rows have ids that are not hidden images."
        )
    try:
        values = np.array([np.asarray(table[i], dtype=np.float64) for i in ids])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} holds values that are not numbers ({error}).") from error
    if not np.isfinite(values).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(values)).sum())} NaN or inf values.")
    if multilabel:
        values = values.reshape(len(ids), num_classes)
        order = _class_columns(header[1:], class_names, name)  # .npy: no header, no names
        return values if order is None else values[:, order]
    values = values.reshape(len(ids))
    if not np.all(values == np.round(values)) or values.min() < 0 or values.max() >= num_classes:
        raise ValueError(
            f"{name}: every label must be a whole class index from 0 to {num_classes - 1}."
        )
    return values.astype(np.int64)


def _class_columns(
    columns: list[str], class_names: Sequence[str] | None, name: str
) -> list[int] | None:
    """The column of each class, in ``class_names`` order, when the header names classes.

    A header naming any class must name every class exactly once: a misspelt or repeated
    name would otherwise score some column against another class's labels. Names match
    after trimming spaces (a CSV written with ``", "``) and ignoring case (``Dog`` is dog),
    unless two classes differ only by case. A header naming no class at all (``class_0..``,
    ``0..``, ``a..``) leaves the columns in the class order (returns None).

    Raises:
        ValueError: naming the unknown, missing and repeated names and the header wanted.
    """
    if not class_names or not columns:
        return None
    folded = len({c.casefold() for c in class_names}) == len(class_names)

    def key(text: str) -> str:
        return text.strip().casefold() if folded else text.strip()

    column_of = {key(c): c for c in class_names}
    named = [column_of.get(key(c)) for c in columns]
    if not any(named):
        return None
    unknown = [c for c, n in zip(columns, named, strict=True) if n is None]
    missing = [c for c in class_names if c not in named]
    repeated = sorted({n for n in named if n is not None and named.count(n) > 1})
    if unknown or missing or repeated:
        problems = [f"{c!r} is no class" for c in unknown]
        problems += [f"{c!r} names {named.count(c)} columns" for c in repeated]
        problems += [f"no column is {c!r}" for c in missing]
        raise ValueError(
            f"{name}'s header names classes, so each column is scored against the class it "
            f"names, but {'; '.join(problems)}. The header must be "
            f"'id,{','.join(class_names)}' (the class columns in any order, each class once); "
            "helpers.predictions.save_predictions with class_names=CLASSES writes it."
        )
    return [named.index(c) for c in class_names]


def _read_csv_rows(
    text: TextIO, name: str, max_lines: int, max_chars: int, num_classes: int, multilabel: bool
) -> tuple[list[str], dict[str, list[str]]]:
    """The header and ``{id: [value, ...]}`` of a prediction CSV, checking header and row widths."""
    reader = csv.reader(_capped_lines(text, name, max_lines, max_chars))
    header = next(reader, None)
    width = 1 + (num_classes if multilabel else 1)
    if not header or header[0] != "id" or len(header) != width:
        want = "id,<one column per class>" if multilabel else "id,label"
        shown = header if header is None or len(",".join(header)) <= 200 else "a longer line"
        raise ValueError(f"{name} must start with the header '{want}', got {shown}.")
    table: dict[str, list[str]] = {}
    duplicates = 0
    for row in reader:
        if not row:
            continue
        if len(row) != width:
            raise ValueError(
                f"{name} line {reader.line_num} has {len(row)} fields, expected {width}."
            )
        if row[0] in table:
            duplicates += 1
        table[row[0]] = row[1:]
    if duplicates:
        raise ValueError(f"{name} lists {duplicates} ids more than once.")
    return header, table


def score_performance(
    band: Performance,
    output_dir: Folder | Path,
    labels_dir: Path,
    visibility: str,
    hidden_ids: Mapping[str, str] | None = None,
) -> tuple[TestOutcome, float | None]:
    """Score one prediction file: (the result line, the metric value for the leaderboard).

    ``output_dir`` is the kernel's OUTPUT_DIR: pass a verified :class:`Folder` (a path is opened
    without following a link in its last component). ``labels_dir`` is the bundle's own.
    ``hidden_ids``: ``{id the kernel saw: id in labels_dir}`` in the order of the kernel's
    ``ids.csv``, as :func:`helpers.data.hidden.redraw_hidden_inputs` returned it for this run;
    predictions are then checked and scored by the kernel's ids. ``None``: the kernel saw the
    bundle's ids.
    """
    from helpers.data.hidden import read_hidden_labels

    ids, labels, class_names = _labels(labels_dir, read_hidden_labels)
    if hidden_ids is not None:
        ids, labels = _relabel(ids, labels, hidden_ids)
    multilabel = labels.ndim == 2

    def failed(message: str) -> tuple[TestOutcome, None]:
        return TestOutcome(band.name, 0.0, band.max_score, False, message, visibility,
                           "performance"), None  # fmt: skip

    if band.metric in SEGMENTATION_METRICS:
        return score_segmentation(band, output_dir, labels_dir, ids, hidden_ids, visibility)

    try:
        folder, opened = _as_folder(output_dir)
    except UnsafeFileError as error:
        return failed(f"OUTPUT_DIR could not be read: {error} Write predictions into it as a "
                      "folder; do not replace it.")  # fmt: skip
    try:
        first = band.predictions.split("/")[0]
        if not folder.exists(first):
            return failed(
                f"{band.predictions} was not written. The notebook's prediction cell writes it "
                "into OUTPUT_DIR while grading; check that the cells before it ran without errors."
            )
        predictions = read_predictions_in(folder, band.predictions, ids, len(class_names),
                                          multilabel, class_names)  # fmt: skip
    except ValueError as error:
        return failed(str(error))
    finally:
        if opened:
            folder.close()
    value = _metric(band.metric, predictions, labels)
    points = band.points(value)
    output = (
        f"{band.metric} = {value:.4f} on {len(ids)} hidden images: {points:g} of "
        f"{band.max_score:g} points (0 at {band.zero_at:g}, full at {band.full_at:g})."
    )
    return TestOutcome(band.name, points, band.max_score, points >= band.max_score, output,
                       visibility, "performance"), value  # fmt: skip


def _relabel(
    ids: list[str], labels: np.ndarray, hidden_ids: Mapping[str, str]
) -> tuple[list[str], np.ndarray]:
    """The labels in the order of the kernel's ids: row k is the label of ``hidden_ids``' k-th
    key's bundle id. The mapping is the grader's own (made in this process), so a bundle id it
    names that the labels lack is the grader's bug, not the student's."""
    row_of = {bundle_id: k for k, bundle_id in enumerate(ids)}
    missing = [b for b in hidden_ids.values() if b not in row_of]
    if missing or len(set(hidden_ids.values())) != len(hidden_ids):
        raise ValueError(
            f"The hidden inputs' id map does not match the bundle's labels.csv ({len(missing)} "
            "ids unknown, or one used twice). Build the assignment's bundle again."
        )
    rows = [row_of[b] for b in hidden_ids.values()]
    return list(hidden_ids), labels[rows]


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
    """The metric on checked arrays, with the NumPy core that ``helpers.metrics`` runs too:
    importing torch only to score would cost the grader about 400 MB (tests/test_package.py)."""
    from helpers.metrics.ranking_numpy import accuracy_of_indices, mean_average_precision_of_arrays

    if name == "accuracy":
        value = accuracy_of_indices(predictions, labels)
    else:
        value = mean_average_precision_of_arrays(predictions, labels)
    return value if math.isfinite(value) else float("nan")
