"""Does the kit's own pretrained ResNet-18 transfer? Fine-tuned against trained from scratch.

    python bench/kit_backbone.py [--per-class 25] [--test 600] [--epochs 15] [--seeds 0 1 2]
        [--modes scratch probe last_block full] [--kit-file FILE] [--threads 1]

The task is a4's (``a4_transfer_resnet``): single-label crops of the 8 ``SYNTHETIC_CLASSES``
objects of the public synthetic tree (``synthetic_voc()``: seed 0, 128 px scenes). Training
crops come from its train split, ``--per-class`` of each class chosen at random per seed (25 x 8
= 200 labelled crops, the issue's low-data regime); held-out crops are the first ``--test`` of
its test split. A crop is the object's box grown to a square with 15% margin on each side,
resized to 64 px, difficult objects and boxes under 8 px skipped: ``helpers.data.crops`` (a4's)
when it is installed, else the same rules here.

Every mode trains torchvision's ResNet-18 with a new 8-way head for the same budget (the seed
report's recipe: Adam, lr 1e-3, x0.1 every 5 epochs; batch 32; random flips), on the same crops,
normalised with the kit backbone's mean and std:

- ``scratch``: random initialisation, every layer trains;
- ``probe``: the kit's backbone frozen (BatchNorm statistics too), only ``fc`` trains;
- ``last_block``: the kit's backbone with ``layer4`` and ``fc`` training (the seed recipe);
- ``full``: the kit's backbone, every layer trains.

It prints one line per run and a table: held-out accuracy (mean and spread over seeds) and
seconds per run, with the load average. ``--kit-file`` scores another file (e.g. a trial
pretraining) in place of ``RESNET18_KIT``'s.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.models import RESNET18_KIT, freeze_all_but, resnet18  # noqa: E402

MODES = ("scratch", "probe", "last_block", "full")
TRAINABLE = {"scratch": None, "probe": ("fc",), "last_block": ("layer4", "fc"), "full": None}
CROP_SIZE, CROP_MARGIN, CROP_MIN_SIDE = 64, 0.15, 8  # a4's helpers.data.crops defaults


def _crops_here(tree: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, S, S, 3) crops and int64 (N,) labels of a split, by a4's rules (used only
    when helpers.data.crops is not installed yet)."""
    from helpers.data.voc import read_annotation, read_classes

    classes = read_classes(tree)
    ids = (tree / "ImageSets" / "Main" / f"{split}.txt").read_text().split()
    images, labels = [], []
    for image_id in ids:
        scene = Image.open(tree / "JPEGImages" / f"{image_id}.jpg").convert("RGB")
        for obj in read_annotation(tree / "Annotations" / f"{image_id}.xml").objects:
            xmin, ymin, xmax, ymax = obj.bbox
            if obj.difficult or min(xmax - xmin + 1, ymax - ymin + 1) < CROP_MIN_SIDE:
                continue
            left, top, right, bottom = xmin - 1, ymin - 1, xmax, ymax
            half = max(right - left, bottom - top) * (1 + 2 * CROP_MARGIN) / 2
            cx, cy = (left + right) / 2, (top + bottom) / 2
            box = (cx - half, cy - half, cx + half, cy + half)
            crop = scene.transform(
                (CROP_SIZE, CROP_SIZE), Image.Transform.EXTENT, box, Image.Resampling.BILINEAR
            )
            images.append(np.asarray(crop, dtype=np.uint8))
            labels.append(classes.index(obj.name))
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def load_crops(split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Crops of the public tree's ``split``; the third value says which code cut them."""
    from helpers.data.synthetic import synthetic_voc

    tree = synthetic_voc()
    try:
        from helpers.data.crops import object_crops
    except ImportError:
        return (*_crops_here(tree, split), "bench/kit_backbone.py (a4's rules)")
    crops = object_crops(tree, split, size=CROP_SIZE)
    return crops.images, crops.labels, "helpers.data.crops.object_crops"


def pick_per_class(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` random crops of every class (all crops when 0), shuffled."""
    rng = np.random.default_rng(seed)
    if per_class == 0:
        return rng.permutation(len(labels))
    picked = [rng.choice(np.flatnonzero(labels == k), per_class, replace=False)
              for k in np.unique(labels)]  # fmt: skip
    return rng.permutation(np.concatenate(picked))


def _set_train_mode(model: nn.Module, trainable: tuple[str, ...] | None) -> None:
    """``model.train()``, but frozen parts (BatchNorm included) stay in eval mode, so their
    running statistics stay the pretrained ones."""
    model.train()
    if trainable is None:
        return
    for name, module in model.named_children():
        if name not in trainable:
            module.eval()


def run(mode, data, *, epochs, seed, kit, normalize, batch_size=32) -> tuple[float, float]:
    """Train one model; returns (held-out accuracy in %, seconds)."""
    (train_x, train_y), (test_x, test_y) = data
    torch.manual_seed(seed)
    model = resnet18(num_classes=8, weights=None if mode == "scratch" else kit)
    trainable = TRAINABLE[mode]
    if trainable is not None:
        freeze_all_but(model, *trainable)
    optimizer = torch.optim.Adam((p for p in model.parameters() if p.requires_grad), lr=1e-3)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.1)
    generator = torch.Generator().manual_seed(seed)
    started = time.monotonic()
    for _ in range(epochs):
        _set_train_mode(model, trainable)
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            x = train_x[index].float().div_(255)
            flip = torch.rand(len(index), 2, generator=generator) < 0.5
            x[flip[:, 0]] = x[flip[:, 0]].flip(-1)
            x[flip[:, 1]] = x[flip[:, 1]].flip(-2)
            loss = F.cross_entropy(model(normalize(x)), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        schedule.step()
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(normalize(test_x[i : i + 256].float() / 255)).argmax(1)
                               for i in range(0, len(test_x), 256)])  # fmt: skip
    accuracy = 100 * (predicted == test_y).float().mean().item()
    return accuracy, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=25, help="training crops per class "
                        "(25: 200 in all; 0: every train crop)")  # fmt: skip
    parser.add_argument("--test", type=int, default=600, help="held-out crops (600)")
    parser.add_argument("--epochs", type=int, default=15, help="epochs for every mode (15)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="runs per mode")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--kit-file", type=Path, help="score this file instead of the kit's")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    kit = RESNET18_KIT
    if args.kit_file is not None:
        digest = hashlib.sha256(args.kit_file.read_bytes()).hexdigest()
        kit = dataclasses.replace(kit, folder=args.kit_file.resolve().parent,
                                  file_name=args.kit_file.name, sha256=digest)  # fmt: skip
    normalize = kit.normalize
    images, labels, cutter = load_crops("train")
    test_images, test_labels, _ = load_crops("test")
    test_x = torch.from_numpy(test_images[: args.test]).permute(0, 3, 1, 2).contiguous()
    test_y = torch.from_numpy(test_labels[: args.test])
    load = os.getloadavg()[0]
    print(f"crops by {cutter}: {len(labels)} train, {len(test_y)} held out (test split); kit "
          f"weights {kit.file_name} sha256 {kit.sha256[:12]}; load {load:.1f}")  # fmt: skip

    results: dict[str, list[tuple[float, float]]] = {mode: [] for mode in args.modes}
    for seed in args.seeds:
        index = pick_per_class(labels, args.per_class, seed)
        train_x = torch.from_numpy(images[index]).permute(0, 3, 1, 2).contiguous()
        train_y = torch.from_numpy(labels[index])
        for mode in args.modes:
            accuracy, seconds = run(mode, ((train_x, train_y), (test_x, test_y)),
                                    epochs=args.epochs, seed=seed, kit=kit,
                                    normalize=normalize)  # fmt: skip
            results[mode].append((accuracy, seconds))
            print(f"seed {seed} {mode:>10}: {accuracy:5.1f}% held-out accuracy, "
                  f"{seconds:4.0f} s (load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip

    print(f"\n{len(train_y)} training crops, {args.epochs} epochs, seeds {args.seeds}:")
    print(f"{'mode':>10}  {'accuracy %':>14}  {'s/run':>6}")
    for mode, runs in results.items():
        accs = [a for a, _ in runs]
        spread = statistics.stdev(accs) if len(accs) > 1 else 0.0
        seconds = statistics.mean(s for _, s in runs)
        print(f"{mode:>10}  {statistics.mean(accs):6.1f} +- {spread:4.1f}  {seconds:6.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
