"""Draw one synthetic scene: ``render_scene``, the image, its VOC mask and its objects.

One job: the drawing behind :mod:`helpers.data.synthetic` (which writes the scenes as a VOC
tree). Each image shows 1 to 4 objects of the shape classes (:data:`SYNTHETIC_CLASSES`) on a
cluttered, textured background; colour, size, rotation, texture and position vary at random and
are never tied to the class. Every scene depends only on ``(seed, number, size, classes)``.

A second set of shapes, :data:`PRETRAIN_CLASSES`, shares no class with :data:`SYNTHETIC_CLASSES`:
the kit's own ResNet-18 backbone (:mod:`helpers.models.kit_backbone`) is pretrained on scenes of
those, a task no assignment grades. ``render_scene(..., classes=PRETRAIN_CLASSES)`` draws them on
the same kind of backgrounds; the default draws exactly what it drew before the second set existed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from helpers.data.voc import IGNORE_INDEX

__all__ = ["PRETRAIN_CLASSES", "SHAPES", "SYNTHETIC_CLASSES", "render_scene"]

#: The shape classes, in target order (class k is mask index k + 1).
SYNTHETIC_CLASSES = ("circle", "ring", "crescent", "triangle", "square", "hexagon", "star", "cross")
#: The pretraining task's shape classes (the kit's backbone): none is in SYNTHETIC_CLASSES.
PRETRAIN_CLASSES = (
    "pentagon",
    "octagon",
    "ellipse",
    "rhombus",
    "trapezoid",
    "heart",
    "arrow",
    "chevron",
)
#: Every shape :func:`render_scene` can draw.
SHAPES = SYNTHETIC_CLASSES + PRETRAIN_CLASSES
SUPERSAMPLE = 2  # shapes are drawn at 2x and averaged down: smooth edges, cheap
MIN_IN_VIEW = 0.3  # an object placed so that less of it shows is placed again
DIFFICULT_IN_VIEW = 0.5
DIFFICULT_CONTRAST = 0.15  # mean absolute RGB difference (0..1) from what lies behind it
MAX_PLACEMENT_TRIES = 20


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
    # The pretraining shapes (PRETRAIN_CLASSES). Elongated ones (ellipse, rhombus) are squashed
    # well past the circle's and square's own jitter, so no class overlaps a course class.
    if cls == "pentagon":
        return [regular(5, r) * rng.uniform(0.92, 1.08, size=(5, 1))]
    if cls == "octagon":
        return [regular(8, r)]
    if cls == "ellipse":
        return [ellipse(r, r * rng.uniform(0.42, 0.62))]
    if cls == "rhombus":
        thin = rng.uniform(0.42, 0.62)
        return [turned(np.array([[r, 0], [0, r * thin], [-r, 0], [0, -r * thin]], dtype=float))]
    if cls == "trapezoid":
        top, half_height = r * rng.uniform(0.35, 0.6), r * rng.uniform(0.55, 0.7)
        corners = [[-r, half_height], [r, half_height], [top, -half_height], [-top, -half_height]]
        return [turned(np.array(corners, dtype=float))]
    if cls == "heart":
        # The classic parametric heart (x = 16 sin^3 t, y = 13 cos t - 5 cos 2t - ...), y down.
        t = 2 * np.pi * np.arange(48) / 48
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        return [turned(np.stack([x, y + 2.5], axis=1) * (r / 17))]
    if cls == "arrow":
        shaft = r * rng.uniform(0.18, 0.26)  # half the shaft's width
        head, neck = r * rng.uniform(0.5, 0.65), r * rng.uniform(0.05, 0.25)
        corners = [[-r, -shaft], [neck, -shaft], [neck, -head], [r, 0],
                   [neck, head], [neck, shaft], [-r, shaft]]  # fmt: skip
        return [turned(np.array(corners, dtype=float))]
    if cls == "chevron":
        arm = r * rng.uniform(0.3, 0.42)  # thickness of each arm, along y
        corners = [[-r, -0.5 * r], [0, 0.5 * r - arm], [r, -0.5 * r],
                   [r, -0.5 * r + arm], [0, 0.5 * r], [-r, -0.5 * r + arm]]  # fmt: skip
        return [turned(np.array(corners, dtype=float))]
    raise ValueError(f"Unknown shape class {cls!r}. Valid values are {set(SHAPES)}.")


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


def render_scene(
    seed: int, number: int, size: int = 128, classes: Sequence[str] = SYNTHETIC_CLASSES
) -> tuple[np.ndarray, np.ndarray, list]:
    """Draw scene ``number`` of ``seed``.

    Args:
        seed, number: which scene; the same pair (with the same size and classes) always gives
            the same arrays.
        size: image side in pixels.
        classes: the shape classes objects are drawn from, in target order, all from
            :data:`SHAPES`: :data:`SYNTHETIC_CLASSES` (the assignments' scenes, the default) or
            :data:`PRETRAIN_CLASSES` (the kit backbone's pretraining scenes).

    Returns:
        image: uint8 (size, size, 3) RGB;
        mask: uint8 (size, size), 0 background, k + 1 for ``classes[k]``, 255 ignored;
        objects: one ``(class name, (xmin, ymin, xmax, ymax) 1-based, truncated, difficult)``
        per object, in drawing order (later ones lie on top).

    Raises:
        ValueError: ``classes`` is empty, repeats a name or names a shape not in :data:`SHAPES`.
    """
    classes = tuple(classes)
    unknown = [name for name in classes if name not in SHAPES]
    if unknown or not classes or len(set(classes)) != len(classes):
        raise ValueError(
            f"Expected classes to be distinct names from {SHAPES}; got {classes}"
            + (f" ({', '.join(map(repr, unknown))} unknown)." if unknown else ".")
            + " Use SYNTHETIC_CLASSES or PRETRAIN_CLASSES."
        )
    # Another class set draws from its own random stream: its scenes share no background or
    # layout with the course's scenes of the same seed and number (hidden sets included).
    stream = [] if classes == SYNTHETIC_CLASSES else [SHAPES.index(name) + 1 for name in classes]
    rng = np.random.default_rng([seed, number, *stream])
    image = _background(rng, size)
    owner = np.zeros((size, size), dtype=np.int16)  # which object each pixel shows (0 = none)
    edge = np.zeros((size, size), dtype=bool)  # pixels blended from an object and its backdrop
    placed: list[dict] = []
    n_objects = int(rng.integers(1, 5))
    for _ in range(n_objects):
        cls = int(rng.integers(len(classes)))
        for _try in range(MAX_PLACEMENT_TRIES):
            r = rng.uniform(0.11, 0.26) * size
            cx, cy = rng.uniform(0.08, 0.92, size=2) * size
            theta = rng.uniform(0, 2 * np.pi)
            polygons = _outline(classes[cls], r, theta, rng)
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
        objects.append((classes[o["cls"]], bbox, o["truncated"], difficult))
    mask = lut[owner]
    mask[edge] = IGNORE_INDEX
    return (image * 255 + 0.5).astype(np.uint8), mask, objects
