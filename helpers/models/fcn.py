"""FCN-ResNet18: a fully convolutional segmentation network on a ResNet-18 backbone.

torchvision ships FCN only on ResNet-50/101, too heavy for a course GPU budget. This is the same
design (Long et al., "Fully Convolutional Networks for Semantic Segmentation", as torchvision's
``FCN`` builds it) on ResNet-18: the backbone's last feature map (stride 32), torchvision's
``FCNHead`` for per-class scores, then bilinear upsampling back to the input's resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.fcn import FCNHead

from helpers.models.backbone_weights import BackboneWeights, choose_weights, load_backbone

__all__ = ["FCNResNet18", "fcn_resnet18"]


class FCNResNet18(nn.Module):
    """Semantic segmentation: a score per class for every pixel.

    Input: float32 (N, 3, H, W), any H, W >= 32. Output: float32 (N, num_classes, H, W) logits,
    the input's resolution; ``output.argmax(1)`` is the (N, H, W) map of predicted classes, the
    shape ``CrossEntropyLoss`` compares with int64 (N, H, W) masks.

    >>> FCNResNet18(num_classes=21)(torch.zeros(1, 3, 70, 90)).shape
    torch.Size([1, 21, 70, 90])
    """

    def __init__(self, num_classes: int = 21, backbone: torchvision.models.ResNet | None = None):
        super().__init__()
        resnet = backbone if backbone is not None else torchvision.models.resnet18(weights=None)
        # Keep the ResNet up to layer4; its average pooling and fc are not used.
        self.backbone = IntermediateLayerGetter(resnet, return_layers={"layer4": "out"})
        self.head = FCNHead(in_channels=512, channels=num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"FCNResNet18 expects images of shape (N, 3, H, W), got {tuple(x.shape)}. "
                "A single image needs a batch axis (x[None])."
            )
        size = x.shape[-2:]
        features = self.backbone(x)["out"]  # (N, 3, H, W) -> (N, 512, ceil(H/32), ceil(W/32))
        scores = self.head(features)  # -> (N, num_classes, ceil(H/32), ...)
        # -> (N, num_classes, H, W): back to the input's resolution, as torchvision's FCN does.
        return F.interpolate(scores, size=size, mode="bilinear", align_corners=False)


def fcn_resnet18(
    *,
    num_classes: int = 21,
    backbone_weights: BackboneWeights = None,
    pretrained_backbone: bool = False,
    progress: bool | None = None,
) -> FCNResNet18:
    """An :class:`FCNResNet18` (21 classes: PASCAL VOC's 20 and background).

    Args:
        num_classes: output channels, one per class (background included).
        backbone_weights: where the ResNet-18 backbone starts from, as ``weights`` of
            :func:`helpers.models.resnet18`: ``None`` (random), ``"imagenet"``, ``"kit"`` (the
            kit's own, works offline) or ``"auto"`` (ImageNet's when cached, else the kit's).
            The head always starts random.
        pretrained_backbone: the older switch: ``True`` is ``backbone_weights="imagenet"``.
        progress: show a download bar; ``None`` follows ``helpers.train.progress_enabled``.

    The model's ``pretrained_weights`` attribute is the backbone's weights card (its
    ``normalize`` is what images need), or ``None``.

    Raises:
        PretrainedWeightsError: the backbone's weight file is missing or broken.
        ValueError: an unknown ``backbone_weights`` value.
    """
    card = choose_weights(
        backbone_weights, pretrained=pretrained_backbone, argument="backbone_weights"
    )
    resnet = torchvision.models.resnet18(weights=None)
    if card is not None:
        from helpers.train import progress_enabled

        load_backbone(resnet, card, progress=progress_enabled(progress))
    model = FCNResNet18(num_classes=num_classes, backbone=resnet)
    model.pretrained_weights = card
    return model
