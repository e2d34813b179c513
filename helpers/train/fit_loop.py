"""The training loop, ``fit``: one plain function that reads top-down.

It is written here rather than taken from a framework (Lightning, Ignite) on purpose: the course
asks students to read and reason about a training loop, so it must be one plain function that
reads top-down, with the kit's own value on top (history, early stopping, best checkpoint,
experiment log, quiet progress under the autograder). ``bench/train_overhead.py`` measures its
cost against a bare PyTorch loop on the same model and data.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from helpers.experiments import ExperimentLog
from helpers.history import History
from helpers.train.batches import _length
from helpers.train.best_epoch import _check_monitor, _improves, _save_state
from helpers.train.devices import _resolve_device
from helpers.train.epoch import _run_epoch
from helpers.train.metric_protocol import Metric, _check_metrics
from helpers.train.precision import _Precision
from helpers.train.progress import _progress_bar, progress_enabled
from helpers.train.threads import configure_cpu_threads


def _step_per_epoch(scheduler: Any, value: float) -> None:
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(value)  # it needs the monitored number; the others count epochs
    else:
        scheduler.step()


def _describe(thing: Any) -> str:
    return getattr(thing, "__name__", None) or type(thing).__name__


def fit(
    model: nn.Module,
    train_data: Iterable,
    val_data: Iterable | None = None,
    *,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    epochs: int,
    metrics: Mapping[str, Metric] | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    scheduler_step: Literal["epoch", "batch"] = "epoch",
    monitor: str = "val_loss",
    mode: Literal["min", "max"] | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    checkpoint_path: str | Path | None = None,
    device: str | torch.device | None = None,
    mixed_precision: bool | None = None,
    train_metrics: bool = True,
    progress: bool | None = None,
    log: ExperimentLog | str | Path | None = None,
    run_name: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> History:
    """Train ``model`` for up to ``epochs`` epochs and return its per-epoch history.

    Each epoch trains on every batch of ``train_data``, then measures ``val_data`` in eval mode
    without gradients. The returned :class:`History` has one row per epoch: ``epoch``,
    ``train_loss`` (mean per sample over the epoch, measured during training), ``val_loss``,
    ``train_<metric>`` and ``val_<metric>`` for each metric, ``lr`` (the learning rate the epoch
    used) and ``seconds``. Plot it with ``helpers.plots``.

    Args:
        model: the network; moved to ``device`` (the optimizer's parameters move with it).
        train_data, val_data: DataLoaders or any re-iterable collections of ``(inputs, targets)``
            batches (read once per epoch, so not a generator), e.g. ``InMemoryLoader``.
        loss_fn: ``loss_fn(outputs, targets)`` -> the batch's mean loss, a 0-d tensor, e.g.
            ``nn.CrossEntropyLoss()`` (single label) or ``nn.BCEWithLogitsLoss()`` (multi-label).
        optimizer: built on the model's (trainable) parameters.
        epochs: the most epochs to train (early stopping may stop sooner).
        metrics: name -> metric, e.g. ``{"accuracy": Accuracy()}``; see :class:`Metric`.
        scheduler: a learning-rate scheduler, stepped after every epoch (``ReduceLROnPlateau``
            gets the ``monitor`` value) or, with ``scheduler_step="batch"``, after every batch
            (``OneCycleLR``).
        monitor: the column that decides the best epoch, for early stopping and the best
            checkpoint; ``val_loss`` by default (``train_loss`` when there is no ``val_data``).
        mode: ``"min"`` or ``"max"``; by default losses are minimised, metrics maximised.
        patience: stop after this many epochs without improvement of ``monitor`` (by more than
            ``min_delta``); ``None`` trains all ``epochs``.
        restore_best: load the best epoch's weights into ``model`` before returning (kept in CPU
            memory during training).
        checkpoint_path: also save the best weights there (a ``state_dict``: load it with
            ``model.load_state_dict(torch.load(path))``), rewritten at each improvement.
        device: ``None`` keeps a model already on a GPU there, else :func:`pick_device`.
        mixed_precision: autocast on CUDA (bfloat16, or float16 with loss scaling); ``None``
            means on for CUDA. Other devices always train in float32.
        train_metrics: also measure the metrics on the training batches (as they are trained:
            dropout on, weights changing), which costs a little time.
        progress: progress bars; see :func:`progress_enabled` (never under the autograder).
        log: an :class:`~helpers.experiments.ExperimentLog` or the path of its JSON-lines file:
            the run's ``config``, history and best row are appended to it at the end.
        run_name: the run's name in the log (say what it changes: ``"lr 0.01"``).
        config: the settings that define the run, for the log and ``ablation_table``.

    Returns:
        The :class:`History`; fewer rows than ``epochs`` when training stopped early.

    A non-finite training loss (the learning rate is often too high) stops training with a
    warning; the history so far is returned and the best weights restored.

    >>> model = nn.Linear(2, 2)
    >>> batches = [(torch.randn(8, 2), torch.randint(0, 2, (8,)))] * 3
    >>> history = fit(model, batches, batches, loss_fn=nn.CrossEntropyLoss(),
    ...               optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=2)
    >>> history.columns
    ['epoch', 'train_loss', 'val_loss', 'lr', 'seconds']
    """
    device = _resolve_device(device, model)
    configure_cpu_threads(device)  # torch's default thread count collapses on a busy machine
    model.to(device)
    metrics = _check_metrics(metrics)
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    if patience is not None and patience < 1:
        raise ValueError(
            f"patience must be at least 1 (or None for no early stopping), got {patience}."
        )
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"scheduler_step must be 'epoch' or 'batch', not {scheduler_step!r}.")
    monitor = _check_monitor(monitor, val_data is not None, metrics, train_metrics)
    if mode is None:
        mode = "min" if monitor.endswith("loss") else "max"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', not {mode!r}.")
    checkpoint = Path(checkpoint_path) if checkpoint_path is not None else None
    precision = _Precision(device, mixed_precision)
    show = progress_enabled(progress)
    batch_scheduler = scheduler if scheduler_step == "batch" else None
    # Batches per epoch (training and validation share one bar); None when a loader has no len.
    n_train, n_val = _length(train_data), (_length(val_data) if val_data is not None else 0)
    batches = None if n_train is None or n_val is None else n_train + n_val

    history = History()
    skipped: set[str] = set()
    best_value: float | None = None
    best_epoch = 0
    best_state: dict[str, torch.Tensor] | None = None
    stopped_early = False
    was_training = model.training
    started = time.perf_counter()
    epoch_bar = _progress_bar(show, total=epochs, desc="fit", unit="epoch")
    try:
        for epoch in range(1, epochs + 1):
            epoch_started = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"]
            bar = _progress_bar(show, total=batches, desc=f"epoch {epoch}/{epochs}", leave=False)
            model.train()
            train = _run_epoch(
                model,
                train_data,
                device=device,
                precision=precision,
                loss_fn=loss_fn,
                metrics=metrics if train_metrics else {},
                bar=bar,
                skipped=skipped,
                optimizer=optimizer,
                batch_scheduler=batch_scheduler,
            )
            row = {f"train_{k}": v for k, v in train.items()}
            if val_data is not None:
                model.eval()
                bar.set_description(f"epoch {epoch}/{epochs} val")
                with torch.no_grad():
                    val = _run_epoch(
                        model,
                        val_data,
                        device=device,
                        precision=precision,
                        loss_fn=loss_fn,
                        metrics=metrics,
                        bar=bar,
                        skipped=skipped,
                    )
                row.update({f"val_{k}": v for k, v in val.items()})
            bar.close()
            if monitor not in row:
                raise ValueError(
                    f"monitor={monitor!r} is not among the columns this epoch measured: "
                    f"{', '.join(row)}. Pick one of those."
                )
            history.append(epoch=epoch, **row, lr=lr, seconds=time.perf_counter() - epoch_started)
            epoch_bar.update(1)
            epoch_bar.set_postfix({k: f"{v:.4g}" for k, v in row.items()}, refresh=True)

            value = row[monitor]
            if _improves(value, best_value, mode=mode, min_delta=min_delta):
                best_value, best_epoch = value, epoch
                if restore_best or checkpoint is not None:
                    state = model.state_dict()
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
                if checkpoint is not None:
                    _save_state(best_state, checkpoint)
            if scheduler is not None and scheduler_step == "epoch":
                _step_per_epoch(scheduler, value)

            if not math.isfinite(row["train_loss"]):
                warnings.warn(
                    f"The training loss became {row['train_loss']} at epoch {epoch}, so training "
                    "stopped. A learning rate that is too high is the usual cause: try one ten "
                    "times smaller.",
                    stacklevel=2,
                )
                stopped_early = True
                break
            if patience is not None and epoch - best_epoch >= patience:
                stopped_early = epoch < epochs
                break
    finally:
        epoch_bar.close()
        model.train(was_training)

    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    if log is not None:
        log = log if isinstance(log, ExperimentLog) else ExperimentLog(log)
        log.record(
            history,
            run=run_name,
            config=config,
            monitor=monitor,
            mode=mode,
            setup={
                "model": type(model).__name__,
                "parameters": sum(p.numel() for p in model.parameters()),
                "trainable_parameters": sum(
                    p.numel() for p in model.parameters() if p.requires_grad
                ),
                "optimizer": type(optimizer).__name__,
                "lr": history.epochs[0]["lr"],
                "loss": _describe(loss_fn),
                "batch_size": getattr(train_data, "batch_size", None),
                "scheduler": _describe(scheduler) if scheduler is not None else None,
                "precision": str(precision),
            },
            device=str(device),
            seconds=time.perf_counter() - started,
            epochs_planned=epochs,
            stopped_early=stopped_early,
        )
    return history
