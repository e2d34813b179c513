"""One pass over the data, shared by ``fit`` (training and validation) and ``evaluate``.

Returns the mean loss per sample and one column per metric number; the caller sets the model's
train/eval mode and the grad mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from helpers.train.batches import _batch_size, _float_outputs, _split_batch, _to_device
from helpers.train.metric_protocol import Metric, _metric_columns
from helpers.train.precision import _Precision
from helpers.train.progress import _NoBar


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
