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

Why over ~400 lines: one generator: the class table, the scene renderer and the tree writer
share the class constants; the rendering (``_outline`` to ``render_scene``) could move to its own
module with those constants, and is left for a follow-up.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from helpers.data.voc import IGNORE_INDEX, VOC_PALETTE

__all__ = [
    "SUPERCLASS_OF",
    "SYNTHETIC_CLASSES",
    "SYNTHETIC_SUPERCLASSES",
    "make_synthetic_voc",
    "to_superclass_mask",
]

#: The shape classes, in target order (class k is mask index k + 1).
SYNTHETIC_CLASSES = ("circle", "ring", "crescent", "triangle", "square", "hexagon", "star", "cross")
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
SUPERSAMPLE = 2  # shapes are drawn at 2x and averaged down: smooth edges, cheap
MIN_IN_VIEW = 0.3  # an object placed so that less of it shows is placed again
DIFFICULT_IN_VIEW = 0.5
DIFFICULT_CONTRAST = 0.15  # mean absolute RGB difference (0..1) from what lies behind it
MAX_PLACEMENT_TRIES = 20


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
# Drawing. Everything is NumPy or PIL on small arrays: no per-pixel Python loops.


def _outline(cls: str, r: float, theta: float, rng: np.random.Generator) -> list[np.ndarray]:
    """The shape as polygons (x, y offsets from its centre, in pixels). The first is filled;
    any further ones are cut out (the ring's hole, the crescent's bite)."""

    def regular(n: int, radius: float, turn: float = theta) -> np.ndarray:
        a = turn + 2 * np.pi * np.arange(n) / n
        return np.stack([radius * np.cos(a), radius * np.sin(a)], axis=1)

    def ellipse(rx: float, ry: float, turn: float = theta) -> np.ndarray:
        a = 2 * np.pi * np.arange(48) / 48
        x, y = rx * np.cos(a), ry * np.sin(a)
        c, s = math.cos(turn), math.sin(turn)
        return np.stack([c * x - s * y, s * x + c * y], axis=1)

    def turned(points: np.ndarray) -> np.ndarray:
        c, s = math.cos(theta), math.sin(theta)
        return points @ np.array([[c, s], [-s, c]])

    if cls == "circle":
        squash = rng.uniform(0.88, 1.0)
        return [ellipse(r, r * squash)]
    if cls == "ring":
        hole = rng.uniform(0.45, 0.62)
        return [ellipse(r, r), ellipse(r * hole, r * hole)]
    if cls == "crescent":
        shift = rng.uniform(0.35, 0.55) * r
        bite = ellipse(r * rng.uniform(0.8, 0.95), r * rng.uniform(0.8, 0.95))
        return [ellipse(r, r), bite + np.array([shift * math.cos(theta), shift * math.sin(theta)])]
    if cls == "triangle":
        return [regular(3, r) * rng.uniform(0.9, 1.1, size=(3, 1))]
    if cls == "square":
        side = r / math.sqrt(2)
        aspect = rng.uniform(0.85, 1.0)
        box = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float) * [side, side * aspect]
        return [turned(box)]
    if cls == "hexagon":
        return [regular(6, r)]
    if cls == "star":
        inner = rng.uniform(0.38, 0.5)
        tips = regular(10, 1.0) * np.where(np.arange(10) % 2 == 0, r, r * inner)[:, None]
        return [tips]
    if cls == "cross":
        w = r * rng.uniform(0.28, 0.38)  # half the width of an arm
        corners = np.array(
            [
                *[(w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r)],
                *[(-w, r), (-w, w), (-r, w), (-r, -w), (-w, -w), (-w, -r)],
            ],
            dtype=float,
        )
        return [turned(corners)]
    raise ValueError(f"Unknown shape class {cls!r}. Valid values are {set(SYNTHETIC_CLASSES)}.")


def _alpha(
    polygons: list[np.ndarray], cx: float, cy: float, r: float
) -> tuple[np.ndarray, int, int]:
    """Coverage of the shape, float32 (L, L) in [0, 1], and the image position (x0, y0) of its
    top-left pixel. Drawn at ``SUPERSAMPLE`` x and averaged down, so edges are anti-aliased."""
    half = math.ceil(r * 1.05) + 2
    x0, y0 = math.floor(cx) - half, math.floor(cy) - half
    side = 2 * half + 1
    canvas = Image.new("L", (side * SUPERSAMPLE, side * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(canvas)
    for k, poly in enumerate(polygons):
        points = (poly + np.array([cx - x0, cy - y0])) * SUPERSAMPLE
        draw.polygon([tuple(p) for p in points.tolist()], fill=255 if k == 0 else 0)
    small = np.asarray(canvas.reduce(SUPERSAMPLE), dtype=np.float32) / 255.0
    return small, x0, y0


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.0, 1.0, size=3).astype(np.float32)


def _texture(rng: np.random.Generator, x0: int, y0: int, h: int, w: int) -> np.ndarray:
    """A random fill, float32 (h, w, 3) in [0, 1]: solid, stripes, checks, dots, noise or a
    gradient, in two random colours."""
    c1 = _random_colour(rng)
    c2 = np.clip(c1 + rng.normal(0.0, 0.4, size=3), 0, 1).astype(np.float32)
    yy, xx = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = xx * math.cos(angle) + yy * math.sin(angle)
    v = -xx * math.sin(angle) + yy * math.cos(angle)
    period = rng.uniform(3.0, 9.0)
    kind = rng.integers(6)
    if kind == 0:
        pick = np.zeros((h, w), dtype=np.float32)
    elif kind == 1:
        pick = (np.mod(u / period, 1.0) < 0.5).astype(np.float32)
    elif kind == 2:
        pick = (np.mod(np.floor(u / period) + np.floor(v / period), 2)).astype(np.float32)
    elif kind == 3:
        du, dv = np.mod(u, period) - period / 2, np.mod(v, period) - period / 2
        pick = (du * du + dv * dv < (period / 3.2) ** 2).astype(np.float32)
    elif kind == 4:
        noise = rng.normal(0.0, 0.12, size=(h, w, 3)).astype(np.float32)
        return np.clip(c1 + noise, 0, 1)
    else:
        span = max(u.max() - u.min(), 1.0)
        pick = (u - u.min()) / span
    pick = pick[..., None]
    return c1 * (1 - pick) + c2 * pick


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A cluttered background, float32 (size, size, 3): a two-colour gradient, blotches of
    low-frequency colour noise, then lines, arcs and specks that belong to no class."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (xx * math.cos(angle) + yy * math.sin(angle))[..., None]
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    image = _random_colour(rng) * (1 - ramp) + _random_colour(rng) * ramp
    blotches = rng.uniform(-0.25, 0.25, size=(4, 4, 3)).astype(np.float32)
    blotch_image = Image.fromarray(((blotches + 0.25) * 510).astype(np.uint8))
    smooth = np.asarray(blotch_image.resize((size, size), Image.BILINEAR), np.float32) / 510 - 0.25
    image = np.clip(image + smooth, 0, 1)

    canvas = Image.fromarray((image * 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(3, 11))):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x1, y1, x2, y2 = (float(c) for c in rng.uniform(-0.1, 1.1, size=4) * size)
        kind = rng.integers(3)
        width = int(rng.integers(1, max(2, size // 40) + 1))
        if kind == 0:
            draw.line([(x1, y1), (x2, y2)], fill=colour, width=width)
        elif kind == 1:
            box = sorted((x1, x2)), sorted((y1, y2))
            start = float(rng.uniform(0, 360))
            draw.arc(
                [box[0][0], box[1][0], box[0][1], box[1][1]],
                start,
                start + float(rng.uniform(40, 200)),
                fill=colour,
                width=width,
            )
        else:
            dot = float(rng.uniform(0.5, 2.5)) * size / 128
            draw.ellipse([x1 - dot, y1 - dot, x1 + dot, y1 + dot], fill=colour)
    return np.asarray(canvas, dtype=np.float32) / 255.0


def _clip_box(x0: int, y0: int, h: int, w: int, size: int):
    """Image slice and local slice of a (h, w) patch at (x0, y0), cut to the image."""
    ix0, iy0 = max(x0, 0), max(y0, 0)
    ix1, iy1 = min(x0 + w, size), min(y0 + h, size)
    if ix0 >= ix1 or iy0 >= iy1:
        return None
    return (
        (slice(iy0, iy1), slice(ix0, ix1)),
        (slice(iy0 - y0, iy1 - y0), slice(ix0 - x0, ix1 - x0)),
    )


def render_scene(seed: int, number: int, size: int = 128) -> tuple[np.ndarray, np.ndarray, list]:
    """Draw scene ``number`` of ``seed``.

    Returns:
        image: uint8 (size, size, 3) RGB;
        mask: uint8 (size, size), 0 background, k + 1 for class k, 255 ignored;
        objects: one ``(class name, (xmin, ymin, xmax, ymax) 1-based, truncated, difficult)``
        per object, in drawing order (later ones lie on top).
    """
    rng = np.random.default_rng([seed, number])
    image = _background(rng, size)
    owner = np.zeros((size, size), dtype=np.int16)  # which object each pixel shows (0 = none)
    edge = np.zeros((size, size), dtype=bool)  # pixels blended from an object and its backdrop
    placed: list[dict] = []
    n_objects = int(rng.integers(1, 5))
    for _ in range(n_objects):
        cls = int(rng.integers(len(SYNTHETIC_CLASSES)))
        for _try in range(MAX_PLACEMENT_TRIES):
            r = rng.uniform(0.11, 0.26) * size
            cx, cy = rng.uniform(0.08, 0.92, size=2) * size
            theta = rng.uniform(0, 2 * np.pi)
            polygons = _outline(SYNTHETIC_CLASSES[cls], r, theta, rng)
            alpha, x0, y0 = _alpha(polygons, cx, cy, r)
            inside = alpha >= 0.5
            full = int(inside.sum())
            cut = _clip_box(x0, y0, *alpha.shape, size)
            if cut is None or full == 0:
                continue
            (img_sl, loc_sl) = cut
            cover = inside[loc_sl]
            if cover.sum() < MIN_IN_VIEW * full:
                continue
            # Would the new object hide too much of an earlier one?
            hidden = np.bincount(owner[img_sl][cover].ravel(), minlength=len(placed) + 1)
            if any(
                o["shown"] - hidden[j + 1] < MIN_IN_VIEW * o["full"] for j, o in enumerate(placed)
            ):
                continue
            break
        else:
            continue  # no room left in this scene: fewer objects
        h, w = alpha.shape
        texture = _texture(rng, x0, y0, h, w)[loc_sl]
        a = alpha[loc_sl][..., None]
        behind = image[img_sl].copy()
        image[img_sl] = behind * (1 - a) + texture * a
        contrast = float(np.abs(texture - behind)[cover].mean())
        for j, o in enumerate(placed):
            o["shown"] -= int(hidden[j + 1])
        owner[img_sl][cover] = len(placed) + 1
        a2 = alpha[loc_sl]
        region_edge = edge[img_sl]
        region_edge[a2 >= 1.0] = False
        region_edge[(a2 > 0.0) & (a2 < 1.0)] = True
        placed.append(
            {
                "cls": cls,
                "full": full,
                "shown": int(cover.sum()),
                "contrast": contrast,
                "truncated": bool(cover.sum() < full),
            }
        )

    image = np.clip(image + rng.normal(0.0, 0.02, size=image.shape).astype(np.float32), 0, 1)
    lut = np.zeros(len(placed) + 1, dtype=np.uint8)  # object number -> mask value
    objects = []
    for j, o in enumerate(placed):
        difficult = o["shown"] < DIFFICULT_IN_VIEW * o["full"] or o["contrast"] < DIFFICULT_CONTRAST
        lut[j + 1] = IGNORE_INDEX if difficult else o["cls"] + 1
        ys, xs = np.nonzero(owner == j + 1)
        bbox = (int(xs.min()) + 1, int(ys.min()) + 1, int(xs.max()) + 1, int(ys.max()) + 1)
        objects.append((SYNTHETIC_CLASSES[o["cls"]], bbox, o["truncated"], difficult))
    mask = lut[owner]
    mask[edge] = IGNORE_INDEX
    return (image * 255 + 0.5).astype(np.uint8), mask, objects


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
