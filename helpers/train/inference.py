"""A trained model on data: ``evaluate`` (mean loss and metrics) and ``predict`` (its outputs).

Both run in eval mode without gradients and leave the model in the mode it came in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn

from helpers.train.batches import _float_outputs, _length, _split_batch, _to_device
from helpers.train.devices import _resolve_device
from helpers.train.epoch import _run_epoch
from helpers.train.metric_protocol import Metric, _check_metrics
from helpers.train.precision import _Precision
from helpers.train.progress import _progress_bar, progress_enabled
from helpers.train.threads import configure_cpu_threads


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
    configure_cpu_threads(device)  # the grader predicts without training: set it here too
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
    configure_cpu_threads(device)  # the grader predicts without training: set it here too
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
