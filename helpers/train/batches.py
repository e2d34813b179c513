"""Batches as the loops need them: split into ``(inputs, targets)``, moved to the device, sized.

A batch is a pair ``(inputs, targets)``; inputs are a tensor ``(B, ...)`` (or tuples, lists and
dicts holding tensors). A batch already on the device is not copied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch


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


def _length(data: Iterable) -> int | None:
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:
        return None
