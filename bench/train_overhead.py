"""What ``helpers.train.fit`` costs over a bare PyTorch loop doing the same work.

    python bench/train_overhead.py [--device cpu] [--repeats 5] [--epochs 2] [--threads 2]

Both loops train the same network (the course's ``BaseNet``, or ``--model mlp``) from the same
initial weights with the same optimiser on the same batches, for the same number of steps. The
batches are made in memory beforehand (Fashion-MNIST-shaped random tensors: the arithmetic of a
step does not depend on pixel values), so neither loop pays for data loading and the difference
is the loop's own plumbing. Two cases:

- ``train``: training steps only; the bare loop sums ``loss.item() * batch_size`` per epoch, as
  students write it; ``fit`` runs without validation data or metrics.
- ``train+val``: the bare loop also measures training accuracy, and validation loss and accuracy
  in ``eval()`` mode under ``torch.no_grad()``; ``fit`` gets validation data and an accuracy
  metric, with its defaults on (best-weights copy in memory, early-stopping bookkeeping).

Runs alternate (bare, fit, bare, fit, ...) so that other load on the machine hits both alike. Each
run is timed twice: wall-clock seconds, and the CPU seconds this process used (``process_time``).
On a shared machine the CPU time is the steadier measure of the work a loop does (other
processes stretch the wall time, not it); on a GPU the wall time is the one that counts. The
table gives the medians and the overhead of ``fit`` (``fit / bare - 1``) on each; the goal is at
most 5 %.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.models import base_net  # noqa: E402
from helpers.train import fit, pick_device  # noqa: E402

Batches = list[tuple[torch.Tensor, torch.Tensor]]


class Accuracy:
    """The same accuracy the bare loop computes, as a streaming metric for fit (counts stay on
    the device so neither loop waits for the GPU each batch)."""

    def reset(self) -> None:
        self.correct = None
        self.total = 0

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        hits = (outputs.argmax(1) == targets).sum()
        self.correct = hits if self.correct is None else self.correct + hits
        self.total += len(targets)

    def compute(self) -> float:
        return self.correct.item() / self.total


def make_batches(n: int, batch_size: int, device: torch.device, seed: int) -> Batches:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return [
        (x[i : i + batch_size].to(device), y[i : i + batch_size].to(device))
        for i in range(0, n, batch_size)
    ]


def bare_loop(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Batches,
    val: Batches | None,
    epochs: int,
) -> list[dict[str, float]]:
    """The loop a student writes: the same numbers fit records, nothing more."""
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    for _ in range(epochs):
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        for x, y in train:
            optimizer.zero_grad(set_to_none=True)
            out = model(x)
            loss = loss_fn(out, y)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(x)
            seen += len(x)
            if val is not None:
                correct += int((out.argmax(1) == y).sum())
        row = {"train_loss": total_loss / seen}
        if val is not None:
            row["train_accuracy"] = correct / seen
            model.eval()
            val_loss, val_correct, val_seen = 0.0, 0, 0
            with torch.no_grad():
                for x, y in val:
                    out = model(x)
                    val_loss += loss_fn(out, y).item() * len(x)
                    val_correct += int((out.argmax(1) == y).sum())
                    val_seen += len(x)
            row.update(val_loss=val_loss / val_seen, val_accuracy=val_correct / val_seen)
        rows.append(row)
    return rows


def fit_loop(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Batches,
    val: Batches | None,
    epochs: int,
) -> list[dict[str, float]]:
    history = fit(
        model,
        train,
        val,
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=optimizer,
        epochs=epochs,
        metrics={"accuracy": Accuracy()} if val is not None else None,
        device=next(model.parameters()).device,
        mixed_precision=False,  # the bare loop runs in float32 too
        progress=False,
    )
    return list(history)


def timed(
    loop: Callable, initial: nn.Module, train: Batches, val: Batches | None, epochs: int
) -> tuple[float, float, list[dict[str, float]]]:
    """(wall seconds, CPU seconds of this process, the loop's per-epoch numbers)."""
    model = copy.deepcopy(initial)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    device = next(model.parameters()).device
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    rows = loop(model, optimizer, train, val, epochs)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best one)")
    parser.add_argument("--model", choices=["basenet", "mlp"], default="basenet")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each loop")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train", type=int, default=8192, help="training samples")
    parser.add_argument("--val", type=int, default=2048, help="validation samples")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = pick_device(args.device)
    torch.manual_seed(0)
    if args.model == "basenet":
        initial = base_net()
    else:
        initial = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    initial = initial.to(device)
    train = make_batches(args.train, args.batch_size, device, seed=1)
    val = make_batches(args.val, args.batch_size, device, seed=2)
    steps = len(train) * args.epochs
    print(
        f"{args.model} on {device} (torch {torch.__version__}, {torch.get_num_threads()} CPU "
        f"threads): {args.epochs} epochs x {len(train)} batches of {args.batch_size} = {steps} "
        f"training steps; validation {len(val)} batches; {args.repeats} runs of each loop, "
        "alternating\n"
    )
    print(
        f"{'case':<10} {'loop':<5} {'wall s':>8} {'CPU s':>8} "
        f"{'overhead (wall)':>16} {'overhead (CPU)':>15}   (medians)"
    )
    for case, val_batches in (("train", None), ("train+val", val)):
        # One untimed run of each first: warms allocators, kernels and caches alike.
        timed(bare_loop, initial, train, val_batches, 1)
        timed(fit_loop, initial, train, val_batches, 1)
        wall: dict[str, list[float]] = {"bare": [], "fit": []}
        cpu: dict[str, list[float]] = {"bare": [], "fit": []}
        results = {}
        for _ in range(args.repeats):
            for name, loop in (("bare", bare_loop), ("fit", fit_loop)):
                seconds, cpu_seconds, rows = timed(loop, initial, train, val_batches, args.epochs)
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
                results[name] = rows
        # Same work: both loops must have computed the same numbers.
        for key, value in results["bare"][-1].items():
            theirs = results["fit"][-1][key]
            if abs(value - theirs) > 1e-4 * max(1.0, abs(value)):
                raise SystemExit(f"The loops disagree on {key}: bare {value}, fit {theirs}.")
        bare_wall, fit_wall = statistics.median(wall["bare"]), statistics.median(wall["fit"])
        bare_cpu, fit_cpu = statistics.median(cpu["bare"]), statistics.median(cpu["fit"])
        print(f"{case:<10} {'bare':<5} {bare_wall:>8.3f} {bare_cpu:>8.3f}")
        print(
            f"{'':<10} {'fit':<5} {fit_wall:>8.3f} {fit_cpu:>8.3f} "
            f"{100 * (fit_wall / bare_wall - 1):>15.1f}% {100 * (fit_cpu / bare_cpu - 1):>14.1f}%"
        )


if __name__ == "__main__":
    main()
