"""The kit's demo (``./kit demo``): what a student does, then what the grader does.

1. **A student's run**: train the course's ``BaseNet`` and a slightly better CNN on real
   Fashion-MNIST for a couple of epochs with ``helpers.train.fit``, log both runs, and save the
   report's figures (curves, per-class accuracy, confusion matrix) and the ablation table.
2. **The grader's run** (when the kit's ``autograder`` and an assignment are there,
   a2_cnn_fashion by default): ``python -m autograder.demo`` builds its private bundle, then
   grades the reference solution, the blank release and a typical imperfect submission, and
   prints the three results side by side with where the feedback lies. It runs as its own
   process because ``helpers`` never imports ``autograder`` (the student wheel has no grader).

    python -m helpers.demo [--out demo-output] [--epochs 2] [--assignment a2_cnn_fashion]
                           [--no-grading]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from helpers.data import InMemoryLoader, fashion_mnist, train_val_split
from helpers.experiments import ExperimentLog, ablation_table
from helpers.metrics import Accuracy, confusion_matrix
from helpers.models import base_net
from helpers.train import fit, pick_device, predict, seed_everything

ROOT = Path(__file__).resolve().parents[1]


def small_cnn() -> nn.Module:
    """BaseNet's idea with batch norm and wider convolutions: (N, 1, 28, 28) -> (N, 10)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip


def student_run(out: Path, epochs: int) -> None:
    """Part 1: train two models, log them, save the figures a report needs."""
    import matplotlib

    matplotlib.use("Agg")
    from helpers.plots import plot_confusion_matrix, plot_history, plot_per_class

    seed_everything(0)
    device = pick_device()
    train, val = train_val_split(fashion_mnist("train"), val_size=0.1, seed=0)
    test = fashion_mnist("test")
    norm = {"mean": (0.286,), "std": (0.353,)}
    loaders = {
        "train": InMemoryLoader(train.images, train.labels, batch_size=128, shuffle=True,
                                device=device, **norm),
        "val": InMemoryLoader(val.images, val.labels, batch_size=1024, device=device, **norm),
        "test": InMemoryLoader(test.images, test.labels, batch_size=1024, device=device, **norm),
    }  # fmt: skip
    log = ExperimentLog(out / "experiments.jsonl")
    for name, model in (("BaseNet", base_net(num_classes=10)), ("BN + wider CNN", small_cnn())):
        started = time.perf_counter()
        history = fit(
            model, loaders["train"], loaders["val"],
            loss_fn=nn.CrossEntropyLoss(),
            optimizer=torch.optim.Adam(model.parameters(), lr=2e-3),
            epochs=epochs, metrics={"accuracy": Accuracy()}, device=device,
            log=log, run_name=name, config={"model": name, "epochs": epochs},
        )  # fmt: skip
        scores = predict(model, loaders["test"], device=device)
        predicted = scores.argmax(1).cpu()
        matrix = confusion_matrix(predicted, torch.as_tensor(test.labels), 10)
        # Per-class accuracy from the matrix: helpers has no function for it (a2's exercise).
        per_class = matrix.diagonal() / matrix.sum(dim=1)
        acc = float((predicted.numpy() == test.labels).mean())
        print(f"{name}: test accuracy {acc:.3f} after {epochs} epochs "
              f"({time.perf_counter() - started:.0f} s on {device})")  # fmt: skip
        slug = name.split()[0].lower()
        plot_history(history).flat[0].figure.savefig(out / f"{slug}-curves.png", dpi=100)
        plot_per_class(per_class, test.classes, title=f"{name}: per-class test accuracy"
                       ).figure.savefig(out / f"{slug}-per-class.png", dpi=100)  # fmt: skip
        plot_confusion_matrix(matrix, test.classes).figure.savefig(out / f"{slug}-confusion.png",
                                                                    dpi=100)  # fmt: skip
    table = str(ablation_table(log, metric="val_accuracy"))
    (out / "ablation.md").write_text(table)
    print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--assignment", default="a2_cnn_fashion")
    parser.add_argument("--grading", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    student_run(args.out, args.epochs)
    if args.grading:
        if not (ROOT / "autograder" / "__init__.py").is_file():
            print("\n(No autograder beside helpers, e.g. a student install: grading skipped.)")
        elif (ROOT / "assignments" / args.assignment / "assignment.toml").is_file():
            command = [sys.executable, "-m", "autograder.demo", "--out", str(args.out),
                       "--assignment", args.assignment]  # fmt: skip
            if subprocess.run(command, cwd=ROOT).returncode != 0:
                return 1
        else:
            print(f"\n(No assignment {args.assignment!r} yet: the grading part is skipped.)")
    print(f"\nFigures and tables: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
