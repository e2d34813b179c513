"""PASCAL VOC in its real directory layout: multi-label classification and semantic segmentation.

The layout read (VOC 2007's; the synthetic scenes of :mod:`helpers.data.synthetic` use it too)::

    VOC2007/
        Annotations/<id>.xml            objects: name, bndbox, difficult, truncated
        ImageSets/Main/<split>.txt      one image id per line (classification)
        ImageSets/Segmentation/<split>.txt
        JPEGImages/<id>.jpg
        SegmentationClass/<id>.png      palette PNG: index = class (0 background, 255 ignore)
        classes.txt                     (synthetic trees only) the class names, one per line

``root`` may be that folder itself or a folder holding ``VOCdevkit/VOC2007`` (where
``torchvision.datasets.VOCDetection(root, year="2007", download=True)`` and :func:`download_voc`
put it).

Getting the real data: ``download_voc(root)`` fetches the official tar through torchvision and
checks its MD5 before extracting. The official server is often down: give ``mirror=`` (a URL of a
folder holding ``VOCtrainval_06-Nov-2007.tar`` and ``VOCtest_06-Nov-2007.tar``) or ``archive=``
(a tar you already have); the same checksums are verified either way. From a shell::

    python -m helpers.data.voc --root data/voc --image-set trainval --mirror URL

Difficult objects: VOC marks some objects ``difficult``. By default they count as positives, as
the course's original kit did; ``difficult="ignore"`` gives a class whose only objects are
difficult the target -1 instead, which the kit's evaluators skip.

Why over ~400 lines: the datasets (:class:`VOCClassification`, :class:`VOCSegmentation`) and
the readers of VOC's files they are built from belong together, as in torchvision's ``voc.py``
(which holds both datasets and the download in one file). A cut exists (``download_voc`` and
the CLI, the last ~110 lines) and is left for a follow-up.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.datasets.utils import (
    calculate_md5,
    download_url,
    extract_archive,
    verify_str_arg,
)
from torchvision.datasets.vision import VisionDataset
from torchvision.datasets.voc import DATASET_YEAR_DICT
from torchvision.transforms.functional import to_tensor

from helpers.data.fashion import DataMissingError

try:  # defusedxml refuses XML bombs; VOC files come from mirrors the user picks.
    from defusedxml.ElementTree import ParseError
    from defusedxml.ElementTree import parse as parse_xml
except ImportError:  # pragma: no cover - defusedxml ships with nbconvert's dependencies
    from xml.etree.ElementTree import ParseError
    from xml.etree.ElementTree import parse as parse_xml

__all__ = [
    "IGNORE_INDEX",
    "VOC_CLASSES",
    "VOC_PALETTE",
    "Annotation",
    "VOCClassification",
    "VOCObject",
    "VOCSegmentation",
    "download_voc",
    "find_voc_dir",
    "labels_from_annotation",
    "read_annotation",
    "read_classes",
    "read_mask",
]

#: The 20 VOC classes in VOC's order: class k is column k of a classification target and index
#: k + 1 of a segmentation mask (0 is background).
VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)

#: Mask value of pixels that are not scored: object boundaries and difficult objects.
IGNORE_INDEX = 255

SPLITS = ("train", "val", "trainval", "test")
DIFFICULT_POLICIES = ("positive", "ignore")
CLASSES_FILE = "classes.txt"


def _voc_palette() -> list[int]:
    """VOC's colour map (from the devkit's ``VOClabelcolormap.m``): the bits of the index are
    spread over the high bits of R, G and B, so 1 is dark red, 15 (person) pinkish, 255 cream."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette += [r, g, b]
    return palette


#: 768 ints (R, G, B for indices 0..255) for ``PIL.Image.putpalette``: VOC's own colours.
VOC_PALETTE = _voc_palette()


@dataclass(frozen=True)
class VOCObject:
    """One annotated object. ``bbox`` is (xmin, ymin, xmax, ymax) in VOC's 1-based pixel
    coordinates, both ends included."""

    name: str
    bbox: tuple[int, int, int, int]
    difficult: bool = False
    truncated: bool = False


@dataclass(frozen=True)
class Annotation:
    """What one ``Annotations/<id>.xml`` says: the image size in pixels and its objects."""

    filename: str
    width: int
    height: int
    objects: tuple[VOCObject, ...]


def _redo_hint(path: Path) -> str:
    return (
        f"The file is damaged or truncated. Extract the VOC archive again (see "
        f"helpers.data.voc.download_voc), or, for a synthetic tree, delete {path.parent.parent} "
        "and write it again with `python -m helpers.data.synthetic --out DIR`."
    )


def read_annotation(path: str | os.PathLike) -> Annotation:
    """Read one VOC annotation file.

    Raises:
        DataMissingError: the file is missing, is not XML, or lacks a field VOC always has; the
            message names the file and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise DataMissingError(f"Annotation file {path} is missing. {_redo_hint(path)}")
    try:
        root = parse_xml(path).getroot()
        size = root.find("size")
        width = int(size.findtext("width")) if size is not None else 0
        height = int(size.findtext("height")) if size is not None else 0
        objects = []
        for node in root.iter("object"):
            box = node.find("bndbox")
            # VOC 2007 writes integers; later years sometimes write "174.0".
            bbox = tuple(int(float(box.findtext(k))) for k in ("xmin", "ymin", "xmax", "ymax"))
            objects.append(
                VOCObject(
                    name=node.findtext("name").strip(),
                    bbox=bbox,
                    difficult=(node.findtext("difficult") or "0").strip() == "1",
                    truncated=(node.findtext("truncated") or "0").strip() == "1",
                )
            )
    except ParseError as error:
        raise DataMissingError(
            f"Annotation file {path} is not valid XML ({error}). {_redo_hint(path)}"
        ) from error
    except (AttributeError, TypeError, ValueError) as error:
        # A missing <name>, <bndbox> or coordinate surfaces as None.strip() or int(None).
        raise DataMissingError(
            f"Annotation file {path} lacks a field VOC annotations have (every <object> needs "
            f"<name> and <bndbox> with xmin, ymin, xmax, ymax; got error: {error}). "
            f"{_redo_hint(path)}"
        ) from error
    filename = (root.findtext("filename") or f"{path.stem}.jpg").strip()
    return Annotation(filename, width, height, tuple(objects))


def labels_from_annotation(
    annotation: Annotation,
    classes: Sequence[str],
    difficult: str = "positive",
    *,
    path: str | os.PathLike | None = None,
) -> np.ndarray:
    """The multi-hot target of one image.

    Args:
        annotation: what :func:`read_annotation` read.
        classes: the class names, in target order.
        difficult: ``"positive"``: difficult objects count like the others; ``"ignore"``: a class
            whose only objects are difficult gets -1.
        path: the annotation's file, named in the error message.

    Returns:
        int64 (C,): 1 where class k appears, 0 where not, -1 where ignored.

    >>> objects = (VOCObject("cat", (1, 1, 9, 9)), VOCObject("dog", (2, 2, 5, 5), difficult=True))
    >>> a = Annotation("1.jpg", 10, 10, objects)
    >>> labels_from_annotation(a, ["cat", "dog", "cow"]).tolist()
    [1, 1, 0]
    >>> labels_from_annotation(a, ["cat", "dog", "cow"], "ignore").tolist()
    [1, -1, 0]
    """
    verify_str_arg(difficult, "difficult", DIFFICULT_POLICIES)
    column = {name: k for k, name in enumerate(classes)}
    labels = np.zeros(len(classes), dtype=np.int64)
    for obj in annotation.objects:
        if obj.name not in column:
            raise DataMissingError(
                f"Annotation file {path or annotation.filename} names the class {obj.name!r}, "
                f"which is not one of the {len(classes)} classes {list(classes)}. Pass classes= "
                "with every class the tree uses, or check the file."
            )
        k = column[obj.name]
        if obj.difficult and difficult == "ignore":
            if labels[k] == 0:  # a non-difficult instance of the class still wins
                labels[k] = -1
        else:
            labels[k] = 1
    return labels


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a ``SegmentationClass`` PNG as its class indices.

    Returns:
        uint8 array (H, W): 0 background, k + 1 for class k, 255 (``IGNORE_INDEX``) ignored.
    """
    path = Path(path)
    try:
        with Image.open(path) as png:
            png.load()
            mode, mask = png.mode, np.array(png)
    except FileNotFoundError as error:
        raise DataMissingError(f"Mask file {path} is missing. {_redo_hint(path)}") from error
    except (OSError, UnidentifiedImageError, SyntaxError) as error:
        raise DataMissingError(
            f"Mask file {path} cannot be read as a PNG ({error}). {_redo_hint(path)}"
        ) from error
    if mode not in ("P", "L"):
        raise DataMissingError(
            f"Mask {path} is a {mode} image, but VOC masks are palette PNGs whose pixel values "
            "are class indices. Was it converted to colour? Use the original SegmentationClass "
            "file."
        )
    return mask.astype(np.uint8, copy=False)


def _read_image(path: Path) -> Image.Image:
    try:
        with Image.open(path) as jpeg:
            return jpeg.convert("RGB")  # convert() decodes the whole file: truncation shows here
    except FileNotFoundError as error:
        raise DataMissingError(f"Image file {path} is missing. {_redo_hint(path)}") from error
    except (OSError, UnidentifiedImageError, SyntaxError) as error:
        raise DataMissingError(
            f"Image file {path} cannot be decoded ({error}). {_redo_hint(path)}"
        ) from error


def read_classes(voc_dir: str | os.PathLike) -> tuple[str, ...]:
    """The class names of a tree: its ``classes.txt`` (synthetic trees), else the 20 of VOC."""
    path = Path(voc_dir) / CLASSES_FILE
    if not path.is_file():
        return VOC_CLASSES
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not names or len(set(names)) != len(names):
        raise DataMissingError(
            f"{path} should list distinct class names, one per line; it holds {list(names)}. "
            "Delete the tree and write it again with `python -m helpers.data.synthetic`."
        )
    return names


def find_voc_dir(root: str | os.PathLike, year: str = "2007") -> Path:
    """The folder holding ``Annotations/`` and ``JPEGImages/``: ``root`` itself or
    ``root/VOCdevkit/VOC<year>`` (torchvision's layout).

    Raises:
        DataMissingError: neither exists; the message says how to get the data.
    """
    verify_str_arg(year, "year", [k for k in DATASET_YEAR_DICT if "-" not in k])
    root = Path(root).expanduser()
    nested = root / DATASET_YEAR_DICT[year]["base_dir"]
    for candidate in (root, nested):
        if (candidate / "JPEGImages").is_dir():
            return candidate
    raise DataMissingError(
        f"No VOC tree found: neither {root / 'JPEGImages'} nor {nested / 'JPEGImages'} exists. "
        f"Get the real data with `python -m helpers.data.voc --root {root}` (add --mirror URL or "
        "--archive TAR when the official server is down), or write synthetic scenes with "
        f"`python -m helpers.data.synthetic --out {root}`."
    )


class _VOCBase(VisionDataset):
    """What both tasks share: finding the tree, reading a split list, decoding images.

    Subclasses differ only in the data below (a variant is data, not code) and in the target
    they build.
    """

    _SPLITS_DIR: str  # ImageSets/<this>/<split>.txt lists the split's image ids
    _TARGET_DIR: str  # where each id's target file lives
    _TARGET_EXT: str

    def __init__(
        self,
        root: str | os.PathLike,
        split: str,
        *,
        year: str,
        classes: Sequence[str] | None,
        download: bool,
        transform: Callable | None = None,
        transforms: Callable | None = None,
    ) -> None:
        super().__init__(root, transforms=transforms, transform=transform)
        self.split = verify_str_arg(split, "split", SPLITS)
        self.year = year
        if download and not self._has_split(root, year):
            download_voc(root, year=year, image_set="test" if split == "test" else "trainval")
        self.voc_dir = find_voc_dir(root, year)
        self.classes = tuple(classes) if classes is not None else read_classes(self.voc_dir)
        self.ids = self._read_split()
        self.images = [self.voc_dir / "JPEGImages" / f"{i}.jpg" for i in self.ids]
        self.targets = [
            self.voc_dir / self._TARGET_DIR / f"{i}{self._TARGET_EXT}" for i in self.ids
        ]
        missing = [p for pair in zip(self.images, self.targets, strict=True) for p in pair]
        missing = [p for p in missing if not p.is_file()]
        if missing:
            shown = "\n".join(f"  - {p}" for p in missing[:5])
            raise DataMissingError(
                f"{len(missing)} file(s) listed by split {split!r} are missing, e.g.\n{shown}\n"
                f"{_redo_hint(missing[0])}"
            )

    def _has_split(self, root: str | os.PathLike, year: str) -> bool:
        """Is this split already on disk (so ``download=True`` need not extract again)?"""
        try:
            voc_dir = find_voc_dir(root, year)
        except DataMissingError:
            return False
        return (voc_dir / "ImageSets" / self._SPLITS_DIR / f"{self.split}.txt").is_file()

    def _read_split(self) -> list[str]:
        path = self.voc_dir / "ImageSets" / self._SPLITS_DIR / f"{self.split}.txt"
        if not path.is_file():
            have = sorted(p.stem for p in path.parent.glob("*.txt") if "_" not in p.stem)
            hint = (
                " VOC 2007's test split comes in its own tar: "
                f"`python -m helpers.data.voc --root {self.root} --image-set test`."
                if self.split == "test"
                else ""
            )
            raise DataMissingError(
                f"Split list {path} is missing; this tree has the splits {have or 'none'}.{hint} "
                "Pick one of those, or extract the archive (or write the synthetic tree) again."
            )
        # Main/<split>.txt holds one id per line; the first token also reads per-class lists.
        ids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
        if not ids:
            raise DataMissingError(f"Split list {path} is empty. {_redo_hint(path)}")
        return ids

    def __len__(self) -> int:
        return len(self.ids)

    def extra_repr(self) -> str:
        return f"Split: {self.split}\nClasses: {len(self.classes)}\nTree: {self.voc_dir}"

    def _load_target(self, index: int) -> torch.Tensor:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = to_tensor(_read_image(self.images[index]))
        target = self._load_target(index)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target


class VOCClassification(_VOCBase):
    """Multi-label classification: which classes appear in each image.

    Args:
        root: the VOC folder or a folder holding ``VOCdevkit/VOC2007`` (see the module docstring).
        split: ``"train"``, ``"val"``, ``"trainval"`` or ``"test"``.
        year: the VOC year whose torchvision layout and archive to use, ``"2007"`` by default.
        classes: the class names, in target order; by default the tree's ``classes.txt``
            (synthetic trees) or the 20 ``VOC_CLASSES``.
        difficult: ``"positive"`` (default, as the course's original kit): difficult objects
            count like the others. ``"ignore"``: a class whose only objects in an image are
            difficult gets -1 there, which the evaluators skip.
        transform: called on each image tensor, e.g. ``torchvision.transforms.v2.Normalize``.
        download: fetch and extract the official archive first (see :func:`download_voc`).

    Attributes:
        ids: the image ids of the split, in file order.
        labels: int64 array (N, C) of all targets, in 1 / 0 / -1, read once from the XML files.

    >>> from helpers.data.synthetic import make_synthetic_voc
    >>> import tempfile
    >>> root = make_synthetic_voc(tempfile.mkdtemp(), train=4, val=0, test=0, seed=1)
    >>> data = VOCClassification(root, "train")
    >>> image, target = data[0]
    >>> image.dtype, tuple(image.shape), target.dtype, tuple(target.shape), len(data)
    (torch.float32, (3, 128, 128), torch.int64, (8,), 4)
    """

    _SPLITS_DIR = "Main"
    _TARGET_DIR = "Annotations"
    _TARGET_EXT = ".xml"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        *,
        year: str = "2007",
        classes: Sequence[str] | None = None,
        difficult: str = "positive",
        transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        self.difficult = verify_str_arg(difficult, "difficult", DIFFICULT_POLICIES)
        super().__init__(
            root, split, year=year, classes=classes, download=download, transform=transform
        )
        self.labels = np.stack(
            [
                labels_from_annotation(read_annotation(p), self.classes, difficult, path=p)
                for p in self.targets
            ]
        )

    def _load_target(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.labels[index].copy())

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(image, target)``.

        image: float32 (3, H, W) in [0, 1] (then whatever ``transform`` makes of it);
        target: int64 (C,), 1 where class k appears, 0 where not, -1 where ignored
        (``difficult="ignore"`` and only difficult objects of that class).
        """
        return super().__getitem__(index)


class VOCSegmentation(_VOCBase):
    """Semantic segmentation: a class index for every pixel.

    Args:
        root, split, year, classes, download: as for :class:`VOCClassification`; the ids come
            from ``ImageSets/Segmentation/<split>.txt`` (in real VOC a subset of the images).
        transform: called on the image tensor only, e.g. ``Normalize``.
        transforms: called on ``(image, mask)`` together, for geometric augmentation that must
            move both, e.g. ``v2.Compose([v2.RandomHorizontalFlip(), v2.RandomCrop(96)])``. The
            pair arrives as ``tv_tensors.Image`` and ``tv_tensors.Mask``, so torchvision's v2
            transforms treat the mask as labels (nearest-neighbour, no blending). Give either
            ``transform`` or ``transforms``, not both.

    >>> from helpers.data.synthetic import make_synthetic_voc
    >>> import tempfile
    >>> root = make_synthetic_voc(tempfile.mkdtemp(), train=2, val=0, test=0, seed=1)
    >>> image, mask = VOCSegmentation(root, "train")[0]
    >>> tuple(image.shape), mask.dtype, tuple(mask.shape), int(mask.max()) <= 255
    ((3, 128, 128), torch.int64, (128, 128), True)
    """

    _SPLITS_DIR = "Segmentation"
    _TARGET_DIR = "SegmentationClass"
    _TARGET_EXT = ".png"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        *,
        year: str = "2007",
        classes: Sequence[str] | None = None,
        transform: Callable | None = None,
        transforms: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(
            root,
            split,
            year=year,
            classes=classes,
            download=download,
            transform=transform,
            transforms=transforms,
        )
        # Only a joint transform needs the pair tagged; an image-only one sees a plain tensor.
        self._joint = transforms is not None

    def _load_target(self, index: int) -> torch.Tensor:
        mask = read_mask(self.targets[index])
        valid = set(range(len(self.classes) + 1)) | {IGNORE_INDEX}
        found = set(np.unique(mask).tolist())
        if not found <= valid:
            raise DataMissingError(
                f"Mask {self.targets[index]} holds the values {sorted(found - valid)}, but with "
                f"{len(self.classes)} classes a mask holds only 0..{len(self.classes)} and 255. "
                "Pass the tree's classes= or check the file."
            )
        return torch.from_numpy(mask.astype(np.int64))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(image, mask)``.

        image: float32 (3, H, W) in [0, 1]; mask: int64 (H, W), 0 background, k + 1 for class k,
        255 ignored (object boundaries and difficult objects, as in VOC). After ``transforms``
        both are plain tensors again, with whatever shape the transforms gave them.
        """
        if not self._joint:
            return super().__getitem__(index)
        from torchvision import tv_tensors

        image = tv_tensors.Image(to_tensor(_read_image(self.images[index])))
        mask = tv_tensors.Mask(self._load_target(index))
        image, mask = self.transforms(image, mask)
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)


def _archive_entry(year: str, image_set: str) -> dict[str, str]:
    verify_str_arg(year, "year", [k for k in DATASET_YEAR_DICT if "-" not in k])
    sets = ("trainval", "test") if year == "2007" else ("trainval",)
    verify_str_arg(image_set, "image_set", sets)
    return DATASET_YEAR_DICT["2007-test" if image_set == "test" else year]


def download_voc(
    root: str | os.PathLike,
    *,
    year: str = "2007",
    image_set: str = "trainval",
    mirror: str | None = None,
    archive: str | os.PathLike | None = None,
    md5: str | None = None,
) -> Path:
    """Get one official VOC archive, check its MD5 and extract it into ``root``.

    The archive names, URLs and MD5s are torchvision's (``torchvision.datasets.voc``); so are
    the download and extraction. VOC 2007 comes as two tars, ``image_set="trainval"`` and
    ``"test"``; both extract into ``root/VOCdevkit/VOC2007``.

    Args:
        root: where to put the tar and the extracted tree.
        year: ``"2007"`` (default) to ``"2012"``.
        image_set: ``"trainval"`` or (2007 only) ``"test"``.
        mirror: a URL of a folder holding the archive under its official name, for when the
            official server (often down) fails.
        archive: a tar already on disk; it is checked and extracted, nothing is downloaded.
        md5: the checksum to expect, by default the official one. Only for your own archives.

    Returns:
        The extracted VOC folder, e.g. ``root/VOCdevkit/VOC2007``.

    Raises:
        DataMissingError: the download failed or the archive's MD5 is not the expected one.
    """
    entry = _archive_entry(year, image_set)
    root = Path(root).expanduser()
    expected = md5 or entry["md5"]
    if archive is not None:
        path = Path(archive).expanduser()
        if not path.is_file():
            raise DataMissingError(
                f"Archive {path} does not exist. Pass the path of {entry['filename']}."
            )
    else:
        path = root / entry["filename"]
        url = f"{mirror.rstrip('/')}/{entry['filename']}" if mirror else entry["url"]
        if not (path.is_file() and calculate_md5(path) == expected):
            # torchvision skips the download when a file of that name exists: drop a bad one.
            path.unlink(missing_ok=True)
            try:
                download_url(url, str(root), entry["filename"])
            except (urllib.error.URLError, OSError, ValueError) as error:
                raise DataMissingError(
                    f"Could not download {url} ({error}). The official VOC server is often down: "
                    f"pass mirror=URL of a folder that holds {entry['filename']}, or download it "
                    "yourself and pass archive=PATH."
                ) from error
    actual = calculate_md5(path)
    if actual != expected:
        raise DataMissingError(
            f"Archive {path} has MD5 {actual}, but {entry['filename']} has MD5 {expected}. The "
            "file is incomplete or is not that archive: delete it and download it again (from "
            "another mirror if this one keeps failing)."
        )
    extract_archive(str(path), str(root))
    return find_voc_dir(root, year)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.data.voc``: download (or unpack) and check VOC."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.data.voc",
        description="Download PASCAL VOC (or unpack a tar you have), verify its MD5, extract it.",
        epilog=(
            "examples:\n"
            "  python -m helpers.data.voc --root data/voc\n"
            "  python -m helpers.data.voc --root data/voc --image-set test --mirror URL\n"
            "  python -m helpers.data.voc --root data/voc --archive ~/VOCtrainval_06-Nov-2007.tar"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", required=True, help="where the tar and the tree go")
    parser.add_argument("--year", default="2007", help="VOC year (default 2007)")
    parser.add_argument("--image-set", default="trainval", choices=("trainval", "test"))
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--mirror", help="URL of a folder holding the official tar file")
    source.add_argument("--archive", help="a tar file already on disk")
    args = parser.parse_args(argv)
    try:
        voc_dir = download_voc(
            args.root,
            year=args.year,
            image_set=args.image_set,
            mirror=args.mirror,
            archive=args.archive,
        )
    except (DataMissingError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"VOC {args.year} {args.image_set} is in {voc_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
