"""A fast mini-batch loader for data that fits in memory, with optional on-device augmentation.

torchvision's ``Dataset`` + ``DataLoader`` turn every image into a tensor one at a time in Python
and collate the batch afterwards: right for datasets read from disk, slow for Fashion-MNIST, which
is 47 MB. ``InMemoryLoader`` keeps the whole set as one uint8 tensor on the target device (the
GPU when there is one) and cuts batches by indexing it, so an epoch costs a handful of tensor
operations per batch. ``bench/data_loader.py`` measures the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

__all__ = ["InMemoryLoader", "random_flip", "random_shift"]

BatchTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image left-right with probability 1/2.

    Args:
        images: float (B, C, H, W) on any device.
        generator: a ``torch.Generator`` on the same device, for repeatable draws.

    Returns:
        float (B, C, H, W), the same device.
    """
    flip = torch.rand(images.shape[0], device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def random_shift(
    images: torch.Tensor, generator: torch.Generator, *, max_shift: int = 2
) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels in each direction, filling with zeros
    (a random crop of the zero-padded image, as ``RandomCrop(28, padding=2)`` does).

    Args:
        images: float (B, C, H, W) on any device.
        generator: a ``torch.Generator`` on the same device.

    Returns:
        float (B, C, H, W), the same device.
    """
    b, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, b), device=images.device, generator=generator)
    rows = (dy[:, None] + torch.arange(h, device=images.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, None, :]
    batch = torch.arange(b, device=images.device)[:, None, None, None]
    channel = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


class InMemoryLoader:
    """Shuffled mini-batches of an in-memory image set, already on the target device.

    Iterating gives ``(images, labels)`` per batch: images float32 (B, C, H, W) scaled to [0, 1]
    (then normalised if ``mean``/``std`` are given), labels int64 (B,) (or whatever dtype and
    trailing shape ``labels`` had, e.g. multi-hot (B, K)).

    Args:
        images: uint8 (N, H, W) or (N, C, H, W), NumPy or torch, values 0..255.
        labels: (N, ...) NumPy or torch; integer class labels or multi-hot targets.
        batch_size: images per batch.
        shuffle: a new random order every epoch (repeatable: the order depends on ``seed`` and
            the epoch number).
        device: where batches are made; ``None`` picks CUDA when available, else the CPU.
        mean, std: per-channel normalisation applied after scaling to [0, 1], e.g.
            ``mean=(0.286,), std=(0.353,)`` for Fashion-MNIST.
        augment: a list of batch transforms ``f(images, generator) -> images`` run on the device
            in training, e.g. ``[random_flip, random_shift]``.
        drop_last: drop the last, smaller batch.
        seed: seeds the shuffling and augmentation.

    >>> loader = InMemoryLoader(np.zeros((10, 28, 28), np.uint8), np.arange(10), batch_size=4)
    >>> [tuple(x.shape) for x, _ in loader], len(loader)
    ([(4, 1, 28, 28), (4, 1, 28, 28), (2, 1, 28, 28)], 3)
    """

    def __init__(
        self,
        images: np.ndarray | torch.Tensor,
        labels: np.ndarray | torch.Tensor,
        *,
        batch_size: int = 128,
        shuffle: bool = False,
        device: str | torch.device | None = None,
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
        augment: list[BatchTransform] | None = None,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        images = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
        labels = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels)
        if images.dtype != torch.uint8:
            raise TypeError(
                f"images must be uint8 pixel values 0..255, got dtype {images.dtype}. "
                "Pass the raw images (e.g. fashion_mnist('train').images), not scaled floats."
            )
        if images.ndim == 3:
            images = images[:, None]  # (N, H, W) -> (N, 1, H, W)
        if images.ndim != 4 or len(images) != len(labels):
            raise ValueError(
                f"Expected images (N, H, W) or (N, C, H, W) and labels (N, ...) with the same N; "
                f"got images {tuple(images.shape)} and labels {tuple(labels.shape)}."
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        # uint8 on the device: a quarter of the memory of float32; scaled per batch.
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.augment = list(augment or [])
        self.seed = seed
        self.epoch = 0
        channels = images.shape[1]
        self._mean = self._per_channel(mean, channels, "mean")
        self._std = self._per_channel(std, channels, "std")

    def _per_channel(self, values, channels: int, name: str) -> torch.Tensor | None:
        if values is None:
            return None
        values = torch.as_tensor(values, dtype=torch.float32, device=self.device).flatten()
        if values.numel() not in (1, channels):
            raise ValueError(f"{name} needs 1 or {channels} values, got {values.numel()}.")
        return values.reshape(1, -1, 1, 1)

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1
        if self.shuffle:
            order = torch.randperm(n, device=self.device, generator=generator)
        else:
            order = torch.arange(n, device=self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            images = self.images[index].float().div_(255)
            for transform in self.augment:
                images = transform(images, generator)
            if self._mean is not None:
                images = images.sub_(self._mean)
            if self._std is not None:
                images = images.div_(self._std)
            yield images, self.labels[index]
