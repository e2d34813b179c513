"""ResNet-18 (torchvision's) with a new head for ``num_classes``, from random, ImageNet's or the
kit's own pretrained weights."""

from __future__ import annotations

import torchvision
from torchvision.models import ResNet, ResNet18_Weights

from helpers.models.backbone_weights import BackboneWeights, choose_weights, load_backbone
from helpers.models.kit_backbone import RESNET18_KIT
from helpers.models.pretrained import WeightsInfo, weights_info

__all__ = ["RESNET18_IMAGENET", "RESNET18_KIT", "ResNet", "resnet18"]

RESNET18_IMAGENET: WeightsInfo = weights_info(ResNet18_Weights.IMAGENET1K_V1)
"""The ImageNet weights ``weights="imagenet"`` (or ``pretrained=True``) loads, with their
reference accuracy."""


def resnet18(
    *,
    num_classes: int,
    weights: BackboneWeights = None,
    pretrained: bool = False,
    progress: bool | None = None,
) -> ResNet:
    """torchvision's ResNet-18 with its last layer replaced by a fresh ``Linear(512, num_classes)``.

    Input: float32 (N, 3, H, W), any H, W >= 32 (global average pooling makes the features 512
    numbers at any size). Output: float32 (N, num_classes) logits.

    Args:
        num_classes: outputs of the new head (``model.fc``).
        weights: where every layer but the head starts from: ``None`` (random), ``"imagenet"``
            (:data:`RESNET18_IMAGENET`, from ``$TORCH_HOME/hub/checkpoints``, downloaded there
            when missing; 224 px images), ``"kit"`` (:data:`RESNET18_KIT`, the kit's own,
            shipped with ``helpers``, works offline; pretrained at 80 px) or ``"auto"``
            (ImageNet's when its file is already cached, else the kit's; never random).
        pretrained: the older switch: ``True`` is ``weights="imagenet"``.
        progress: show a download bar; ``None`` follows ``helpers.train.progress_enabled``.

    The model's ``pretrained_weights`` attribute is the card of the weights it started from
    (``print`` it: which weights, what they scored), or ``None``. Prepare images the way they
    were trained with ``model.pretrained_weights.transforms()`` (resize and normalise) or just
    ``model.pretrained_weights.normalize`` (for float images already of a suitable size). To
    train only the head: ``freeze_all_but(model, "fc")``.

    Raises:
        PretrainedWeightsError: the weight file is missing (and, for ImageNet's, cannot be
            downloaded) or broken. The message names the file and how to get it.
        ValueError: an unknown ``weights`` value, or ``pretrained=True`` with other weights.
    """
    card = choose_weights(weights, pretrained=pretrained)
    model = torchvision.models.resnet18(weights=None, num_classes=num_classes)
    if card is not None:
        from helpers.train import progress_enabled

        load_backbone(model, card, progress=progress_enabled(progress))
    model.pretrained_weights = card
    return model
