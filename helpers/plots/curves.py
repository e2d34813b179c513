"""Training curves: train and validation values of a quantity over the epochs, from a history.

A history is a :class:`helpers.history.History` or a dict of lists (column -> one value per
epoch) with ``train_<name>`` / ``val_<name>`` columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from helpers.history import History
from helpers.plots._style import _LAYOUT


def _column(history: History | Mapping[str, Sequence[float]], column: str) -> tuple[list, list]:
    """(epochs, values) of one column; epochs from the ``epoch`` column where there is one."""
    if isinstance(history, History):
        rows = [(i, row) for i, row in enumerate(history) if column in row]
        return [row.get("epoch", i + 1) for i, row in rows], [row[column] for _, row in rows]
    values = [math.nan if v is None else float(v) for v in history[column]]
    epochs = list(history.get("epoch", []))
    if len(epochs) != len(values):
        epochs = list(range(1, len(values) + 1))
    return epochs, values


def _columns(history: Any) -> list[str]:
    if isinstance(history, History):
        if len(history) == 0:
            raise ValueError("This history is empty: train for at least one epoch, then plot it.")
        return history.columns
    if isinstance(history, Mapping):
        if not history:
            raise ValueError("This history is empty: train for at least one epoch, then plot it.")
        return list(history)
    raise TypeError(
        f"Expected a History (what helpers.train.fit returns) or a dict of lists such as "
        f"{{'train_loss': [...], 'val_loss': [...]}}; got {type(history).__name__}."
    )


def plot_curves(
    history: History | Mapping[str, Sequence[float]],
    name: str = "loss",
    *,
    ax: Axes | None = None,
    label: str | None = None,
) -> Axes:
    """Train and validation curves of one quantity over the epochs.

    Draws ``train_<name>`` (dashed) and ``val_<name>`` (solid) in one colour, marks the best
    validation epoch in the legend (lowest for a loss, highest otherwise), and returns the axes.
    Call it again on the same ``ax`` with another ``label`` to compare runs. A column name that
    exists as it is (``"lr"``) is drawn alone.

    Args:
        history: a ``History`` or a dict of lists (column -> one value per epoch).
        name: the quantity, e.g. ``"loss"``, ``"accuracy"``, ``"map"``.
        ax: where to draw; a new figure when ``None``.
        label: the run's name, put before "train"/"val" in the legend.

    >>> ax = plot_curves({"train_loss": [0.9, 0.5], "val_loss": [1.0, 0.7]})
    >>> [line.get_label() for line in ax.get_lines()]
    ['train', 'val (best 0.700 @ 2)']
    """
    columns = _columns(history)
    wanted = [c for c in (f"train_{name}", f"val_{name}") if c in columns]
    if not wanted and name in columns:
        wanted = [name]
    if not wanted:
        raise ValueError(
            f"This history has no column train_{name}, val_{name} or {name}. It has: "
            f"{', '.join(columns)}."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5), layout=_LAYOUT)
    colour = None
    for column in wanted:
        epochs, values = _column(history, column)
        split = column.split("_", 1)[0] if column != name else name
        text = split if label is None else f"{label} {split}"
        finite = [(e, v) for e, v in zip(epochs, values, strict=True) if not math.isnan(v)]
        if column.startswith("val_") and finite:
            pick = min if name.endswith("loss") else max
            best_epoch, best = pick(finite, key=lambda ev: ev[1])
            text += f" (best {best:.3f} @ {best_epoch})"
        (line,) = ax.plot(
            epochs,
            values,
            linestyle="--" if column.startswith("train_") else "-",
            marker="o" if len(values) <= 30 else None,
            markersize=3,
            color=colour,
            label=text,
        )
        colour = line.get_color()  # train and val of one run share a colour
    ax.set_xlabel("epoch")
    ax.set_ylabel(name)
    ax.set_title(name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_history(
    history: History | Mapping[str, Sequence[float]],
    names: Sequence[str] | None = None,
    *,
    axes: Any = None,
    label: str | None = None,
) -> np.ndarray:
    """Loss and metric curves, one panel per quantity, train vs validation in each.

    Args:
        history: a ``History`` or a dict of lists with ``train_<name>`` / ``val_<name>`` columns.
        names: quantities to draw, e.g. ``["loss", "accuracy"]``; by default every name that has
            a ``train_`` or ``val_`` column, loss first.
        axes: one axes per name; a new figure of one row when ``None``.
        label: the run's name in the legends (call again on the same axes to compare runs).

    Returns:
        The axes drawn on, a 1-D array of ``len(names)``.

    >>> axes = plot_history({"train_loss": [1.0, 0.6], "val_loss": [1.1, 0.8],
    ...                      "val_accuracy": [0.5, 0.7]})
    >>> [ax.get_title() for ax in axes]
    ['loss', 'accuracy']
    """
    columns = _columns(history)
    if names is None:
        found = [c.split("_", 1)[1] for c in columns if c.startswith(("train_", "val_"))]
        names = sorted(dict.fromkeys(found), key=lambda n: n != "loss")
        if not names:
            raise ValueError(
                f"This history has no train_<name> or val_<name> columns to plot. It has: "
                f"{', '.join(columns)}. Use plot_curves(history, name) for another column."
            )
    if isinstance(names, str):
        names = [names]
    if axes is None:
        _, axes = plt.subplots(
            1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False, layout=_LAYOUT
        )
    flat = np.asarray(axes, dtype=object).ravel()
    if flat.size != len(names):
        raise ValueError(
            f"Got {flat.size} axes for {len(names)} panels ({', '.join(names)}); pass one axes "
            f"per name."
        )
    for ax, name in zip(flat, names, strict=True):
        plot_curves(history, name, ax=ax, label=label)
    return flat
