"""Fashion-MNIST, the real files: loading, a seeded validation split, and the class names of a2's
3-class task. (a2's relabelling and scrambled images are exercises: students write them, so the
kit they install holds no version of them; the instructor's are in source/a2_cnn_fashion.)

Where the files are looked for, in order:

1. ``root`` (the argument), then ``$KIT_DATA_DIR``: each either holding the four ``*-ubyte.gz``
   files itself, in a ``fashion-mnist/`` folder, or in torchvision's ``FashionMNIST/raw/`` layout;
2. ``/usr/share/datasets/fashion-mnist``, where Debian's ``dataset-fashion-mnist`` package puts the
   original files (``apt-get install dataset-fashion-mnist``; ``./kit`` does it when it can);
3. torchvision's download into ``root`` (or ``$KIT_DATA_DIR``, or ``~/.cache/kit-data``), when
   ``download=True`` and the network allows it.

Every file is checked by its decompressed size and MD5 before use (Debian re-compressed the
archives, so the ``.gz`` checksums torchvision lists do not match them; the content does).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from helpers.contract import DATA_DIR_ENV

__all__ = [
    "CLASSES",
    "THREE_CLASSES",
    "DataMissingError",
    "LabelledImages",
    "fashion_mnist",
    "train_val_split",
]

CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

#: The names of a2's 3 classes: what is worn on the body, what is worn on the feet, the rest
#: (which original class goes where is a2's exercise ``to_three_class_labels``).
THREE_CLASSES = ["Clothes", "Shoes", "Others"]

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
SPLITS = ("train", "test")

# A variant is data, not code: (file, decompressed bytes, MD5 of the decompressed bytes).
_FILES = {
    "train": (
        ("train-images-idx3-ubyte.gz", 47_040_016, "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        ("train-labels-idx1-ubyte.gz", 60_008, "9018921c3c673c538a1fc5bad174d6f9"),
    ),
    "test": (
        ("t10k-images-idx3-ubyte.gz", 7_840_016, "8181f5470baa50b63fa0f6fddb340f0a"),
        ("t10k-labels-idx1-ubyte.gz", 10_008, "15d484375f8d13e6eb1aabb0c3f46965"),
    ),
}


class DataMissingError(FileNotFoundError):
    """A dataset file is missing, truncated or corrupted; the message says how to get it."""


@dataclass
class LabelledImages:
    """Images with one label each.

    Attributes:
        images: uint8 array (N, 28, 28), pixel values 0..255, white garment on black.
        labels: int64 array (N,), class indices into ``classes``.
        classes: the class names, ``classes[k]`` is the name of label k.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self):
        """Unpack as ``images, labels = data``."""
        return iter((self.images, self.labels))

    def subset(self, index: np.ndarray) -> LabelledImages:
        """The images and labels at ``index`` (an int array or a boolean mask)."""
        return LabelledImages(self.images[index], self.labels[index], list(self.classes))


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(
            f"Unknown value {split!r} for argument split. Valid values are {set(SPLITS)}."
        )


def _candidate_dirs(root: str | os.PathLike | None) -> list[Path]:
    bases = [Path(root)] if root is not None else []
    if os.environ.get(DATA_DIR_ENV):
        bases.append(Path(os.environ[DATA_DIR_ENV]))
    dirs = []
    for base in bases:
        dirs += [base, base / "fashion-mnist", base / "FashionMNIST" / "raw"]
    dirs.append(DEBIAN_DIR)
    return dirs


def _download_dir(root: str | os.PathLike | None) -> Path:
    base = root or os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "kit-data"
    return Path(base)


def _how_to_get(split: str, looked: list[Path]) -> str:
    where = "\n".join(f"  - {d}" for d in looked)
    return (
        f"Fashion-MNIST ({split} split) was not found. Looked in:\n{where}\n"
        "To get it: run `./kit setup` as root (it installs Debian's dataset-fashion-mnist), or "
        "`apt-get install dataset-fashion-mnist`, or call fashion_mnist(..., download=True) on a "
        "machine with internet, or copy the four *-ubyte.gz files into a folder and pass it as "
        "root= (or set KIT_DATA_DIR)."
    )


def _find(split: str, root, download: bool) -> Path:
    names = [name for name, _, _ in _FILES[split]]
    looked = _candidate_dirs(root)
    for d in looked:
        if all((d / n).is_file() for n in names):
            return d
    if download:
        # torchvision knows the official mirrors and the archives' MD5s; reuse it.
        from torchvision.datasets import FashionMNIST
        from torchvision.datasets.utils import download_url

        target = _download_dir(root) / "fashion-mnist"
        try:
            for name, md5 in FashionMNIST.resources:
                if name in names:
                    download_url(FashionMNIST.mirrors[0] + name, str(target), name, md5)
        except Exception as error:
            raise DataMissingError(
                _how_to_get(split, [*looked, target]) + f"\nThe download failed: {error}"
            ) from error
        return target
    raise DataMissingError(_how_to_get(split, looked))


@lru_cache(maxsize=8)
def _read_idx(path: Path, size: int, md5: str, mtime: float) -> np.ndarray:
    """Decompress and parse one IDX file, checking its content. ``mtime`` keys the cache."""
    try:
        with gzip.open(path) as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise DataMissingError(
            f"{path} is not a readable gzip file ({error}). It is probably truncated or "
            "corrupted: delete it and get it again (see helpers.data.fashion_mnist)."
        ) from error
    if len(raw) != size or hashlib.md5(raw).hexdigest() != md5:
        raise DataMissingError(
            f"{path} does not hold the official Fashion-MNIST data: expected {size:,} bytes "
            f"with MD5 {md5}, found {len(raw):,} bytes with MD5 {hashlib.md5(raw).hexdigest()}. "
            "Delete it and get it again (see helpers.data.fashion_mnist)."
        )
    # IDX: magic (0, 0, dtype=0x08 uint8, ndim), then ndim big-endian int32 sizes, then the data.
    ndim = raw[3]
    shape = tuple(int(s) for s in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    array = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)
    array.flags.writeable = False
    return array


def fashion_mnist(
    split: str = "train", root: str | os.PathLike | None = None, *, download: bool = True
) -> LabelledImages:
    """Load one split of the real Fashion-MNIST.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        root: a folder to look in first (see the module docstring for the search order).
        download: download through torchvision when the files are nowhere to be found.

    Returns:
        ``LabelledImages`` with ``images`` uint8 (N, 28, 28), ``labels`` int64 (N,) in 0..9 and
        the 10 ``classes``. The arrays are fresh copies: changing them changes nothing else.

    Raises:
        DataMissingError: the files are missing, truncated or corrupted; the message says where
            it looked and how to get them.

    >>> test = fashion_mnist("test")
    >>> test.images.shape, test.images.dtype, test.labels[:5].tolist(), test.classes[9]
    ((10000, 28, 28), dtype('uint8'), [9, 2, 1, 1, 6], 'Ankle boot')
    """
    _check_split(split)
    folder = _find(split, root, download)
    (img_name, img_size, img_md5), (lab_name, lab_size, lab_md5) = _FILES[split]
    img_path, lab_path = folder / img_name, folder / lab_name
    images = _read_idx(img_path, img_size, img_md5, img_path.stat().st_mtime)
    labels = _read_idx(lab_path, lab_size, lab_md5, lab_path.stat().st_mtime)
    return LabelledImages(images.copy(), labels.astype(np.int64), list(CLASSES))


def train_val_split(
    data: LabelledImages, *, val_size: int | float = 0.1, seed: int = 0
) -> tuple[LabelledImages, LabelledImages]:
    """Split ``data`` into training and validation parts, the same way for the same seed.

    Each class is split in the same proportion (stratified), so both parts keep the balance.

    Args:
        data: what to split, e.g. ``fashion_mnist("train")``.
        val_size: the validation part's size: a fraction in (0, 1) or a number of images.
        seed: the random seed; the same seed always gives the same split.

    >>> train, val = train_val_split(fashion_mnist("test"), val_size=0.2, seed=0)
    >>> len(train), len(val), np.bincount(val.labels).tolist() == [200] * 10
    (8000, 2000, True)
    """
    n = len(data)
    n_val = round(val_size * n) if isinstance(val_size, float) else int(val_size)
    if not 0 < n_val < n:
        raise ValueError(
            f"val_size must leave both parts non-empty: it gives {n_val} of {n} images. "
            "Use a fraction between 0 and 1 or a count between 1 and len(data) - 1."
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    # Stratify: take the same share of each class, in the shuffled order.
    val_mask = np.zeros(n, dtype=bool)
    for label in np.unique(data.labels):
        members = order[data.labels[order] == label]
        val_mask[members[: round(len(members) * n_val / n)]] = True
    return data.subset(np.flatnonzero(~val_mask)), data.subset(np.flatnonzero(val_mask))
