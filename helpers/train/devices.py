"""Which device to train on: the best one available, or the one asked for, checked."""

from __future__ import annotations

import torch
from torch import nn


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


def _resolve_device(device: str | torch.device | None, model: nn.Module) -> torch.device:
    """``device`` checked; ``None`` keeps a model that is already on an accelerator where it is
    and otherwise picks the best device available."""
    if device is None:
        parameter = next(model.parameters(), None)
        if parameter is not None and parameter.device.type != "cpu":
            return parameter.device
    return pick_device(device)
