"""Datasets the assignments read: Fashion-MNIST (real files), PASCAL VOC (real layout) and the
synthetic scenes written in VOC's layout, plus a fast in-memory loader.

Names are imported on first use (:mod:`helpers._lazy`), so ``helpers.data.hidden``'s readers,
which the grader uses, do not pull torch in through the loader or torchvision's datasets.

>>> from helpers.data import fashion_mnist, train_val_split, InMemoryLoader
"""

from helpers._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "fashion": [
            "CLASSES",
            "THREE_CLASSES",
            "DataMissingError",
            "LabelledImages",
            "fashion_mnist",
            "train_val_split",
        ],
        "loader": ["InMemoryLoader", "random_flip", "random_shift"],
        # single-label object crops from VOC-style trees (assignment 4)
        "crops": ["ObjectCrops", "few_per_class", "object_crops"],
        # VOC and synthetic scenes
        "hidden": [
            "prepare_hidden_split",
            "read_hidden_inputs",
            "read_hidden_labels",
            "read_hidden_masks",
        ],
        "synthetic": [
            "SUPERCLASS_OF",
            "SYNTHETIC_CLASSES",
            "SYNTHETIC_SUPERCLASSES",
            "make_synthetic_voc",
            "synthetic_voc",
            "to_superclass_mask",
        ],
        "voc": [
            "IGNORE_INDEX",
            "VOC_CLASSES",
            "VOC_PALETTE",
            "VOCClassification",
            "VOCSegmentation",
            "download_voc",
            "read_annotation",
            "read_mask",
        ],
    },
)
