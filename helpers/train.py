"""Training: seeding, device choice, the ``fit`` loop, ``evaluate`` and ``predict``.

The loop is written here rather than taken from a framework (Lightning, Ignite) on purpose: the
course asks students to read and reason about a training loop, so it must be one plain function
that reads top-down, with the kit's own value on top (history, early stopping, best checkpoint,
experiment log, quiet progress under the autograder). ``bench/train_overhead.py`` measures its
cost against a bare PyTorch loop on the same model and data.

Data arguments take a ``torch.utils.data.DataLoader`` or any iterable of ``(inputs, targets)``
batches, e.g. ``helpers.data.InMemoryLoader``; a batch is moved to the device only when it is not
already there. Metrics are any objects with ``reset()``, ``update(outputs, targets)`` and
``compute()`` (the :class:`Metric` protocol: ``helpers.metrics`` and torchmetrics both fit).

Progress bars (``tqdm.auto``: widgets in JupyterLab, text in a terminal) follow
:func:`progress_enabled`: never under the autograder (environment variable ``KIT_GRADING=1``),
otherwise shown in Jupyter and on a terminal, hidden when output goes to a file or a pipe.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from helpers.experiments import ExperimentLog
from helpers.history import History

__all__ = [
    "Metric",
    "evaluate",
    "fit",
    "pick_device",
    "predict",
    "progress_enabled",
    "seed_everything",
]


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


# ---------------------------------------------------------------------------------------------
# Seeds, devices, progress


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU, CUDA and MPS) with ``seed``.

    With ``deterministic=True`` cuDNN also picks deterministic algorithms and stops benchmarking
    (``torch.backends.cudnn.deterministic = True``, ``benchmark = False``): on the CPU the same
    seed then gives the same run; on a GPU a few operations (e.g. the backward pass of bilinear
    upsampling) stay nondeterministic, so expect tiny differences there. DataLoader workers are
    seeded from torch's generator, so shuffling and augmentation repeat too.

    >>> seed_everything(0); a = torch.rand(2)
    >>> seed_everything(0); bool((a == torch.rand(2)).all())
    True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds every CUDA and MPS device as well
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def _available(device: torch.device) -> bool:
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return False


def _indexed(device: torch.device) -> torch.device:
    """``cuda`` -> ``cuda:<current>``, ``mps`` -> ``mps:0``: the form ``tensor.device`` has, so
    that comparing a batch's device with it tells whether a copy is needed."""
    if device.index is not None or device.type == "cpu":
        return device
    if device.type == "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(device.type, 0)


def pick_device(preferred: str | torch.device | None = None) -> torch.device:
    """The device to train on: CUDA when there is a GPU, then Apple's MPS, then the CPU.

    Args:
        preferred: ``None`` or ``"auto"`` picks as above; a name such as ``"cpu"``, ``"cuda"``,
            ``"cuda:1"`` or ``"mps"`` is checked and returned (the autograder passes its
            ``DEVICE`` parameter this way).

    Raises:
        RuntimeError: the preferred device is not available on this machine.

    >>> pick_device("cpu")
    device(type='cpu')
    """
    if preferred is None or preferred == "auto":
        if torch.cuda.is_available():
            return _indexed(torch.device("cuda"))
        if torch.backends.mps.is_available():
            return torch.device("mps", 0)
        return torch.device("cpu")
    try:
        device = torch.device(preferred)
    except RuntimeError as error:
        raise RuntimeError(
            f"{preferred!r} is not a device name. Use 'cpu', 'cuda', 'cuda:0', 'mps' or 'auto'."
        ) from error
    if not _available(device):
        raise RuntimeError(
            f"Device {str(device)!r} was asked for, but this machine does not have it "
            f"(CUDA GPUs: {torch.cuda.device_count()}, MPS: {torch.backends.mps.is_available()}). "
            "Use pick_device() to take the best one available, or 'cpu'."
        )
    return _indexed(device)


def _in_jupyter() -> bool:
    """Whether this code runs in a Jupyter kernel (JupyterLab, papermill), not a terminal."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to draw progress bars.

    Under the autograder (environment variable ``KIT_GRADING`` set to ``1``, ``true`` or
    ``yes``) never, even with ``progress=True``, so that no student notebook can flood the
    grading log. Otherwise ``progress`` when given; else yes in a Jupyter kernel or when stderr
    is a terminal, no when it goes to a file or a pipe (scripts, CI, pytest).

    >>> progress_enabled(False)
    False
    """
    if os.environ.get("KIT_GRADING", "").strip().lower() in {"1", "true", "yes"}:
        return False
    if progress is not None:
        return bool(progress)
    return _in_jupyter() or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())


class _NoBar:
    """Stands in for a hidden progress bar. Why not ``tqdm(disable=True)``: creating one costs
    about 0.1 ms, which fit would pay per epoch for nothing."""

    disable = True

    def update(self, n: int = 1) -> None: ...

    def set_postfix(self, *args: Any, **kwargs: Any) -> None: ...

    def set_description(self, desc: str) -> None: ...

    def close(self) -> None: ...


def _progress_bar(
    show: bool, *, total: int | None, desc: str, unit: str = "batch", leave: bool = True
) -> tqdm | _NoBar:
    """A ``tqdm.auto`` bar (a widget in Jupyter, text on a terminal), or a silent stand-in."""
    if not show:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True)


# ---------------------------------------------------------------------------------------------
# Batches, metrics and precision: the pieces the loops share


def _to_device(data: Any, device: torch.device) -> Any:
    """Tensors (also inside tuples, lists and dicts) moved to ``device``; a tensor already there
    is returned as it is, so on-device loaders cost nothing here."""
    if isinstance(data, torch.Tensor):
        if data.device == device:
            return data
        return data.to(device, non_blocking=device.type == "cuda")
    if isinstance(data, tuple | list):
        return type(data)(_to_device(d, device) for d in data)
    if isinstance(data, Mapping):
        return {k: _to_device(v, device) for k, v in data.items()}
    return data


def _split_batch(batch: Any) -> tuple[Any, Any]:
    """``(inputs, targets)`` of one batch, with a clear error when a batch is something else."""
    if isinstance(batch, tuple | list) and len(batch) == 2:
        return batch[0], batch[1]
    what = (
        f"a {type(batch).__name__} of length {len(batch)}"
        if isinstance(batch, tuple | list)
        else f"a {type(batch).__name__}"
    )
    raise TypeError(
        f"Each batch must be a pair (inputs, targets), got {what}. A Dataset's __getitem__ "
        "should return (image, target); for a dataset that returns more, wrap it or write a "
        "collate_fn that keeps the two."
    )


def _first_tensor(data: Any) -> torch.Tensor | None:
    """The first tensor in ``data`` (itself, or inside tuples, lists and dicts)."""
    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, Mapping):
        data = list(data.values())
    if isinstance(data, tuple | list):
        for value in data:
            found = _first_tensor(value)
            if found is not None:
                return found
    return None


def _batch_size(inputs: Any) -> int:
    tensor = _first_tensor(inputs)
    if tensor is None or tensor.ndim == 0:
        raise TypeError(
            f"Could not find the batch size: the inputs of a batch are a {type(inputs).__name__} "
            "holding no tensor with a batch axis. Inputs should be a tensor (B, ...)."
        )
    return int(tensor.shape[0])


def _float_outputs(outputs: Any) -> Any:
    """Detached float32 outputs for metrics (mixed precision gives float16 or bfloat16)."""
    if isinstance(outputs, torch.Tensor):
        outputs = outputs.detach()
        return outputs.float() if outputs.is_floating_point() else outputs
    if isinstance(outputs, tuple | list):
        return type(outputs)(_float_outputs(o) for o in outputs)
    if isinstance(outputs, Mapping):
        return {k: _float_outputs(v) for k, v in outputs.items()}
    return outputs


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


class _Precision:
    """Mixed precision on CUDA: bfloat16 autocast where the GPU supports it (no loss scaling
    needed), float16 with a GradScaler elsewhere; float32 on every other device."""

    def __init__(self, device: torch.device, enabled: bool | None) -> None:
        if enabled and device.type != "cuda":
            warnings.warn(
                f"Mixed precision is used on CUDA only; training in float32 on {device}.",
                stacklevel=3,
            )
        self.enabled = device.type == "cuda" and enabled is not False
        self.dtype = (
            torch.bfloat16 if self.enabled and torch.cuda.is_bf16_supported() else torch.float16
        )
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.enabled and self.dtype == torch.float16
        )

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.dtype)

    def __str__(self) -> str:
        return str(self.dtype).removeprefix("torch.") if self.enabled else "float32"


def _length(data: Iterable) -> int | None:
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:
        return None


def _run_epoch(
    model: nn.Module,
    data: Iterable,
    *,
    device: torch.device,
    precision: _Precision,
    loss_fn: Callable[[Any, Any], torch.Tensor] | None,
    metrics: Mapping[str, Metric],
    bar: tqdm | _NoBar,
    skipped: set[str],
    optimizer: torch.optim.Optimizer | None = None,
    batch_scheduler: Any = None,
) -> dict[str, float]:
    """One pass over ``data``: training when an optimizer is given, else evaluation (the caller
    sets ``model.train()``/``eval()`` and the grad mode). Returns ``loss`` (mean per sample,
    when there is a ``loss_fn``) and one column per metric number."""
    for metric in metrics.values():
        metric.reset()
    # On a GPU the loss is summed on the device and read once at the end: reading it every batch
    # (loss.item()) would make the CPU wait for the GPU at every step. On the CPU there is no
    # waiting, and a Python float is the cheaper sum.
    on_cpu = device.type == "cpu"
    total_loss: float | torch.Tensor = 0.0 if on_cpu else torch.zeros((), device=device)
    seen = 0
    for step, batch in enumerate(data, 1):
        inputs, targets = _split_batch(batch)
        inputs, targets = _to_device(inputs, device), _to_device(targets, device)
        if optimizer is not None:
            # Before the forward pass, as in PyTorch's examples: the old gradients' memory is
            # free again for the activations, which lowers the peak memory of a step.
            optimizer.zero_grad(set_to_none=True)
        with precision.autocast():
            outputs = model(inputs)
            loss = loss_fn(outputs, targets) if loss_fn is not None else None
        if loss is not None and (not isinstance(loss, torch.Tensor) or loss.ndim != 0):
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(
                f"loss_fn must return one number per batch (a 0-d tensor), got {shape}. Use a "
                "loss with reduction='mean' (the default of nn.CrossEntropyLoss and friends)."
            )
        if optimizer is not None:
            precision.scaler.scale(loss).backward()
            precision.scaler.step(optimizer)
            precision.scaler.update()
            if batch_scheduler is not None:
                batch_scheduler.step()
        n = _batch_size(inputs)
        seen += n
        if loss is not None:
            total_loss += loss.item() * n if on_cpu else loss.detach().float() * n
        if metrics:
            float_outputs = _float_outputs(outputs)
            for metric in metrics.values():
                metric.update(float_outputs, targets)
        if not bar.disable:
            bar.update(1)
            if loss is not None and step % 10 == 0:
                bar.set_postfix(loss=f"{float(total_loss) / seen:.4g}", refresh=False)
    if seen == 0:
        raise ValueError(
            "The data gave no batches. Check the dataset's length and the loader's batch_size "
            "(drop_last=True with fewer samples than one batch gives none). A generator can be "
            "read only once: pass a list of batches or a DataLoader, which fit reads each epoch."
        )
    row: dict[str, float] = {}
    if loss_fn is not None:
        row["loss"] = float(total_loss) / seen
    for name, metric in metrics.items():
        row.update(_metric_columns(name, metric.compute(), skipped))
    return row


def _resolve_device(device: str | torch.device | None, model: nn.Module) -> torch.device:
    """``device`` checked; ``None`` keeps a model that is already on an accelerator where it is
    and otherwise picks the best device available."""
    if device is None:
        parameter = next(model.parameters(), None)
        if parameter is not None and parameter.device.type != "cpu":
            return parameter.device
    return pick_device(device)


# ---------------------------------------------------------------------------------------------
# Public entry points


def evaluate(
    model: nn.Module,
    data: Iterable,
    *,
    loss_fn: Callable[[Any, Any], torch.Tensor] | None = None,
    metrics: Mapping[str, Metric] | None = None,
    device: str | torch.device | None = None,
    mixed_precision: bool | None = None,
    progress: bool | None = None,
) -> dict[str, float]:
    """The mean loss and the metrics of ``model`` on ``data``, without storing its outputs
    (use it for segmentation, where all of ``predict``'s score maps may not fit in memory).

    Returns:
        ``{"loss": ..., "<metric>": ...}`` (``loss`` only with a ``loss_fn``); the model is left
        in the train/eval mode it came in.
    """
    device = _resolve_device(device, model)
    model.to(device)
    precision = _Precision(device, mixed_precision)
    was_training = model.training
    model.eval()
    bar = _progress_bar(progress_enabled(progress), total=_length(data), desc="evaluate")
    try:
        with torch.no_grad():
            return _run_epoch(
                model,
                data,
                device=device,
                precision=precision,
                loss_fn=loss_fn,
                metrics=_check_metrics(metrics),
                bar=bar,
                skipped=set(),
            )
    finally:
        bar.close()
        model.train(was_training)


def predict(
    model: nn.Module,
    data: Iterable,
    *,
    device: str | torch.device | None = None,
    mixed_precision: bool | None = None,
    postprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
    return_targets: bool = False,
    progress: bool | None = None,
) -> torch.Tensor | tuple[torch.Tensor, Any]:
    """The model's outputs (scores, e.g. logits) for every sample of ``data``, in order.

    Args:
        model: any ``nn.Module``; run in eval mode without gradients, then put back in the mode
            it came in.
        data: a DataLoader or iterable of batches: ``(inputs, targets)`` pairs, ``[inputs]`` (a
            ``TensorDataset`` of images only), or bare input tensors.
        postprocess: applied to each batch's outputs on the device before they are kept, to
            save memory, e.g. ``lambda s: s.argmax(1)`` for (N, H, W) segmentation maps.
        return_targets: also return the targets, concatenated the same way.

    Returns:
        Outputs concatenated over batches on the CPU, e.g. float32 (N, K) for a classifier
        (float32 even under mixed precision); with ``return_targets``, ``(outputs, targets)``
        (targets concatenated when they are tensors, else a list with one item per batch).
    """
    device = _resolve_device(device, model)
    model.to(device)
    precision = _Precision(device, mixed_precision)
    was_training = model.training
    model.eval()
    kept: list[torch.Tensor] = []
    targets: list[Any] = []
    bar = _progress_bar(progress_enabled(progress), total=_length(data), desc="predict")
    try:
        with torch.no_grad():
            for batch in data:
                if isinstance(batch, torch.Tensor):
                    inputs, target = batch, None
                elif isinstance(batch, tuple | list) and len(batch) == 1:
                    inputs, target = batch[0], None
                else:
                    inputs, target = _split_batch(batch)
                with precision.autocast():
                    outputs = model(_to_device(inputs, device))
                outputs = _float_outputs(outputs)
                if postprocess is not None:
                    outputs = postprocess(outputs)
                kept.append(outputs.cpu())
                targets.append(target)
                bar.update(1)
    finally:
        bar.close()
        model.train(was_training)
    if not kept:
        raise ValueError("The data gave no batches, so there is nothing to predict.")
    scores = torch.cat(kept)
    if not return_targets:
        return scores
    if all(isinstance(t, torch.Tensor) for t in targets):
        return scores, torch.cat([t.cpu() for t in targets])
    return scores, targets


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


def _step_per_epoch(scheduler: Any, value: float) -> None:
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(value)  # it needs the monitored number; the others count epochs
    else:
        scheduler.step()


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
