"""Which pretrained weights a ResNet-18 starts from: None, "imagenet", "kit" or "auto".

One job: turn the ``weights=`` argument of :func:`helpers.models.resnet18` (and
``backbone_weights=`` of :func:`helpers.models.fcn_resnet18`) into a weights card, and load that
card's tensors into a torchvision ResNet-18 whatever its head.

- ``None``: random initialisation.
- ``"imagenet"``: torchvision's ImageNet file (:data:`~helpers.models.RESNET18_IMAGENET`), from
  ``$TORCH_HOME/hub/checkpoints`` or downloaded there.
- ``"kit"``: the kit's own backbone (:data:`~helpers.models.RESNET18_KIT`), shipped inside
  ``helpers``; works offline.
- ``"auto"``: ImageNet's when its file is already in torchvision's cache (no download is tried),
  else the kit's. Never random: a missing or broken kit file raises.

A card itself (``RESNET18_IMAGENET``, ``RESNET18_KIT``) is accepted too, as torchvision accepts
its weight enums.
"""

from __future__ import annotations

from typing import Literal

import torch
from torchvision.models import ResNet

from helpers.models import kit_backbone
from helpers.models.kit_backbone import KitWeightsInfo
from helpers.models.pretrained import (
    PretrainedWeightsError,
    WeightsInfo,
    checkpoint_folder,
    load_into,
)

__all__ = ["WEIGHT_CHOICES", "BackboneWeights", "choose_weights", "load_backbone"]

#: The names ``weights=`` accepts, besides ``None`` and a card.
WEIGHT_CHOICES = ("imagenet", "kit", "auto")
BackboneWeights = Literal["imagenet", "kit", "auto"] | WeightsInfo | KitWeightsInfo | None


def _imagenet() -> WeightsInfo:
    from helpers.models.resnet import RESNET18_IMAGENET  # resnet imports this module

    return RESNET18_IMAGENET


def choose_weights(
    weights: BackboneWeights, *, pretrained: bool = False, argument: str = "weights"
) -> WeightsInfo | KitWeightsInfo | None:
    """The card ``weights`` names (``None`` for random weights).

    Args:
        weights: ``None``, ``"imagenet"``, ``"kit"``, ``"auto"`` or a card.
        pretrained: the older switch; ``True`` means ``"imagenet"``.
        argument: the argument's name, for messages (``"backbone_weights"`` for the FCN).

    Raises:
        ValueError: an unknown name, or ``pretrained=True`` together with other weights.

    >>> choose_weights("kit").name
    'kit:resnet18_shapes_v1'
    >>> choose_weights(None, pretrained=True).name
    'ResNet18_Weights.IMAGENET1K_V1'
    """
    if pretrained:
        if weights not in (None, "imagenet", _imagenet()):
            raise ValueError(
                f"pretrained=True means {argument}='imagenet', but {argument}={weights!r} was "
                f"given too. Pass only {argument}=... (one of {WEIGHT_CHOICES} or None)."
            )
        return _imagenet()
    if weights is None or isinstance(weights, WeightsInfo | KitWeightsInfo):
        return weights
    if weights == "imagenet":
        return _imagenet()
    if weights == "kit":
        return kit_backbone.RESNET18_KIT  # read at call time: a test may point it elsewhere
    if weights == "auto":
        cached = checkpoint_folder() / _imagenet().file_name
        return _imagenet() if cached.is_file() else kit_backbone.RESNET18_KIT
    raise ValueError(
        f"Unknown value {weights!r} for argument {argument}. Valid values are None, "
        f"{', '.join(map(repr, WEIGHT_CHOICES))}: random, ImageNet's (torchvision's file), the "
        "kit's own (works offline), or ImageNet's when cached else the kit's."
    )


def load_backbone(
    model: ResNet, card: WeightsInfo | KitWeightsInfo, *, progress: bool = False
) -> ResNet:
    """Load ``card``'s backbone into ``model`` (a torchvision ResNet-18 with any ``fc``); its
    ``fc`` is left as it is. Returns ``model``.

    Raises:
        PretrainedWeightsError: the file is missing, broken or holds another network's tensors.
    """
    if isinstance(card, WeightsInfo):
        # torchvision's file holds ImageNet's 1000-class head: load into a copy of the model
        # with that head, then keep everything but the head.
        import torchvision

        full = torchvision.models.resnet18(weights=None)
        load_into(full, card.enum, progress=progress)
        state = {k: v for k, v in full.state_dict().items() if not k.startswith("fc.")}
        where = f"{card.file_name} in {checkpoint_folder()}"
    else:
        state = kit_backbone.load_kit_state(card)
        where = str(card.path)
    wanted = {k: v.shape for k, v in model.state_dict().items() if not k.startswith("fc.")}
    given = {k: v.shape for k, v in state.items()}
    if wanted != given:
        missing, extra = sorted(wanted.keys() - given), sorted(given.keys() - wanted)
        reshaped = sorted(k for k in wanted.keys() & given if wanted[k] != given[k])
        raise PretrainedWeightsError(
            f"The file {where} does not hold a ResNet-18 backbone for {card.name}: missing "
            f"{missing[:3]}, unexpected {extra[:3]}, other shapes {reshaped[:3]}. Get the right "
            "file back (see the card's recipe) or choose weights=None."
        )
    with torch.no_grad():
        model.load_state_dict(state, strict=False)  # strict=False: only fc is left out
    return model
