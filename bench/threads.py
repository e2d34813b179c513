"""How fast BaseNet trains on the CPU with 1 torch thread, torch's default, and the kit's choice.

    python bench/threads.py [--batches 200] [--repeats 5] [--batch-size 128]

Each run trains the course's ``BaseNet`` for a fixed number of batches (Fashion-MNIST-shaped
random tensors made beforehand: the arithmetic does not depend on pixel values) with plain
forward/backward/SGD steps, after one warm-up batch. Runs alternate between the settings
(1, default, kit, 1, default, kit, ...) so that load from other processes hits all alike; the
1-minute load average is printed before each run. The table gives wall-clock seconds per run:
median, min and max over the repeats, and the speed of the median run in batches per second.
On a shared machine the spread is the point: torch's default (one thread per physical core)
stalls when other processes hold those cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.models import base_net  # noqa: E402
from helpers.train.threads import pick_cpu_threads  # noqa: E402


def train_batches(threads: int, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Wall-clock seconds to train a fresh BaseNet on ``batches`` with ``threads`` threads."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = base_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()

    step(*batches[0])  # warm-up: first-call allocations are not what we compare
    start = time.perf_counter()
    for x, y in batches:
        step(x, y)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200, help="training batches per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per setting")
    parser.add_argument("--batch-size", type=int, default=128, help="images per batch")
    args = parser.parse_args()

    default = torch.get_num_threads()
    kit = pick_cpu_threads()
    settings = {"1 thread": 1, f"torch default ({default})": default, f"kit's choice ({kit})": kit}
    generator = torch.Generator().manual_seed(0)
    batches = [
        (
            torch.rand(args.batch_size, 1, 28, 28, generator=generator),
            torch.randint(0, 10, (args.batch_size,), generator=generator),
        )
        for _ in range(args.batches)
    ]
    print(
        f"BaseNet, {args.batches} batches of {args.batch_size}, CPU, torch {torch.__version__}, "
        f"{len(os.sched_getaffinity(0))} cores available, {os.cpu_count()} logical; "
        f"kit's choice at start: {kit} thread(s)"
    )
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    for repeat in range(args.repeats):
        for name, threads in settings.items():
            load = os.getloadavg()[0]
            took = train_batches(threads, batches)
            seconds[name].append(took)
            print(f"  repeat {repeat + 1}, {name:<20} load {load:5.2f}  {took:7.2f} s")

    print("\n| threads | median s | min s | max s | batches/s (median) |")
    print("|---|---|---|---|---|")
    for name, runs in seconds.items():
        median = statistics.median(runs)
        print(
            f"| {name} | {median:.2f} | {min(runs):.2f} | {max(runs):.2f} | "
            f"{args.batches / median:.1f} |"
        )


if __name__ == "__main__":
    main()
