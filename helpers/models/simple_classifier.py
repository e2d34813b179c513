"""``SimpleClassifier``: the multi-label PASCAL VOC network of the classification assignment.

Three valid (unpadded) convolutions, each followed by ReLU and 2x2 max pooling, then three fully
connected layers. On a 227x227 image the feature map shrinks as (floor division by the pool)::

    227 -conv 5x5-> 223 -pool 2-> 111 -conv 3x3-> 109 -pool 2-> 54 -conv 3x3-> 52 -pool 2-> 26

so the flattened features are 16*26*26 = 10816 numbers, the input size of the first fully
connected layer. ``input_size`` sizes that layer for other images (64 px: 16*6*6 = 576, the
size a3 trains at on a CPU); any other size breaks the count, so ``forward`` checks it.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["INPUT_SIZE", "SimpleClassifier", "simple_classifier"]

INPUT_SIZE = 227
"""Height and width, in pixels, of the images ``SimpleClassifier`` takes."""


class SimpleClassifier(nn.Module):
    """Multi-label image classifier: one logit per class (use ``BCEWithLogitsLoss``).

    Input: float32 (N, 3, 227, 227). Output: float32 (N, num_classes) logits; ``sigmoid`` of a
    logit is the probability that the class is present.

    >>> SimpleClassifier(num_classes=20)(torch.zeros(2, 3, 227, 227)).shape
    torch.Size([2, 20])
    >>> SimpleClassifier(num_classes=8, input_size=64)(torch.zeros(2, 3, 64, 64)).shape
    torch.Size([2, 8])
    """

    def __init__(self, num_classes: int = 20, input_size: int = INPUT_SIZE) -> None:
        super().__init__()
        self.input_size = input_size
        side = input_size
        for kernel in (5, 3, 3):  # each valid convolution takes kernel - 1, each pool halves
            side = (side - kernel + 1) // 2
        if side < 1:
            raise ValueError(f"input_size {input_size} is too small: use at least 22 pixels.")
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 32, kernel_size=3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 16, kernel_size=3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * side * side, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.input_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, size, size):
            raise ValueError(
                f"SimpleClassifier expects images of shape (N, 3, {size}, {size}), got "
                f"{tuple(x.shape)}. Resize or crop the images to {size}x{size} in the dataset's "
                "transform, or build it with input_size= the size you use (its first fully "
                "connected layer is sized for it)."
            )
        x = self.features(x)  # (N, 3, 227, 227) -> (N, 16, 26, 26), see the module docstring
        x = torch.flatten(x, 1)  # -> (N, 16*26*26) = (N, 10816) at 227 pixels
        return self.classifier(x)  # -> (N, 120) -> (N, 84) -> (N, num_classes)


def simple_classifier(*, num_classes: int = 20, input_size: int = INPUT_SIZE) -> SimpleClassifier:
    """A randomly initialised :class:`SimpleClassifier` (20 classes: PASCAL VOC's) for square
    images of ``input_size`` pixels."""
    return SimpleClassifier(num_classes=num_classes, input_size=input_size)
