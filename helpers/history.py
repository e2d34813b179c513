"""A training history: one row of numbers per epoch.

``helpers.train.fit`` returns a :class:`History`; ``helpers.plots`` draws it and
``helpers.experiments`` logs it. Keeping it a plain table (no tensors, no model) means it can be
saved as JSON, compared across runs and plotted without re-running anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["History"]


@dataclass
class History:
    """Per-epoch numbers of one training run.

    Each row of ``epochs`` is a dict with ``"epoch"`` (1-based int) and any of ``"train_loss"``,
    ``"val_loss"``, ``"train_<metric>"``, ``"val_<metric>"``, ``"lr"`` and ``"seconds"`` (wall time
    of that epoch). Missing values are simply absent from a row.

    >>> h = History()
    >>> h.append(epoch=1, train_loss=0.9, val_loss=1.0, val_accuracy=0.6)
    >>> h.append(epoch=2, train_loss=0.5, val_loss=0.7, val_accuracy=0.8)
    >>> h["val_accuracy"]
    [0.6, 0.8]
    >>> h.best("val_accuracy")
    {'epoch': 2, 'train_loss': 0.5, 'val_loss': 0.7, 'val_accuracy': 0.8}
    """

    epochs: list[dict[str, float]] = field(default_factory=list)

    def append(self, **row: float) -> None:
        """Add one epoch's numbers (keyword arguments, e.g. ``train_loss=0.31``)."""
        self.epochs.append({k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()})

    def __len__(self) -> int:
        return len(self.epochs)

    def __iter__(self) -> Iterator[dict[str, float]]:
        return iter(self.epochs)

    def __getitem__(self, column: str) -> list[float]:
        """One column over the epochs that have it, e.g. ``history["val_loss"]``."""
        if column not in self.columns:
            have = ", ".join(self.columns) or "none"
            raise KeyError(f"This history has no column {column!r}. It has: {have}.")
        return [row[column] for row in self.epochs if column in row]

    @property
    def columns(self) -> list[str]:
        """Every column name, in the order they first appear."""
        seen: dict[str, None] = {}
        for row in self.epochs:
            seen.update(dict.fromkeys(row))
        return list(seen)

    def best(self, column: str, *, mode: str | None = None) -> dict[str, float]:
        """The row with the best value of ``column``.

        ``mode`` is ``"max"`` or ``"min"``; by default losses are minimised and anything else
        (accuracy, mAP, IoU) maximised. NaN values never win.
        """
        if mode is None:
            mode = "min" if column.endswith("loss") else "max"
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}.")
        rows = [r for r in self.epochs if column in r and not math.isnan(r[column])]
        if not rows:
            raise KeyError(f"No epoch has a number for {column!r}; columns are {self.columns}.")
        pick = max if mode == "max" else min
        return dict(pick(rows, key=lambda r: r[column]))

    def to_dict(self) -> dict[str, list[float]]:
        """Column name -> list of values (epochs lacking a column are skipped)."""
        return {c: self[c] for c in self.columns}

    def save(self, path: str | Path) -> None:
        """Write the rows as JSON (one list of objects)."""
        Path(path).write_text(json.dumps(self.epochs, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a history written by :meth:`save`."""
        return cls(epochs=json.loads(Path(path).read_text()))
