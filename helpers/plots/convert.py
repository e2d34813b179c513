"""Images and batches as matplotlib draws them; shared by every plot (and by helpers.widgets).

A single image is a tensor or array, float ``(C, H, W)`` in [0, 1] or uint8 ``(H, W, C)`` in
[0, 255], C = 1 or 3, or ``(H, W)``; a batch is ``(N, C, H, W)``, ``(N, H, W, C)``, ``(N, H, W)``
or a list of single images.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

#: What the plots take as images, labels or scores: a tensor, an array or a (nested) list.
ArrayLike = torch.Tensor | np.ndarray | Sequence[Any]


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def to_display_image(
    image: ArrayLike,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> np.ndarray:
    """One image as matplotlib wants it: float ``(H, W)`` (grey) or ``(H, W, 3)``, in [0, 1].

    ``image`` is a tensor or array: float ``(C, H, W)`` in [0, 1], uint8 ``(H, W, C)`` in
    [0, 255], or ``(H, W)``; C is 1 or 3. The layout is read from where the 1 or 3 sits; when
    both ends could be channels (a 3×H×3 image), float means CHW and uint8 means HWC.
    ``mean``/``std`` (one number per channel) undo a ``Normalize`` transform. Float values
    outside [0, 1] give a warning and are rescaled to fit.

    >>> to_display_image(torch.zeros(3, 4, 5)).shape
    (4, 5, 3)
    >>> to_display_image(np.full((28, 28), 255, dtype=np.uint8)).max()
    np.float32(1.0)
    """
    array = _to_numpy(image)
    if array.ndim == 3:
        first, last = array.shape[0] in (1, 3), array.shape[-1] in (1, 3)
        if first and (not last or array.dtype != np.uint8):
            array = np.moveaxis(array, 0, -1)
        elif not last:
            raise ValueError(
                f"Expected one image of shape (C, H, W) or (H, W, C) with C = 1 or 3, or (H, W); "
                f"got shape {tuple(array.shape)}. For a batch, pass it to a grid function such as "
                f"plot_image_grid, or index one image first (images[0])."
            )
    elif array.ndim != 2:
        raise ValueError(
            f"Expected one image of shape (C, H, W), (H, W, C) or (H, W); got shape "
            f"{tuple(array.shape)}."
        )
    integer_pixels = array.dtype == np.uint8 or np.issubdtype(array.dtype, np.integer)
    array = array.astype(np.float32) / 255.0 if integer_pixels else array.astype(np.float32)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if mean is not None or std is not None:
        channels = 1 if array.ndim == 2 else array.shape[-1]
        m = np.broadcast_to(np.asarray(0.0 if mean is None else mean, np.float32), (channels,))
        s = np.broadcast_to(np.asarray(1.0 if std is None else std, np.float32), (channels,))
        array = array * (s[0] if array.ndim == 2 else s) + (m[0] if array.ndim == 2 else m)
    if not np.isfinite(array).all():
        warnings.warn("This image holds NaN or inf values; they are drawn as black.", stacklevel=3)
        array = np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(array.min()), float(array.max())
    if low < -1e-3 or high > 1 + 1e-3:
        warnings.warn(
            f"Expected float pixels in [0, 1]; this image spans [{low:.2f}, {high:.2f}], so it is "
            f"rescaled to fit. If it was normalised, pass mean= and std= (the ones given to "
            f"Normalize) to draw its true colours.",
            stacklevel=3,
        )
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return np.clip(array, 0.0, 1.0)


def _image_list(images: ArrayLike) -> list[Any]:
    """Split a batch into single images (see the module docstring for accepted layouts)."""
    if isinstance(images, torch.Tensor | np.ndarray):
        if images.ndim in (3, 4):  # (N, H, W) grey, or (N, C, H, W) / (N, H, W, C)
            return list(images)
        if images.ndim == 2:
            return [images]
        raise ValueError(
            f"Expected a batch of images (N, C, H, W), (N, H, W, C) or (N, H, W); got shape "
            f"{tuple(images.shape)}."
        )
    if isinstance(images, Sequence) and not isinstance(images, str):
        return list(images)
    raise TypeError(
        f"Expected images as a tensor, a NumPy array or a list of images; got "
        f"{type(images).__name__}."
    )


def _first_images(images: list[Any], limit: int) -> list[Any]:
    if len(images) > limit:
        warnings.warn(
            f"Showing the first {limit} of {len(images)} images; pass a slice such as "
            f"images[:16] to choose which.",
            stacklevel=3,
        )
        return images[:limit]
    return images
