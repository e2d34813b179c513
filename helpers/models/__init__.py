"""The course's reference networks, one file per architecture.

>>> from helpers.models import base_net, simple_classifier, resnet18, fcn_resnet18
>>> model = resnet18(num_classes=20)  # weights="imagenet", "kit" or "auto": pretrained
>>> print(RESNET18_IMAGENET.metrics)  # the number to aim for on ImageNet
{'ImageNet-1K': {'acc@1': 69.758, 'acc@5': 89.078}}

ImageNet's weights come from torchvision's cache, ``$TORCH_HOME/hub/checkpoints``; offline, a
missing file raises :class:`PretrainedWeightsError` naming the file and the folder. The kit's
own backbone (:data:`RESNET18_KIT`, ``weights="kit"``) ships inside ``helpers`` and works offline;
``weights="auto"`` takes ImageNet's when it is cached, else the kit's.
"""

from helpers.models.alexnet import ALEXNET_IMAGENET, AlexNet, alexnet
from helpers.models.base_net import BaseNet, base_net
from helpers.models.fcn import FCNResNet18, fcn_resnet18
from helpers.models.freezing import freeze_all_but, parameter_counts, unfreeze
from helpers.models.kit_backbone import RESNET18_KIT, KitWeightsInfo
from helpers.models.pretrained import (
    PretrainedWeightsError,
    WeightsInfo,
    checkpoint_folder,
    weights_info,
)
from helpers.models.resnet import RESNET18_IMAGENET, ResNet, resnet18
from helpers.models.simple_classifier import SimpleClassifier, simple_classifier

__all__ = [
    "ALEXNET_IMAGENET",
    "RESNET18_IMAGENET",
    "RESNET18_KIT",
    "AlexNet",
    "BaseNet",
    "FCNResNet18",
    "KitWeightsInfo",
    "PretrainedWeightsError",
    "ResNet",
    "SimpleClassifier",
    "WeightsInfo",
    "alexnet",
    "base_net",
    "checkpoint_folder",
    "fcn_resnet18",
    "freeze_all_but",
    "parameter_counts",
    "resnet18",
    "simple_classifier",
    "unfreeze",
    "weights_info",
]
