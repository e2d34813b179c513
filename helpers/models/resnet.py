"""ResNet-18 (torchvision's) with a new head for ``num_classes``, optionally ImageNet-pretrained."""

from __future__ import annotations

import torchvision
from torch import nn
from torchvision.models import ResNet, ResNet18_Weights

from helpers.models.pretrained import WeightsInfo, load_into, weights_info

__all__ = ["RESNET18_IMAGENET", "ResNet", "resnet18"]

RESNET18_IMAGENET: WeightsInfo = weights_info(ResNet18_Weights.IMAGENET1K_V1)
"""The ImageNet weights ``resnet18(pretrained=True)`` loads, with their reference accuracy."""


def resnet18(*, num_classes: int, pretrained: bool = False, progress: bool | None = None) -> ResNet:
    """torchvision's ResNet-18 with its last layer replaced by a fresh ``Linear(512, num_classes)``.

    Input: float32 (N, 3, H, W), any H, W >= 32 (224 is the usual size; global average pooling
    makes the features 512 numbers at any size). Output: float32 (N, num_classes) logits.

    Args:
        num_classes: outputs of the new head (``model.fc``).
        pretrained: start the other layers from the ImageNet weights :data:`RESNET18_IMAGENET`
            (read from ``$TORCH_HOME/hub/checkpoints``, downloaded there when missing). Feed them
            images prepared like ``RESNET18_IMAGENET.transforms()`` (ImageNet normalisation).
        progress: show a download bar; ``None`` follows ``helpers.train.progress_enabled``.

    The model's ``pretrained_weights`` attribute is the :class:`WeightsInfo` it started from, or
    ``None``. To train only the head: ``freeze_all_but(model, "fc")``.

    Raises:
        PretrainedWeightsError: ``pretrained=True``, the file is not cached and cannot be
            downloaded. The message names the file and the folder to put it in.
    """
    if pretrained:
        from helpers.train import progress_enabled

        model = torchvision.models.resnet18(weights=None)  # 1000 ImageNet classes, as saved
        load_into(model, RESNET18_IMAGENET.enum, progress=progress_enabled(progress))
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    else:
        model = torchvision.models.resnet18(weights=None, num_classes=num_classes)
    model.pretrained_weights = RESNET18_IMAGENET if pretrained else None
    return model
