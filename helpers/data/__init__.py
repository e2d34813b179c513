"""Datasets the assignments read: Fashion-MNIST (real files), PASCAL VOC (real layout) and the
synthetic scenes written in VOC's layout, plus a fast in-memory loader.

>>> from helpers.data import fashion_mnist, train_val_split, InMemoryLoader
"""

from helpers.data.fashion import (
    CLASSES,
    THREE_CLASS_OF,
    THREE_CLASSES,
    DataMissingError,
    LabelledImages,
    fashion_mnist,
    scramble,
    to_three_classes,
    train_val_split,
)
from helpers.data.loader import InMemoryLoader, random_flip, random_shift

__all__ = [
    "CLASSES",
    "THREE_CLASSES",
    "THREE_CLASS_OF",
    "DataMissingError",
    "InMemoryLoader",
    "LabelledImages",
    "fashion_mnist",
    "random_flip",
    "random_shift",
    "scramble",
    "to_three_classes",
    "train_val_split",
]

# VOC and synthetic scenes
from helpers.data.hidden import (
    prepare_hidden_split,
    read_hidden_inputs,
    read_hidden_labels,
    read_hidden_masks,
)
from helpers.data.synthetic import (
    SUPERCLASS_OF,
    SYNTHETIC_CLASSES,
    SYNTHETIC_SUPERCLASSES,
    make_synthetic_voc,
    to_superclass_mask,
)
from helpers.data.voc import (
    IGNORE_INDEX,
    VOC_CLASSES,
    VOC_PALETTE,
    VOCClassification,
    VOCSegmentation,
    download_voc,
    read_annotation,
    read_mask,
)

__all__ += [
    "IGNORE_INDEX",
    "SUPERCLASS_OF",
    "SYNTHETIC_CLASSES",
    "SYNTHETIC_SUPERCLASSES",
    "VOC_CLASSES",
    "VOC_PALETTE",
    "VOCClassification",
    "VOCSegmentation",
    "download_voc",
    "make_synthetic_voc",
    "prepare_hidden_split",
    "read_annotation",
    "read_hidden_inputs",
    "read_hidden_labels",
    "read_hidden_masks",
    "read_mask",
    "to_superclass_mask",
]
