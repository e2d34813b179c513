"""Train the reference ``ImprovedNet`` of a2 on the CPU, time it and save its weights.

    .venv/bin/python assignments/a2_cnn_fashion/reference/train_reference.py [--threads 2]

The class is read from ``improved_net.py`` beside this file: the same text as the source
notebook's ``improved_net`` answer cell (a test checks it), so the weights load into the
notebook's class. The recipe (split, normalisation, optimiser, schedule, augmentation) is the
solution's ``train_improved`` too. Prints wall
time, this process's CPU time and the load average, then the test accuracy, and writes
``improved_net.pt`` beside this file.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

import torch
from torch import nn

from helpers.data import InMemoryLoader, fashion_mnist, random_flip, train_val_split
from helpers.metrics import Accuracy, accuracy
from helpers.train import fit, predict, seed_everything

HERE = Path(__file__).resolve().parent
MEAN, STD = (0.286,), (0.353,)
EPOCHS = 13
BATCH_SIZE = 256
MAX_LR = 4e-3
WEIGHT_DECAY = 5e-4


def load_class() -> type[nn.Module]:
    """``ImprovedNet`` from ``improved_net.py`` beside this file (not a package: load by path)."""
    spec = importlib.util.spec_from_file_location("a2_improved_net", HERE / "improved_net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ImprovedNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--width", type=int, default=None, help="default: ImprovedNet's")
    parser.add_argument("--out", type=Path, default=HERE / "improved_net.pt")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(0)
    train, val = train_val_split(fashion_mnist("train"), val_size=0.1, seed=0)
    test = fashion_mnist("test")
    common = dict(batch_size=BATCH_SIZE, device="cpu", mean=MEAN, std=STD)
    train_loader = InMemoryLoader(
        train.images, train.labels, shuffle=True, augment=[random_flip], seed=0, **common
    )
    val_loader = InMemoryLoader(val.images, val.labels, **common)
    model = load_class()() if args.width is None else load_class()(width=args.width)
    optimizer = torch.optim.AdamW(model.parameters(), lr=MAX_LR, weight_decay=WEIGHT_DECAY)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=MAX_LR, epochs=args.epochs, steps_per_epoch=len(train_loader)
    )
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    history = fit(
        model, train_loader, val_loader, loss_fn=nn.CrossEntropyLoss(label_smoothing=0.1),
        optimizer=optimizer, epochs=args.epochs, scheduler=scheduler, scheduler_step="batch",
        metrics={"accuracy": Accuracy()}, monitor="val_accuracy", train_metrics=False,
        device="cpu", progress=False,
    )  # fmt: skip
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for row in history:
        print({k: round(v, 4) for k, v in row.items()}, flush=True)
    scores = predict(model, InMemoryLoader(test.images, test.labels, **common), device="cpu")
    torch.save(model.state_dict(), args.out)
    print(
        f"threads {args.threads}, epochs {args.epochs}: wall {wall:.0f} s, process CPU "
        f"{cpu:.0f} s, load average before {load_before[0]:.1f} after {os.getloadavg()[0]:.1f}"
    )
    print(f"test accuracy {accuracy(scores, torch.as_tensor(test.labels)):.4f}")
    print(f"weights {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
