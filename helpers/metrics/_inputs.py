"""Turning what users pass into tensors, and the wording that every metric's messages share.

Metrics take torch tensors on any device (CPU, CUDA, MPS) and NumPy arrays (the autograder reads
prediction files with NumPy). Everything funnels through :func:`as_tensor` so that NumPy input is
never copied when it need not be, gradients never reach a metric, and a wrong type gets the same
message everywhere.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

__all__ = ["as_tensor", "describe_values", "shape_str"]


def as_tensor(value: object, name: str) -> torch.Tensor:
    """``value`` as a tensor that shares memory with it where it can, detached from autograd.

    Args:
        value: a ``torch.Tensor`` (any device, any dtype), a NumPy array, or a nested list of
            numbers.
        name: the argument's name, for the error message.

    Returns:
        A tensor on ``value``'s device (CPU for NumPy input), never requiring grad.

    >>> as_tensor(np.array([[1, 0], [0, 1]], dtype=np.uint8), "targets")
    tensor([[1, 0],
            [0, 1]], dtype=torch.uint8)
    """
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, list | tuple):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"Expected `{name}` to be a torch.Tensor or a NumPy array but got "
            f"{type(value).__name__}. Convert it with torch.as_tensor(...) or np.asarray(...)."
        )
    if value.dtype.kind not in "biuf":
        raise TypeError(
            f"Expected `{name}` to hold numbers (bool, int or float) but its NumPy dtype is "
            f"{value.dtype}. Convert it, e.g. with `.astype(np.float32)`."
        )
    if not value.dtype.isnative:  # big-endian files: torch only reads the machine's byte order
        value = value.astype(value.dtype.newbyteorder("="))
    if value.dtype.kind == "u" and value.dtype.itemsize > 1:  # torch's uint16/32/64 lack most ops
        value = value.astype(np.int64)
    if not value.flags.c_contiguous and any(s < 0 for s in value.strides):
        value = np.ascontiguousarray(value)  # torch.from_numpy refuses negative strides
    with warnings.catch_warnings():
        # Read-only arrays (np.load(mmap_mode="r"), np.broadcast_to) are fine: metrics never write
        # into their inputs, so torch's "not writable" warning would only confuse.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(value)


def shape_str(tensor: torch.Tensor) -> str:
    """A tensor's shape written the way the docstrings write shapes.

    >>> shape_str(torch.zeros(16, 6, 224, 224))
    '[16, 6, 224, 224]'
    """
    return "[" + ", ".join(str(n) for n in tensor.shape) + "]"


def describe_values(values: torch.Tensor | np.ndarray, limit: int = 8) -> str:
    """The distinct values of ``values``, sorted, for a message; at most ``limit`` are listed.

    >>> describe_values(torch.tensor([5, 2, 5, 7]))
    '2, 5, 7'
    >>> describe_values(torch.arange(20), limit=3)
    '0, 1, 2, ... (20 distinct values)'
    """
    if torch.is_tensor(values):
        values = values.detach().cpu()
        values = values.float() if values.dtype == torch.bfloat16 else values  # NumPy lacks it
    distinct = np.unique(np.asarray(values)).tolist()
    shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in distinct[:limit])
    if len(distinct) > limit:
        shown += f", ... ({len(distinct)} distinct values)"
    return shown
