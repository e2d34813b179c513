"""One epoch of Fashion-MNIST training batches: InMemoryLoader against torchvision's
FashionMNIST + ToTensor + DataLoader, in the same run, on the same files.

    .venv/bin/python bench/data_loader.py [--batch-size 128] [--repeats 3]

Both produce shuffled float32 batches (B, 1, 28, 28) in [0, 1] with int64 labels on the CPU
(the GPU when there is one, for the in-memory loader; torchvision's batches are moved there too).
The goal (issue 2): at least 5x the images per second.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from helpers.data import InMemoryLoader, fashion_mnist
from helpers.data.fashion import DEBIAN_DIR


def torchvision_root(tmp: Path) -> Path:
    """torchvision reads the decompressed files from <root>/FashionMNIST/raw."""
    raw = tmp / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):  # torchvision checks that all four are there
        with gzip.open(DEBIAN_DIR / f"{name}.gz") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return tmp


def epoch_rate(batches, device: torch.device) -> float:
    """Images per second over one full pass, including moving each batch to ``device``."""
    start = time.perf_counter()
    n = 0
    for images, labels in batches:
        images, labels = images.to(device), labels.to(device)
        n += len(labels)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(tmp))
        tv_set = datasets.FashionMNIST(root, train=True, transform=transforms.ToTensor())
        candidates = {
            "torchvision DataLoader, num_workers=0": DataLoader(
                tv_set, batch_size=args.batch_size, shuffle=True, num_workers=0
            ),
            "torchvision DataLoader, num_workers=2": DataLoader(
                tv_set,
                batch_size=args.batch_size,
                shuffle=True,
                num_workers=2,
                persistent_workers=True,
            ),
        }
        train = fashion_mnist("train")
        start = time.perf_counter()
        candidates["InMemoryLoader"] = InMemoryLoader(
            train.images, train.labels, batch_size=args.batch_size, shuffle=True, device=device
        )
        setup = time.perf_counter() - start

        rates = {name: max(epoch_rate(b, device) for _ in range(args.repeats))
                 for name, b in candidates.items()}  # fmt: skip

    print(f"Fashion-MNIST train, 60,000 images, batch {args.batch_size}, device {device}, "
          f"best of {args.repeats} epochs")  # fmt: skip
    print(f"{'loader':<40} {'images/s':>12} {'vs InMemoryLoader':>18}")
    best = rates["InMemoryLoader"]
    for name, rate in rates.items():
        print(f"{name:<40} {rate:>12,.0f} {best / rate:>17.1f}x")
    print(f"(InMemoryLoader set-up, moving the set to {device}: {setup * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
