"""``assignments/<a>/assignment.toml``: what an assignment's grading needs, read and checked.

A complete example, with every key and its default (only ``[assignment]`` is required)::

    [assignment]
    title = "CNNs on Fashion-MNIST"
    notebooks = ["a2_cnn_fashion.ipynb"]   # in source/<a>/ and release/<a>/
    files = ["improved_net.pt"]            # other files the submission must include
    grading_inputs = "grading_inputs.py"   # makes the hidden tests' inputs (optional)

    [limits]
    cell_timeout_s = 300                   # one cell
    total_timeout_s = 900                  # the whole notebook
    memory_mb = 4096                       # the kernel and its children
    max_processes = 256                    # processes of the grading user
    max_submitted_file_mb = 256            # each submitted file ([assignment] files), checked
                                           # before it is copied
    # ... and any other field of autograder.limits.Limits (output caps, restarts, ...)

    [grading]
    seed = 0                               # the notebook's SEED parameter
    input_pool = 3                         # input sets build draws (>= 2); grade picks one
    hidden_tests_visibility = "after_published"   # Gradescope visibility of hidden tests
    performance_visibility = "visible"

    [hidden_data]                          # the grader's hidden test set (optional)
    dataset = "fashion-mnist"              # a dataset helpers.data.hidden can prepare
    split = "test"
    seed = 12345                           # the shuffle; absent: a secret one at each build
    limit = 0                              # 0 = the whole split
    transform = "affine-flip-noise"        # Fashion-MNIST: helpers.data.hidden.TRANSFORMS
    transform_seed = 7                     # build scoring only; each grading run draws its own
    # VOC-style data also: root = "data/voc" (relative to the kit's root), task =
    # "classification" | "segmentation", difficult = "positive" | "ignore", superclasses = false
    # Synthetic scenes never seen by anyone: dataset = "synthetic" and
    # generate = { test = 500, size = 128 }: build writes that tree from a private seed
    # (assignments/<a>/private.toml, see autograder.hidden_set).

    [[performance]]                        # one table per scored prediction file
    name = "Improved network: accuracy on the hidden test set"
    predictions = "improved_predictions.csv"   # written by the notebook into OUTPUT_DIR
    metric = "accuracy"                    # accuracy | mean_average_precision | mean_iou |
                                           # mean_ap_segmentation (the last two: predictions
                                           # names a folder of uint8 score maps, one <id>.npy per
                                           # hidden image; see autograder/score_masks.py)
    zero_at = 0.70                         # metric value that earns 0 points
    full_at = 0.90                         # ... and max_score points (linear between)
    max_score = 10.0
    extra_credit = 0.0                     # extra points, reached linearly at extra_at
    extra_at = 1.0
    leaderboard = "Accuracy"               # column name on the leaderboard ("" = not shown)

Unknown keys are errors with the closest known key suggested, so a typo never silently turns a
setting off.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from autograder.limits import Limits

__all__ = ["Assignment", "ConfigError", "Limits", "Performance", "load_assignment"]

#: The segmentation metrics score a folder of per-image score maps (autograder.score_masks).
METRICS = ("accuracy", "mean_average_precision", "mean_iou", "mean_ap_segmentation")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


class ConfigError(ValueError):
    """``assignment.toml`` is missing, malformed or has a wrong key or value."""


@dataclass(frozen=True)
class Performance:
    """How one prediction file is scored: a metric mapped to points by a clipped-linear band."""

    name: str
    predictions: str
    metric: str = "accuracy"
    zero_at: float = 0.0
    full_at: float = 1.0
    max_score: float = 10.0
    extra_credit: float = 0.0
    extra_at: float = 1.0
    leaderboard: str = ""

    def points(self, value: float) -> float:
        """Points for a metric ``value``: 0 at ``zero_at``, ``max_score`` at ``full_at``, then
        up to ``extra_credit`` more at ``extra_at``, linear in between and clipped outside.

        >>> band = Performance("p", "p.csv", zero_at=0.7, full_at=0.9, max_score=10)
        >>> [band.points(v) for v in (0.5, 0.7, 0.8, 0.9, 0.99)]
        [0.0, 0.0, 5.0, 10.0, 10.0]
        """
        if value != value:  # NaN
            return 0.0
        base = (value - self.zero_at) / (self.full_at - self.zero_at)
        points = self.max_score * min(max(base, 0.0), 1.0)
        if self.extra_credit and value > self.full_at:
            extra = (value - self.full_at) / (self.extra_at - self.full_at)
            points += self.extra_credit * min(max(extra, 0.0), 1.0)
        return round(points, 4)


@dataclass(frozen=True)
class Assignment:
    """One assignment: its folders, notebooks and grading settings."""

    name: str
    root: Path  # the kit's repository root
    title: str
    notebooks: tuple[str, ...]
    files: tuple[str, ...] = ()
    grading_inputs: str | None = None
    limits: Limits = field(default_factory=Limits)
    seed: int = 0
    input_pool: int = 3
    hidden_tests_visibility: str = "after_published"
    performance_visibility: str = "visible"
    hidden_data: dict | None = None
    performance: tuple[Performance, ...] = ()

    @property
    def config_dir(self) -> Path:
        return self.root / "assignments" / self.name

    @property
    def source_dir(self) -> Path:
        return self.root / "source" / self.name

    @property
    def release_dir(self) -> Path:
        return self.root / "release" / self.name


def _suggest(key: str, known) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else f" Known keys: {', '.join(known)}."


def _take(table: dict, known: dict, where: str, path: Path) -> dict:
    """Check ``table``'s keys against ``known`` (name -> type) and return it."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{where}] must be a table.")
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown key {key!r} in [{where}].{_suggest(key, known)}")
        expected = known[key]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if not isinstance(value, expected):
            raise ConfigError(
                f"{path}: [{where}] {key} must be {getattr(expected, '__name__', expected)}, "
                f"got {value!r}."
            )
    return table


def _check_generate(hidden: dict, path: Path) -> None:
    """``[hidden_data] generate``: build writes a synthetic tree from a private seed."""
    generate = _take(hidden["generate"], {"test": int, "size": int}, "hidden_data.generate", path)
    if hidden.get("dataset") != "synthetic" or "root" in hidden:
        raise ConfigError(
            f"{path}: [hidden_data] generate makes a synthetic tree at build time: it needs "
            'dataset = "synthetic" and no root (the tree is written from the private seed).'
        )
    if generate.get("test", 0) < 1 or generate.get("size", 128) < 32:
        raise ConfigError(
            f"{path}: [hidden_data] generate = {generate!r}; give test = the number of hidden "
            "images (>= 1) and optionally size = the image side in pixels (>= 32, default 128)."
        )


def _types(cls) -> dict:
    table = {"float": float, "int": int, "str": str, "int | None": int, "bool": bool}
    return {f.name: table[str(f.type)] for f in fields(cls)}


def load_assignment(name: str, root: str | Path | None = None) -> Assignment:
    """Read and check ``assignments/<name>/assignment.toml`` under the kit's ``root``.

    Raises:
        ConfigError: the file is missing or a key or value is wrong; the message names the file,
            the key and what would be right.
    """
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    path = root / "assignments" / name / "assignment.toml"
    if not path.is_file():
        known = sorted(p.parent.name for p in (root / "assignments").glob("*/assignment.toml"))
        raise ConfigError(
            f"No assignment {name!r}: {path} does not exist. "
            f"Assignments here: {', '.join(known) or 'none'}."
        )
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from error
    _take(
        data,
        {"assignment": dict, "limits": dict, "grading": dict, "hidden_data": dict,
         "performance": list},
        "top level", path,
    )  # fmt: skip
    meta = _take(
        data.get("assignment", {}),
        {"title": str, "notebooks": list, "files": list, "grading_inputs": str},
        "assignment",
        path,
    )
    if not meta.get("notebooks"):
        raise ConfigError(f"{path}: [assignment] notebooks must list at least one notebook.")
    limits = Limits(**_take(data.get("limits", {}), _types(Limits), "limits", path))
    grading = _take(
        data.get("grading", {}),
        {
            "seed": int,
            "input_pool": int,
            "hidden_tests_visibility": str,
            "performance_visibility": str,
        },
        "grading",
        path,
    )
    pool = grading.get("input_pool", 3)
    if not 2 <= pool <= 100:
        raise ConfigError(
            f"{path}: [grading] input_pool = {pool!r}; use 2 to 100. Build draws that many input "
            "sets and needs at least two to tell a record that depends on its inputs from a "
            "constant."
        )
    for key in ("hidden_tests_visibility", "performance_visibility"):
        if key in grading and grading[key] not in VISIBILITIES:
            raise ConfigError(
                f"{path}: [grading] {key} = {grading[key]!r}; valid values are {VISIBILITIES}."
            )
    hidden = data.get("hidden_data")
    if hidden is not None:
        known = {"dataset": str, "split": str, "seed": int, "limit": int, "root": str,
                 "task": str, "difficult": str, "superclasses": bool, "transform": str,
                 "transform_seed": int, "generate": dict}  # fmt: skip
        _take(hidden, known, "hidden_data", path)
        if "generate" in hidden:
            _check_generate(hidden, path)
    performance = []
    for i, table in enumerate(data.get("performance", [])):
        where = f"performance {i + 1}"
        _take(table, _types(Performance), where, path)
        for key in ("name", "predictions"):
            if key not in table:
                raise ConfigError(f"{path}: [[performance]] number {i + 1} needs {key!r}.")
        band = Performance(**table)
        if band.metric not in METRICS:
            raise ConfigError(f"{path}: [{where}] metric {band.metric!r}; valid: {METRICS}.")
        if not band.full_at > band.zero_at:
            raise ConfigError(f"{path}: [{where}] full_at must be above zero_at.")
        if band.extra_credit and not band.extra_at > band.full_at:
            raise ConfigError(f"{path}: [{where}] extra_at must be above full_at.")
        if Path(band.predictions).name != band.predictions:
            raise ConfigError(f"{path}: [{where}] predictions must be a plain file name.")
        performance.append(band)
    if performance and hidden is None:
        raise ConfigError(f"{path}: [[performance]] needs a [hidden_data] table to score against.")
    return Assignment(
        name=name,
        root=root,
        title=meta.get("title", name),
        notebooks=tuple(meta["notebooks"]),
        files=tuple(meta.get("files", ())),
        grading_inputs=meta.get("grading_inputs"),
        limits=limits,
        seed=grading.get("seed", 0),
        input_pool=pool,
        hidden_tests_visibility=grading.get("hidden_tests_visibility", "after_published"),
        performance_visibility=grading.get("performance_visibility", "visible"),
        hidden_data=hidden,
        performance=tuple(performance),
    )
