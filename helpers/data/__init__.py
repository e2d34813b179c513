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
