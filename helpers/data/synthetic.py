"""Synthetic scenes written in PASCAL VOC's layout: the offline default for demos, CI and tests.

Each image shows 1 to 4 objects of 8 shape classes (``SYNTHETIC_CLASSES``) on a cluttered,
textured background. Colour, size, rotation, texture and position vary at random and are never
tied to the class: only the outline tells the classes apart. Objects overlap (each keeps at least
30% of itself in view) and may run off the image edge. The files are the ones real VOC has, so
:class:`helpers.data.voc.VOCClassification` and :class:`~helpers.data.voc.VOCSegmentation` read
them unchanged::

    python -m helpers.data.synthetic --out data/synthetic --seed 0 --train 2000 --val 500 \\
        --test 500 [--size 128] [--workers 2]

writes ``JPEGImages/<id>.jpg``, ``Annotations/<id>.xml`` (name, visible-part box, ``truncated``,
``difficult``), ``ImageSets/Main/`` and ``ImageSets/Segmentation/`` split lists (with VOC's
per-class ``<class>_<split>.txt`` lists), ``SegmentationClass/<id>.png`` (palette PNG in VOC's
colours: 0 background, k + 1 for class k, 255 on object edges and on difficult objects),
``classes.txt`` and ``synthetic.json`` (the settings, written last).

An object is ``difficult`` when less than half of it is in view or its colour is hardly different
from what lies behind it, the two things that make VOC's annotators mark objects difficult.

Determinism: every image depends only on ``(seed, its number, size)``, so the same settings
give byte-identical files whatever the number of workers (on the same Pillow build), and another
seed gives other files. Ids run through train, then val, then test, so changing ``--train``
shifts which images land in val and test.

For the segmentation assignment the classes group into 3 superclasses by outline
(``SUPERCLASS_OF``): curved (circle, ring, crescent), convex polygons (triangle, square,
hexagon) and concave polygons (star, cross); :func:`to_superclass_mask` maps a mask to them.

Measured on 2 CPU cores shared with other work (load average about 4), seed 0:

- ``python bench/synthetic.py speed``: 2,000 images of 128 x 128 in 7.8 s with 1 worker
  (8.1 s with 2 workers; same bytes). A second worker pays off only on an idle machine.
- ``python bench/synthetic.py learn``: test mAP over 500 images (sklearn's
  ``average_precision_score``, mean over the 8 classes) of a constant predictor 0.274; of a
  0.1 M-parameter CNN trained 20 epochs (449 s) on 2,000 images shrunk to 64 x 64, 0.525, from
  0.90 AP for rings to 0.40 for triangles. With 6,000 training images and 15 epochs (940 s) the
  same CNN reached 0.651: learnable, far from solved.

The drawing of one scene lives in :mod:`helpers.data.scenes` (``render_scene``, re-exported
here); this module writes the scenes as a VOC tree.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from helpers.data.scenes import SYNTHETIC_CLASSES, render_scene
from helpers.data.voc import IGNORE_INDEX, VOC_PALETTE

__all__ = [
    "SUPERCLASS_OF",
    "SYNTHETIC_CLASSES",
    "SYNTHETIC_SUPERCLASSES",
    "make_synthetic_voc",
    "synthetic_voc",
    "to_superclass_mask",
]
#: The superclasses of the segmentation assignment, in order (superclass j is mask index j + 1).
SYNTHETIC_SUPERCLASSES = ("curved", "convex", "concave")
#: Class name -> superclass name: curved outlines, convex polygons, concave polygons.
SUPERCLASS_OF = {
    "circle": "curved",
    "ring": "curved",
    "crescent": "curved",
    "triangle": "convex",
    "square": "convex",
    "hexagon": "convex",
    "star": "concave",
    "cross": "concave",
}

FORMAT_VERSION = 1  # bump when the drawing changes: synthetic.json then no longer matches
JPEG_QUALITY = 90
JPEG_SUBSAMPLING = 0  # 4:4:4: colour stripes a few pixels wide survive (4:2:0 smears them)


def to_superclass_mask(
    mask: np.ndarray | torch.Tensor,
    classes: Sequence[str] = SYNTHETIC_CLASSES,
    superclass_of: dict[str, str] = SUPERCLASS_OF,
    superclasses: Sequence[str] = SYNTHETIC_SUPERCLASSES,
) -> np.ndarray | torch.Tensor:
    """Map a class-index mask to a superclass-index mask.

    Args:
        mask: integer array or tensor (..., H, W): 0 background, k + 1 for ``classes[k]``,
            255 ignored (as :class:`helpers.data.voc.VOCSegmentation` gives).
        classes, superclass_of, superclasses: the grouping; by default the synthetic scenes'.

    Returns:
        The same type, shape and dtype: 0 background, j + 1 for ``superclasses[j]``, 255 kept.

    >>> to_superclass_mask(np.array([[0, 1, 2, 4], [6, 7, 8, 255]], dtype=np.uint8))
    array([[  0,   1,   1,   2],
           [  2,   3,   3, 255]], dtype=uint8)
    """
    lut = np.full(256, -1, dtype=np.int64)  # -1 marks values no class has
    lut[0], lut[IGNORE_INDEX] = 0, IGNORE_INDEX
    for k, name in enumerate(classes):
        lut[k + 1] = list(superclasses).index(superclass_of[name]) + 1
    values = torch.unique(mask) if torch.is_tensor(mask) else np.unique(mask)
    bad = [int(v) for v in values if not 0 <= int(v) <= 255 or lut[int(v)] < 0]
    if bad:
        raise ValueError(
            f"Expected mask values 0..{len(classes)} or {IGNORE_INDEX} "
            f"({len(classes)} classes), but found {bad}. Is this a class-index mask of this "
            "dataset (not already superclasses, not a colour image)?"
        )
    if torch.is_tensor(mask):
        return torch.as_tensor(lut, device=mask.device)[mask.long()].to(mask.dtype)
    return lut[mask].astype(mask.dtype)


# ---------------------------------------------------------------------------------------------
# Writing the VOC tree.

_XML_OBJECT = """\t<object>
\t\t<name>{name}</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>{truncated:d}</truncated>
\t\t<difficult>{difficult:d}</difficult>
\t\t<bndbox>
\t\t\t<xmin>{box[0]}</xmin>
\t\t\t<ymin>{box[1]}</ymin>
\t\t\t<xmax>{box[2]}</xmax>
\t\t\t<ymax>{box[3]}</ymax>
\t\t</bndbox>
\t</object>
"""


def _annotation_xml(image_id: str, size: int, seed: int, objects: list) -> str:
    parts = [
        "<annotation>\n",
        "\t<folder>VOC2007</folder>\n",
        f"\t<filename>{image_id}.jpg</filename>\n",
        f"\t<source>\n\t\t<database>helpers.data.synthetic seed {seed}</database>\n\t</source>\n",
        f"\t<size>\n\t\t<width>{size}</width>\n\t\t<height>{size}</height>\n",
        "\t\t<depth>3</depth>\n\t</size>\n",
        "\t<segmented>1</segmented>\n",
    ]
    for name, box, truncated, difficult in objects:
        parts.append(
            _XML_OBJECT.format(name=name, box=box, truncated=truncated, difficult=difficult)
        )
    parts.append("</annotation>\n")
    return "".join(parts)


def _write_scene(job: tuple[Path, int, int, int]) -> list:
    """Render and write one scene's JPEG, XML and PNG; returns its objects."""
    out, seed, number, size = job
    image_id = f"{number:06d}"
    image, mask, objects = render_scene(seed, number, size)
    Image.fromarray(image).save(
        out / "JPEGImages" / f"{image_id}.jpg", quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING
    )
    png = Image.frombytes("P", (size, size), mask.tobytes())
    png.putpalette(VOC_PALETTE)
    png.save(out / "SegmentationClass" / f"{image_id}.png")
    xml = _annotation_xml(image_id, size, seed, objects)
    (out / "Annotations" / f"{image_id}.xml").write_text(xml)
    return objects


def _settings(seed: int, train: int, val: int, test: int, size: int) -> dict:
    return {
        "generator": "helpers.data.synthetic",
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "train": train,
        "val": val,
        "test": test,
        "size": size,
    }


def make_synthetic_voc(
    out: str | os.PathLike,
    *,
    seed: int = 0,
    train: int = 2000,
    val: int = 500,
    test: int = 500,
    size: int = 128,
    workers: int = 1,
) -> Path:
    """Write a synthetic VOC tree into ``out`` (or reuse the one already there).

    Args:
        out: an empty or missing folder; it becomes the VOC folder (``out/JPEGImages`` ...).
        seed: the random seed; the same settings always give byte-identical files.
        train, val, test: images in each split; ids run ``000001`` upwards in that order.
        size: image side in pixels (square images).
        workers: processes drawing in parallel; the files do not depend on it.

    Returns:
        ``out`` as a ``Path``, ready for ``VOCClassification(out)`` or ``VOCSegmentation(out)``.

    Raises:
        FileExistsError: ``out`` holds other files (or a tree made with other settings).
    """
    out = Path(out)
    settings = _settings(seed, train, val, test, size)
    marker = out / "synthetic.json"
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return out  # already written with these settings (synthetic.json is written last)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(
            f"{out} is not empty (or holds a tree made with other settings than {settings}). "
            "Choose an empty or new folder, or delete this one first."
        )
    if min(train, val, test) < 0 or train + val + test == 0 or size < 32:
        raise ValueError(
            f"Expected image counts >= 0 (not all 0) and size >= 32; got train={train}, "
            f"val={val}, test={test}, size={size}."
        )
    for sub in ("Annotations", "JPEGImages", "SegmentationClass", "ImageSets/Main"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    (out / "ImageSets" / "Segmentation").mkdir(exist_ok=True)

    total = train + val + test
    jobs = [(out, seed, number, size) for number in range(1, total + 1)]
    if workers > 1:
        import multiprocessing

        with multiprocessing.get_context().Pool(workers) as pool:
            objects = pool.map(_write_scene, jobs, chunksize=16)
    else:
        objects = [_write_scene(job) for job in jobs]

    ids = [f"{n:06d}" for n in range(1, total + 1)]
    bounds = {"train": (0, train), "val": (train, train + val), "test": (train + val, total)}
    bounds["trainval"] = (0, train + val)
    for split, (start, stop) in bounds.items():
        lines = "".join(f"{i}\n" for i in ids[start:stop])
        for folder in ("Main", "Segmentation"):
            (out / "ImageSets" / folder / f"{split}.txt").write_text(lines)
        for cls in SYNTHETIC_CLASSES:
            # VOC's per-class lists: 1 present, -1 absent, 0 present only as difficult.
            rows = []
            for i, objs in zip(ids[start:stop], objects[start:stop], strict=True):
                flags = [difficult for name, _, _, difficult in objs if name == cls]
                label = -1 if not flags else (0 if all(flags) else 1)
                rows.append(f"{i} {label:2d}\n")
            (out / "ImageSets" / "Main" / f"{cls}_{split}.txt").write_text("".join(rows))
    (out / "classes.txt").write_text("".join(f"{c}\n" for c in SYNTHETIC_CLASSES))
    marker.write_text(json.dumps(settings, indent=1) + "\n")
    return out


def _data_home() -> Path:
    """``$KIT_DATA_DIR``, else ``~/.cache/kit-data`` (where Fashion-MNIST downloads go too)."""
    from helpers.contract import DATA_DIR_ENV

    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "kit-data"


def synthetic_voc(
    root: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    train: int = 2000,
    val: int = 500,
    test: int = 500,
    size: int = 128,
) -> Path:
    """The public synthetic VOC tree every student trains on: written on first use, reused after.

    The defaults are the course's public set (seed 0: 2,000 train, 500 val, 500 test images of
    128 x 128; about 10 s to write on one core). Everyone who calls this with the same settings
    gets byte-identical files, so results are comparable across a class. Hidden test sets come
    from another, private seed (``[hidden_data] generate`` in an assignment's config).

    Args:
        root: the folder that holds the trees; default ``$KIT_DATA_DIR``, else
            ``~/.cache/kit-data``. The tree is
            ``root/synthetic-s<seed>-<train>-<val>-<test>-<size>``.
        seed, train, val, test, size: as :func:`make_synthetic_voc`.

    Returns:
        The VOC folder, ready for ``VOCClassification(path)`` or ``VOCSegmentation(path)``.

    >>> import tempfile
    >>> tree = synthetic_voc(tempfile.mkdtemp(), train=4, val=2, test=2, size=64)
    >>> tree.name, len(list((tree / "JPEGImages").iterdir()))
    ('synthetic-s0-4-2-2-64', 8)
    """
    import shutil
    import tempfile

    parent = Path(root) if root is not None else _data_home()
    target = parent / f"synthetic-s{seed}-{train}-{val}-{test}-{size}"
    settings = _settings(seed, train, val, test, size)
    marker = target / "synthetic.json"
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return target
    parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed into place, so two notebooks starting at once (or
    # one interrupted half-way) never leave a half-written tree under the final name.
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=parent))
    try:
        make_synthetic_voc(scratch / "tree", seed=seed, train=train, val=val, test=test, size=size)
        try:
            os.rename(scratch / "tree", target)
        except OSError:
            # Someone else finished first (the target exists now) or a stale partial folder is
            # in the way: use a finished one, else replace what is there.
            if not (marker.is_file() and json.loads(marker.read_text()) == settings):
                shutil.rmtree(target, ignore_errors=True)
                os.rename(scratch / "tree", target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.data.synthetic``: write a synthetic VOC tree."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.data.synthetic",
        description="Write synthetic scenes (JPEG, XML, split lists, PNG masks) in VOC's layout.",
        epilog=(
            "examples:\n"
            "  python -m helpers.data.synthetic --out data/synthetic\n"
            "  python -m helpers.data.synthetic --out /tmp/s --seed 7 --train 100 --val 20 "
            "--test 20 --size 96"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, help="an empty or new folder for the tree")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--train", type=int, default=2000, help="training images (default 2000)")
    parser.add_argument("--val", type=int, default=500, help="validation images (default 500)")
    parser.add_argument("--test", type=int, default=500, help="test images (default 500)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    args = parser.parse_args(argv)
    try:
        out = make_synthetic_voc(
            args.out,
            seed=args.seed,
            train=args.train,
            val=args.val,
            test=args.test,
            size=args.size,
            workers=args.workers,
        )
    except (FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    total = args.train + args.val + args.test
    print(f"{total} synthetic scenes ({args.size} x {args.size}) are in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
