"""Train the reference ``MyNet`` of a3 on the CPU, time it and save its weights.

    .venv/bin/python assignments/a3_multilabel_voc/reference/train_reference.py \\
        [--data DIR] [--hidden-tree DIR] [--threads 1]

The class is read from ``my_net.py`` beside this file: the same text as the source notebook's
``my_net`` answer cell (a test checks it), so the weights load into the notebook's class. The
recipe (image size, normalisation, optimiser, schedule, augmentation, masked BCE loss) is the
solution's ``train_my_net`` too. ``--data``: the public synthetic tree (default:
``helpers.data.synthetic.synthetic_voc()``, what every student trains on). ``--hidden-tree``: a
tree from another seed to measure the test mAP on images nobody trained on, as the grader does.
Prints wall time, this process's CPU time and the load average, the test mAP (and that of a
constant predictor), and writes ``my_net.pt`` beside this file: ``{"classes": [...],
"image_size": 64, "state_dict": ...}``, what the notebook saves and loads.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from helpers.data import InMemoryLoader, random_flip, random_shift
from helpers.data.arrays import classification_arrays
from helpers.metrics import MultilabelAveragePrecision, average_precision, mean_average_precision
from helpers.train import fit, predict, seed_everything

HERE = Path(__file__).resolve().parent
IMAGE_SIZE = 64
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet's, as for every a3 network
EPOCHS = 20
BATCH_SIZE = 64
MAX_LR = 3e-3
WEIGHT_DECAY = 5e-4


def load_class() -> type[nn.Module]:
    """``MyNet`` from ``my_net.py`` beside this file (not a package: load by path)."""
    spec = importlib.util.spec_from_file_location("a3_my_net", HERE / "my_net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MyNet


def masked_bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over the entries whose target is 0 or 1 (-1: ignored); the
    solution's ``multilabel_loss``."""
    known = targets >= 0
    losses = nn.functional.binary_cross_entropy_with_logits(
        logits, targets.clamp(min=0).to(logits.dtype), reduction="none"
    )
    return (losses * known).sum() / known.sum().clamp(min=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--hidden-tree", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--out", type=Path, default=HERE / "my_net.pt")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.data is None:
        from helpers.data.synthetic import synthetic_voc

        args.data = synthetic_voc()
    seed_everything(0)
    start = time.perf_counter()
    train = classification_arrays(args.data, "train", size=IMAGE_SIZE)
    val = classification_arrays(args.data, "val", size=IMAGE_SIZE)
    test = classification_arrays(args.data, "test", size=IMAGE_SIZE)
    print(f"data read in {time.perf_counter() - start:.1f} s", flush=True)
    common = dict(batch_size=BATCH_SIZE, device="cpu", mean=MEAN, std=STD)
    train_loader = InMemoryLoader(
        train.images, train.targets, shuffle=True, augment=[random_flip, random_shift], seed=0,
        **common,
    )  # fmt: skip
    val_loader = InMemoryLoader(val.images, val.targets, **common)
    model = load_class()(num_classes=len(train.classes))
    optimizer = torch.optim.AdamW(model.parameters(), lr=MAX_LR, weight_decay=WEIGHT_DECAY)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=MAX_LR, epochs=args.epochs, steps_per_epoch=len(train_loader)
    )
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    history = fit(
        model, train_loader, val_loader, loss_fn=masked_bce, optimizer=optimizer,
        epochs=args.epochs, scheduler=scheduler, scheduler_step="batch",
        metrics={"map": MultilabelAveragePrecision()}, monitor="val_map", train_metrics=False,
        device="cpu", progress=False,
    )  # fmt: skip
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for row in history:
        print({k: round(v, 4) for k, v in row.items()}, flush=True)
    checkpoint = {"classes": list(train.classes), "image_size": IMAGE_SIZE}
    torch.save({**checkpoint, "state_dict": model.state_dict()}, args.out)
    print(
        f"threads {args.threads}, epochs {args.epochs}: wall {wall:.0f} s, process CPU "
        f"{cpu:.0f} s, load average before {load_before[0]:.1f} after {os.getloadavg()[0]:.1f}"
    )
    print(f"parameters {sum(p.numel() for p in model.parameters()):,}")
    sets = {"public test": test}
    if args.hidden_tree is not None:
        sets["hidden-like test"] = classification_arrays(args.hidden_tree, "test", size=IMAGE_SIZE)
    for name, data in sets.items():
        scores = predict(model, InMemoryLoader(data.images, data.targets, **common), device="cpu")
        per_class = average_precision(scores, torch.as_tensor(data.targets)).numpy()
        constant = mean_average_precision(np.zeros(data.targets.shape), data.targets)
        print(
            f"{name} mAP {np.nanmean(per_class):.4f} (constant predictor {constant:.4f}); "
            + ", ".join(f"{c} {v:.2f}" for c, v in zip(data.classes, per_class, strict=True))
        )
    print(f"weights {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
