"""The experiment log: one JSON line per training run, and the ablation table a report needs.

``fit(..., log="experiments.jsonl", run_name="lr 0.01", config={"lr": 0.01})`` appends a line
per run to a file beside the notebook (a relative path is relative to the notebook's folder, the
kernel's working directory). ``ablation_table("experiments.jsonl", metric="val_accuracy")`` turns
the runs into a Markdown table: what each run changed against the baseline, and the best value of
the metric it reached. JSON lines because a crash mid-run cannot corrupt earlier runs, the file
diffs well in git, and any tool (pandas ``read_json(lines=True)``, ``jq``) reads it.

Each line holds: ``run`` (name), ``timestamp`` (UTC, ISO 8601), ``config`` (what the student
passed), ``setup`` (model, parameters, optimizer, learning rate, loss, batch size, as fit saw
them), ``device``, ``epochs`` (run), ``epochs_planned``, ``stopped_early``, ``seconds`` (wall time
of the whole run), ``monitor`` (the column early stopping and the best checkpoint watched),
``best`` and ``final`` (the best epoch's row by ``monitor`` and the last row), ``history`` (every
row) and ``results`` (numbers added later with :meth:`ExperimentLog.add_results`, e.g. test-set
metrics). Non-finite numbers are written as ``null`` so the file stays strict JSON.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers.history import History

__all__ = ["ExperimentLog", "MarkdownTable", "ablation_table"]


class MarkdownTable(str):
    """A Markdown string that Jupyter shows as a rendered table (``print`` it for the source)."""

    def _repr_markdown_(self) -> str:
        return str(self)


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: containers recursively, tensors and NumPy scalars as numbers,
    NaN and infinities as ``None``, anything else (devices, paths, classes) as its ``str``."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # torch tensors and NumPy scalars of one element
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return _jsonable(item())
    return str(value)


def _row_from_json(row: Mapping[str, Any]) -> dict[str, float]:
    """A history row read back: ``null`` (a NaN when written) becomes NaN again."""
    return {k: (math.nan if v is None else v) for k, v in row.items()}


class ExperimentLog:
    """An append-only log of training runs in a JSON-lines file.

    Args:
        path: the file; created with its folder on the first run. Default ``experiments.jsonl``
            in the working directory (a notebook's own folder).

    >>> import tempfile
    >>> log = ExperimentLog(Path(tempfile.mkdtemp()) / "experiments.jsonl")
    >>> h = History()
    >>> h.append(epoch=1, train_loss=0.9, val_loss=1.0, val_accuracy=0.6)
    >>> entry = log.record(h, run="baseline", config={"lr": 0.1})
    >>> len(log), log.runs()[0]["best"]["val_accuracy"]
    (1, 0.6)
    """

    def __init__(self, path: str | Path = "experiments.jsonl") -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ExperimentLog({str(self.path)!r})"

    def append(self, entry: Mapping[str, Any]) -> None:
        """Append one entry as one line (converted with the module's JSON rules)."""
        line = json.dumps(_jsonable(entry), allow_nan=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")

    def record(
        self,
        history: History,
        *,
        run: str | None = None,
        config: Mapping[str, Any] | None = None,
        monitor: str = "val_loss",
        mode: str | None = None,
        setup: Mapping[str, Any] | None = None,
        device: str | None = None,
        seconds: float | None = None,
        epochs_planned: int | None = None,
        stopped_early: bool | None = None,
    ) -> dict[str, Any]:
        """Append the entry of one finished run (``fit`` calls this) and return it.

        Args:
            history: the run's per-epoch rows.
            run: its name, e.g. the change it makes (``"no dropout"``); default ``"run <n>"``.
            config: the settings that define the run (learning rate, augmentation, ...): what
                :func:`ablation_table` compares between runs.
            monitor, mode: the column (and ``"min"``/``"max"``) that picks the ``best`` row;
                when the history lacks ``monitor``, ``best`` is ``None``.
            setup, device, seconds, epochs_planned, stopped_early: stored as given.
        """
        rows = list(history)
        try:
            best = history.best(monitor, mode=mode) if rows else None
        except KeyError:
            best = None
        entry = {
            "run": run if run is not None else f"run {len(self) + 1}",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": dict(config or {}),
            "setup": dict(setup or {}),
            "device": device,
            "epochs": len(rows),
            "epochs_planned": epochs_planned,
            "stopped_early": stopped_early,
            "seconds": seconds,
            "monitor": monitor,
            "best": best,
            "final": rows[-1] if rows else None,
            "history": rows,
            "results": {},
        }
        self.append(entry)
        return _jsonable(entry)

    def runs(self) -> list[dict[str, Any]]:
        """Every entry, oldest first. A line that is not valid JSON is skipped with a warning
        (e.g. a run cut off while writing); a missing file is an empty log."""
        if not self.path.exists():
            return []
        entries = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                warnings.warn(
                    f"{self.path}, line {number}, is not valid JSON ({error}); skipped it.",
                    stacklevel=2,
                )
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    def __len__(self) -> int:
        return len(self.runs())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.runs())

    def _find(self, entries: list[dict[str, Any]], run: str | None) -> int:
        """Index of the latest entry named ``run`` (the last entry when ``run`` is None)."""
        if not entries:
            raise LookupError(f"The experiment log {self.path} has no runs yet.")
        if run is None:
            return len(entries) - 1
        for index in range(len(entries) - 1, -1, -1):
            if entries[index].get("run") == run:
                return index
        names = ", ".join(repr(e.get("run")) for e in entries)
        raise LookupError(f"No run named {run!r} in {self.path}. Its runs are: {names}.")

    def history(self, run: str | None = None) -> History:
        """The :class:`History` of the latest run named ``run`` (default: the last run)."""
        entries = self.runs()
        entry = entries[self._find(entries, run)]
        return History(epochs=[_row_from_json(row) for row in entry.get("history", [])])

    def add_results(self, run: str | None = None, **numbers: float) -> None:
        """Attach numbers measured after training (e.g. ``test_accuracy=0.91``) to the latest run
        named ``run`` (default: the last run). :func:`ablation_table` shows a metric found here in
        preference to the history, so a table can compare runs on the test set.

        The file is rewritten in place (through a temporary file, so a crash leaves it whole).
        """
        entries = self.runs()
        index = self._find(entries, run)
        entries[index].setdefault("results", {}).update(_jsonable(numbers))
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(
            "".join(json.dumps(e, allow_nan=False) + "\n" for e in entries), encoding="utf-8"
        )
        os.replace(temporary, self.path)


def _config_changes(config: Mapping[str, Any], baseline: Mapping[str, Any]) -> str:
    """What ``config`` changes against ``baseline``, e.g. ``"lr: 0.1 → 0.01, + dropout=0.5"``."""
    parts = []
    for key, value in config.items():
        if key not in baseline:
            parts.append(f"+ {key}={_short(value)}")
        elif baseline[key] != value:
            parts.append(f"{key}: {_short(baseline[key])} → {_short(value)}")
    parts.extend(f"− {key}" for key in baseline if key not in config)
    return ", ".join(parts)


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _best_of(entry: Mapping[str, Any], metric: str, mode: str) -> tuple[float, int | None] | None:
    """(best value, its epoch) of ``metric`` in one entry: from ``results`` (epoch None) when
    added there, else the best of the history's column. None when the run never measured it."""
    results = entry.get("results") or {}
    if results.get(metric) is not None:
        return float(results[metric]), None
    rows = [r for r in entry.get("history", []) if r.get(metric) is not None]
    if not rows:
        return None
    pick = max if mode == "max" else min
    row = pick(rows, key=lambda r: r[metric])
    return float(row[metric]), row.get("epoch")


def _cell(text: Any) -> str:
    """Table cell text: Markdown's column separator escaped, line breaks removed."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def ablation_table(
    runs: ExperimentLog | str | Path | Iterable[Mapping[str, Any]] = "experiments.jsonl",
    metric: str = "val_accuracy",
    *,
    mode: str | None = None,
    baseline: str | int = 0,
    digits: int = 4,
) -> MarkdownTable:
    """A Markdown table of the logged runs: one row per run, the change it makes, its best metric.

    Args:
        runs: an :class:`ExperimentLog`, the path of its file, or its entries.
        metric: the column to compare, e.g. ``"val_accuracy"``, ``"val_map"``, or a number added
            with :meth:`ExperimentLog.add_results` such as ``"test_accuracy"``.
        mode: ``"max"`` or ``"min"``; by default losses are minimised, anything else maximised
            (as :meth:`History.best` does).
        baseline: the run the others are compared with: its name, or its position (default the
            first run). The "Change" column lists the config keys that differ from it; "Δ" is
            the difference of the metric.
        digits: decimals shown.

    Returns:
        A :class:`MarkdownTable` (a ``str``): Jupyter renders it, ``print`` shows the Markdown to
        paste into a report. A run that never measured ``metric`` shows "n/a".

    >>> runs = [
    ...     {"run": "baseline", "config": {"lr": 0.1},
    ...      "history": [{"epoch": 1, "val_accuracy": 0.7}]},
    ...     {"run": "smaller lr", "config": {"lr": 0.01},
    ...      "history": [{"epoch": 1, "val_accuracy": 0.72}, {"epoch": 2, "val_accuracy": 0.8}]},
    ... ]
    >>> print(ablation_table(runs, "val_accuracy", digits=2))
    | Run | Change | Best val_accuracy | Δ vs baseline | Epoch |
    |---|---|---|---|---|
    | baseline | (baseline) | 0.70 | — | 1 of 1 |
    | smaller lr | lr: 0.1 → 0.01 | 0.80 | +0.10 | 2 of 2 |
    """
    if isinstance(runs, str | Path):
        runs = ExperimentLog(runs)
    entries = runs.runs() if isinstance(runs, ExperimentLog) else [dict(e) for e in runs]
    if not entries:
        where = f" in {runs.path}" if isinstance(runs, ExperimentLog) else ""
        raise ValueError(
            f"There are no logged runs{where}. Pass log=ExperimentLog(...) (or a file path) to "
            "fit() to record each run, then call ablation_table on that log."
        )
    if mode is None:
        mode = "min" if metric.endswith("loss") else "max"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', not {mode!r}.")
    names = [e.get("run") for e in entries]
    if isinstance(baseline, str):
        if baseline not in names:
            raise ValueError(
                f"No run named {baseline!r} to use as the baseline. The runs are: "
                f"{', '.join(map(repr, names))}."
            )
        base_index = names.index(baseline)
    else:
        if not -len(entries) <= baseline < len(entries):
            raise ValueError(f"baseline={baseline} but there are only {len(entries)} runs.")
        base_index = baseline % len(entries)
    base = entries[base_index]
    base_best = _best_of(base, metric, mode)
    if all(_best_of(e, metric, mode) is None for e in entries):
        seen = sorted({k for e in entries for r in e.get("history", []) for k in r})
        seen += sorted({k for e in entries for k in (e.get("results") or {})})
        raise ValueError(
            f"No logged run has a number for {metric!r}. The runs have: {', '.join(seen)}."
        )

    lines = [
        f"| Run | Change | Best {_cell(metric)} | Δ vs baseline | Epoch |",
        "|---|---|---|---|---|",
    ]
    for index, entry in enumerate(entries):
        if index == base_index:
            change = "(baseline)"
        else:
            change = _config_changes(entry.get("config") or {}, base.get("config") or {})
            change = change or "(same config)"
        best = _best_of(entry, metric, mode)
        if best is None:
            value = delta = epoch = "n/a"
        else:
            value = f"{best[0]:.{digits}f}"
            if index == base_index or base_best is None:
                delta = "—"
            else:
                delta = f"{best[0] - base_best[0]:+.{digits}f}"
            epochs = entry.get("epochs") or len(entry.get("history", []))
            epoch = "—" if best[1] is None else f"{best[1]} of {epochs}"
        cells = [entry.get("run", f"run {index + 1}"), change, value, delta, epoch]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return MarkdownTable("\n".join(lines))
