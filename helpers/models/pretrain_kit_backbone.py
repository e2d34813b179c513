"""Pretrain the kit's own ResNet-18 backbone (``RESNET18_KIT``) on a task no assignment grades.

    python -m helpers.models.pretrain_kit_backbone \\
        --out helpers/models/weights/resnet18_kit_shapes_v1.pt \\
        [--images N] [--epochs E] [--size S] [--seed SEED] [--threads 1]

The task: multi-label classification (BCE) of synthetic scenes whose objects are the shapes of
:data:`helpers.data.scenes.PRETRAIN_CLASSES` (pentagon, octagon, ellipse, ...; none of them a
class of any assignment), drawn from their own seed (default 1515; the course's public trees use
seed 0 and hidden sets private seeds) on the same kind of cluttered backgrounds. Scenes are drawn
at 128 px, as the course's trees are; half are zoomed in to a random square that holds all
their objects (the assignments show objects from about 15 px wide in 64 px scenes to about
50 px in 64 px crops); all are shrunk to ``--size`` px (64-96 keeps a 2-core CPU run within
the hour). The network is torchvision's ResNet-18 with an 8-way head; only the
backbone (every tensor but ``fc``) is saved, in half precision, as a plain state dict.

Everything is seeded and runs on ``--threads`` CPU threads (default 1), so the same command on
the same torch build gives the same file. The command prints the file's SHA-256, its held-out
mAP (measured with the half-precision weights as saved, on ``--val`` scenes that training never
saw), the time taken and the load average: the fields of :data:`RESNET18_KIT`'s card.

An instructor tool: the student wheel leaves this module out (``autograder.student_wheel``);
students get the file itself.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from helpers.data.scenes import PRETRAIN_CLASSES, render_scene

__all__ = ["render_pretraining_set", "save_backbone", "train_backbone"]

SCENE_SIZE = 128  # the course's trees are 128 px: draw the same, then shrink like students do


def _zoom_box(objects: list, rng: np.random.Generator) -> tuple[int, int, int]:
    """A random square ``(x0, y0, side)`` of the 128 px scene that holds every object's box.

    Why: the assignments show objects at very different scales (a 64 px scene's objects are
    14-33 px wide, a 64 px crop's about 50 px), so half the pretraining scenes are zoomed in.
    Keeping every box inside keeps the multi-label targets exact.
    """
    boxes = np.array([box for _, box, _, _ in objects]) - 1  # 0-based, inclusive
    x0, y0 = boxes[:, :2].min(0)
    x1, y1 = boxes[:, 2:].max(0) + 1
    smallest = min(SCENE_SIZE, int(np.ceil(max(x1 - x0, y1 - y0) * 1.15)))
    side = int(rng.integers(smallest, SCENE_SIZE + 1))
    left = int(rng.integers(max(0, x1 - side), min(x0, SCENE_SIZE - side) + 1))
    top = int(rng.integers(max(0, y1 - side), min(y0, SCENE_SIZE - side) + 1))
    return left, top, side


def render_pretraining_set(
    seed: int, first: int, count: int, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scenes ``first .. first + count - 1`` of ``seed`` with the pretraining shapes.

    Each scene is drawn at 128 px; half of them (chosen from ``(seed, number)``) are cut to a
    random square holding all their objects (:func:`_zoom_box`); then shrunk to ``size`` px.

    Returns:
        images: uint8 (count, 3, size, size);
        targets: int64 (count, 8) in PRETRAIN_CLASSES' order: 1 present, 0 absent, -1 present
            only as a difficult object (ignored by the loss and the mAP, as in VOC).
    """
    images = torch.empty(count, 3, size, size, dtype=torch.uint8)
    targets = torch.zeros(count, len(PRETRAIN_CLASSES), dtype=torch.int64)
    for i in range(count):
        image, _, objects = render_scene(seed, first + i, SCENE_SIZE, classes=PRETRAIN_CLASSES)
        chw = torch.from_numpy(image).permute(2, 0, 1)[None].float()
        rng = np.random.default_rng([seed, first + i, 1])  # the zoom's own stream
        if objects and rng.random() < 0.5:
            left, top, side = _zoom_box(objects, rng)
            chw = chw[:, :, top : top + side, left : left + side]
        if chw.shape[-1] != size:
            chw = F.interpolate(chw, size=(size, size), mode="bilinear", antialias=True)
        images[i] = chw[0].round().clamp(0, 255).to(torch.uint8)
        for name, _, _, difficult in objects:
            k = PRETRAIN_CLASSES.index(name)
            if not difficult:
                targets[i, k] = 1
            elif targets[i, k] == 0:
                targets[i, k] = -1
    return images, targets


def _channel_mean_std(images: torch.Tensor, chunk: int = 1000) -> tuple[torch.Tensor, ...]:
    """Per-channel mean and std of uint8 (N, 3, S, S) images scaled to [0, 1], rounded to 3
    decimals (the card's numbers), each float32 (1, 3, 1, 1). Summed in float64 chunks so the
    whole set is never held as floats (16,000 images at 80 px would take 1.2 GB)."""
    total = torch.zeros(3, dtype=torch.float64)
    squares = torch.zeros(3, dtype=torch.float64)
    for start in range(0, len(images), chunk):
        x = images[start : start + chunk].double().div_(255)
        total += x.sum((0, 2, 3))
        squares += x.square().sum((0, 2, 3))
    n = images.numel() // 3
    mean = total / n
    std = (squares / n - mean.square()).sqrt()
    return tuple(v.round(decimals=3).float().view(1, 3, 1, 1) for v in (mean, std))


def _batches(images, targets, mean, std, batch_size, generator=None):
    """Yield normalised float batches; shuffled and randomly flipped when ``generator`` is set.
    Flips keep every label: each pretraining shape is itself under a mirror (rotation is random
    already)."""
    order = (
        torch.randperm(len(images), generator=generator)
        if generator is not None
        else torch.arange(len(images))
    )
    for start in range(0, len(images), batch_size):
        index = order[start : start + batch_size]
        x = images[index].float().div_(255)
        if generator is not None:
            flip = torch.rand(len(index), 2, generator=generator) < 0.5
            x[flip[:, 0]] = x[flip[:, 0]].flip(-1)
            x[flip[:, 1]] = x[flip[:, 1]].flip(-2)
        yield (x - mean) / std, targets[index]


def held_out_map(model: nn.Module, images, targets, mean, std, batch_size: int = 256) -> float:
    """mAP (in [0, 1]) of ``model`` on uint8 ``images`` (N, 3, S, S) with ``targets`` (N, 8)."""
    from helpers.metrics import mean_average_precision

    model.eval()
    with torch.no_grad():
        scores = torch.cat([model(x) for x, _ in _batches(images, targets, mean, std, batch_size)])
    return mean_average_precision(scores, targets)


def train_backbone(
    *,
    images: int,
    epochs: int,
    size: int,
    seed: int,
    val: int,
    batch_size: int = 32,
    lr: float = 2e-3,
    log: Callable[[str], None] | None = None,
) -> tuple[nn.Module, dict]:
    """Train torchvision's ResNet-18 (8-way head) on ``images`` pretraining scenes.

    Returns:
        the trained model (float32, eval mode) and a summary: ``mean``/``std`` (per channel,
        measured on the training images), the held-out data, per-epoch losses and mAPs, times.
    """
    log = log or functools.partial(print, flush=True)
    started = time.monotonic()
    torch.manual_seed(seed)
    train_x, train_y = render_pretraining_set(seed, 1, images, size)
    val_x, val_y = render_pretraining_set(seed, images + 1, val, size)
    drawn = time.monotonic() - started
    log(f"drew {images} + {val} scenes at {size} px in {drawn:.0f} s")
    mean, std = _channel_mean_std(train_x)

    model = torchvision.models.resnet18(weights=None, num_classes=len(PRETRAIN_CLASSES))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * -(-images // batch_size)
    # One-cycle: warm-up then annealing, the usual choice for a short fixed budget.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    history = {"loss": [], "val_map": [], "epoch_seconds": []}
    # A plain loop rather than helpers.train.fit: the file must not depend on the fit loop's
    # options (progress, logging, early stopping) as they evolve.
    for epoch in range(epochs):
        model.train()
        tick, total, seen = time.monotonic(), 0.0, 0
        for x, y in _batches(train_x, train_y, mean, std, batch_size, generator):
            logits = model(x)
            known = y >= 0  # difficult-only classes count neither way
            loss = F.binary_cross_entropy_with_logits(logits[known], y[known].float())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total, seen = total + loss.item() * len(x), seen + len(x)
        seconds = time.monotonic() - tick
        score = held_out_map(model, val_x, val_y, mean, std)
        history["loss"].append(total / seen)
        history["val_map"].append(score)
        history["epoch_seconds"].append(seconds)
        log(
            f"epoch {epoch + 1}/{epochs}: loss {total / seen:.4f}, held-out mAP {score:.4f}, "
            f"{seconds:.0f} s ({seen / seconds:.1f} img/s), load {os.getloadavg()[0]:.1f}"
        )
    model.eval()
    summary = {"mean": mean, "std": std, "val": (val_x, val_y), "history": history,
               "draw_seconds": drawn, "seconds": time.monotonic() - started}  # fmt: skip
    return model, summary


def save_backbone(model: nn.Module, out: Path) -> bytes:
    """Write every tensor of ``model`` but ``fc`` to ``out`` in half precision (a plain state
    dict, for ``torch.load(weights_only=True)``); returns the bytes written."""
    state = {
        k: v.detach().half() if v.is_floating_point() else v.detach()
        for k, v in model.state_dict().items()
        if not k.startswith("fc.")
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_bytes(data)
    tmp.replace(out)  # atomic: a reader never sees half a file
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.models.pretrain_kit_backbone``: pretrain and save the backbone."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.models.pretrain_kit_backbone",
        description="Pretrain the kit's ResNet-18 backbone on synthetic scenes of shapes no "
        "assignment grades; save the backbone in half precision and print its card's fields.",
        epilog="examples:\n  python -m helpers.models.pretrain_kit_backbone --out /tmp/kit.pt "
        "--images 500 --epochs 1   # a quick try\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help="the weight file to write")
    parser.add_argument("--images", type=int, default=20000, help="training scenes (20000)")
    parser.add_argument("--epochs", type=int, default=4, help="passes over them (4)")
    parser.add_argument("--size", type=int, default=64, help="image side in px, 64-96 (64)")
    parser.add_argument("--val", type=int, default=1000, help="held-out scenes (1000)")
    parser.add_argument("--seed", type=int, default=1515, help="scenes and training seed (1515)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (32)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate (2e-3)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1)")
    args = parser.parse_args(argv)
    if args.images < 1 or args.epochs < 1 or args.val < 1 or not 32 <= args.size <= 256:
        parser.error("--images, --epochs and --val must be >= 1 and --size within 32..256")

    torch.set_num_threads(args.threads)
    command = "python -m helpers.models.pretrain_kit_backbone " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    load_before = os.getloadavg()
    model, summary = train_backbone(
        images=args.images,
        epochs=args.epochs,
        size=args.size,
        seed=args.seed,
        val=args.val,
        batch_size=args.batch_size,
        lr=args.lr,
    )
    data = save_backbone(model, args.out)
    # Score the file as saved: the half-precision backbone, back in float32, with the head.
    model.load_state_dict(
        {k: v.float() if v.is_floating_point() else v
         for k, v in torch.load(io.BytesIO(data), weights_only=True).items()}, strict=False
    )  # fmt: skip
    score = held_out_map(model, *summary["val"], summary["mean"], summary["std"])
    mean = tuple(round(float(v), 3) for v in summary["mean"].flatten())
    std = tuple(round(float(v), 3) for v in summary["std"].flatten())
    minutes = summary["seconds"] / 60
    load_after = os.getloadavg()
    print(f"wrote {args.out} ({len(data) / 2**20:.1f} MiB)")
    print(f"sha256 {hashlib.sha256(data).hexdigest()}")
    print(f"held-out mAP (the saved half-precision file, {args.val} scenes) {100 * score:.2f}%")
    print(f"mean {mean} std {std}")
    print(
        f"took {minutes:.1f} min on {args.threads} thread(s) of {os.cpu_count()} cores "
        f"(torch {torch.__version__}); load average before {load_before[0]:.1f}, "
        f"after {load_after[0]:.1f} (1 min), {load_after[2]:.1f} (15 min)"
    )
    print(f"command: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
