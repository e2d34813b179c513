"""Early stopping and the best checkpoint: the column watched, what counts as better, saving.

The monitored column is checked before training starts, so a typo costs no epochs; the best
weights are written through a temporary file, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from helpers.train.metric_protocol import Metric


def _check_monitor(
    monitor: str, has_val: bool, metrics: Mapping[str, Metric], train_metrics: bool
) -> str:
    """The column early stopping and the best checkpoint watch, checked before any training so a
    typo costs no epochs. Without validation data the default ``val_loss`` becomes
    ``train_loss``."""
    if not has_val and monitor == "val_loss":
        return "train_loss"
    prefixes = ["train_", "val_"] if has_val else ["train_"]
    produced = [f"{p}loss" for p in prefixes]
    produced += [f"{p}{name}" for p in prefixes for name in metrics if p == "val_" or train_metrics]
    if any(monitor == c or monitor.startswith(c + "_") for c in produced):
        return monitor
    hint = " (it needs val_data)" if monitor.startswith("val_") and not has_val else ""
    raise ValueError(
        f"monitor={monitor!r}{hint}, but this fit() records only: {', '.join(produced)} "
        "(a metric returning a dict adds <name>_<key> columns). Pick one of those."
    )


def _improves(value: float, best: float | None, *, mode: str, min_delta: float) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` (NaN never does)."""
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _save_state(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Write a state dict through a temporary file, so a crash never leaves half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(dict(state), temporary)
    os.replace(temporary, path)
