"""What ``fit`` and ``evaluate`` need of a metric (:class:`Metric`), and its results as columns.

A metric's ``compute()`` becomes history columns: a number gives ``<name>``, a dict of numbers
gives ``<name>_<key>``; anything else is left out with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class Metric(Protocol):
    """What ``fit`` and ``evaluate`` need of a metric: a streaming accumulator.

    ``update`` receives the model's outputs (float32, detached, on the training device) and the
    batch's targets as the data gave them; ``compute`` returns a number, a 0-d tensor, or a dict
    of them (each becomes its own column, ``<name>_<key>``).
    """

    def reset(self) -> None: ...

    def update(self, outputs: torch.Tensor, targets: Any) -> None: ...

    def compute(self) -> Any: ...


def _check_metrics(metrics: Mapping[str, Metric] | None) -> dict[str, Metric]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"metrics must be a dict of name -> metric, e.g. {{'accuracy': Accuracy()}}; got a "
            f"{type(metrics).__name__}. The names become the history's columns (val_accuracy)."
        )
    for name, metric in metrics.items():
        missing = [
            m for m in ("reset", "update", "compute") if not callable(getattr(metric, m, None))
        ]
        if not isinstance(name, str) or not name:
            raise TypeError(f"Metric names must be non-empty strings, got {name!r}.")
        if missing:
            raise TypeError(
                f"Metric {name!r} ({type(metric).__name__}) lacks {', '.join(missing)}. A metric "
                "needs reset(), update(outputs, targets) and compute(), as helpers.metrics' have."
            )
    return dict(metrics)


def _as_number(value: Any) -> float | None:
    """``value`` as a float when it is one number (Python, NumPy or a one-element tensor)."""
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, torch.Tensor):
        return float(value.item()) if value.numel() == 1 else None
    if isinstance(value, np.ndarray | np.generic):
        return float(value.item()) if value.size == 1 else None
    return None


def _metric_columns(name: str, value: Any, skipped: set[str]) -> dict[str, float]:
    """A metric's ``compute()`` as history columns: a number gives ``name``; a dict gives
    ``name_<key>`` per number in it. Anything else (a per-class vector) is left out, with one
    warning per metric, since a history row holds numbers only."""
    number = _as_number(value)
    if number is not None:
        return {name: number}
    columns: dict[str, float] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            number = _as_number(item)
            if number is not None:
                columns[f"{name}_{key}"] = number
        if columns:
            return columns
    if name not in skipped:
        skipped.add(name)
        warnings.warn(
            f"Metric {name!r} returned a {type(value).__name__} with no single number, so it is "
            "not in the history. Call it yourself on predict()'s outputs for per-class results.",
            stacklevel=4,
        )
    return columns
