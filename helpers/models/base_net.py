"""``BaseNet``: the small Fashion-MNIST network of the first assignment.

Two valid (unpadded) 5x5 convolutions, each followed by ReLU and 2x2 max pooling, then two fully
connected layers. On a 28x28 image::

    28 -conv 5x5-> 24 -pool 2-> 12 -conv 5x5-> 8 -pool 2-> 4

so the flattened features are 12*4*4 = 192 numbers, the input size of the first fully connected
layer.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["INPUT_SIZE", "BaseNet", "base_net"]

INPUT_SIZE = 28
"""Height and width, in pixels, of the images ``BaseNet`` takes (Fashion-MNIST's)."""


class BaseNet(nn.Module):
    """Single-label classifier for 28x28 grey images: one logit per class (use
    ``CrossEntropyLoss``).

    Input: float32 (N, 1, 28, 28). Output: float32 (N, num_classes) logits.

    >>> BaseNet()(torch.zeros(5, 1, 28, 28)).shape
    torch.Size([5, 10])
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 12, kernel_size=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(12 * 4 * 4, 12),
            nn.ReLU(inplace=True),
            nn.Linear(12, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(
                f"BaseNet expects images of shape (N, 1, {INPUT_SIZE}, {INPUT_SIZE}), got "
                f"{tuple(x.shape)}. A single image needs a batch axis (x[None]); grey images "
                "need a channel axis (x[:, None])."
            )
        x = self.features(x)  # (N, 1, 28, 28) -> (N, 12, 4, 4), see the module docstring
        x = torch.flatten(x, 1)  # -> (N, 192)
        return self.classifier(x)  # -> (N, 12) -> (N, num_classes)


def base_net(*, num_classes: int = 10) -> BaseNet:
    """A randomly initialised :class:`BaseNet` (10 classes: Fashion-MNIST's)."""
    return BaseNet(num_classes=num_classes)
