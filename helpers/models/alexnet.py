"""AlexNet (torchvision's) with a new head for ``num_classes``, optionally ImageNet-pretrained."""

from __future__ import annotations

import torchvision
from torch import nn
from torchvision.models import AlexNet, AlexNet_Weights

from helpers.models.pretrained import WeightsInfo, load_into, weights_info

__all__ = ["ALEXNET_IMAGENET", "AlexNet", "alexnet"]

ALEXNET_IMAGENET: WeightsInfo = weights_info(AlexNet_Weights.IMAGENET1K_V1)
"""The ImageNet weights ``alexnet(pretrained=True)`` loads, with their reference accuracy."""


def alexnet(*, num_classes: int, pretrained: bool = False, progress: bool | None = None) -> AlexNet:
    """torchvision's AlexNet with its last layer replaced by a fresh ``Linear(4096, num_classes)``.

    Input: float32 (N, 3, H, W) with H, W >= 63 (224 is the usual size; an adaptive pool makes
    the features 256x6x6 at any size). Output: float32 (N, num_classes) logits.

    Args:
        num_classes: outputs of the new head.
        pretrained: start the other layers from the ImageNet weights :data:`ALEXNET_IMAGENET`
            (read from ``$TORCH_HOME/hub/checkpoints``, downloaded there when missing). Feed them
            images prepared like ``ALEXNET_IMAGENET.transforms()`` (ImageNet normalisation).
        progress: show a download bar; ``None`` follows ``helpers.train.progress_enabled``.

    The model's ``pretrained_weights`` attribute is the :class:`WeightsInfo` it started from, or
    ``None``.

    Raises:
        PretrainedWeightsError: ``pretrained=True``, the file is not cached and cannot be
            downloaded. The message names the file and the folder to put it in.
    """
    if pretrained:
        from helpers.train import progress_enabled

        model = torchvision.models.alexnet(weights=None)  # 1000 ImageNet classes, as saved
        load_into(model, ALEXNET_IMAGENET.enum, progress=progress_enabled(progress))
        head = model.classifier[6]
        model.classifier[6] = nn.Linear(head.in_features, num_classes)
    else:
        model = torchvision.models.alexnet(weights=None, num_classes=num_classes)
    model.pretrained_weights = ALEXNET_IMAGENET if pretrained else None
    return model
