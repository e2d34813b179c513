"""The kit's demo (``./kit demo``): what a student does, then what the grader does.

1. **A student's run**: train the course's ``BaseNet`` and a slightly better CNN on real
   Fashion-MNIST for a couple of epochs with ``helpers.train.fit``, log both runs, and save the
   report's figures (curves, per-class accuracy, confusion matrix) and the ablation table.
2. **The grader's run** (when an assignment is there, a2_cnn_fashion by default): build its
   private bundle, then grade the reference solution, the blank release and a typical imperfect
   submission, and print the three results side by side with where the feedback lies.

    python -m helpers.demo [--out demo-output] [--epochs 2] [--assignment a2_cnn_fashion]
                           [--no-grading]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import torch
from torch import nn

from helpers.data import InMemoryLoader, fashion_mnist, train_val_split
from helpers.experiments import ExperimentLog, ablation_table
from helpers.metrics import Accuracy, confusion_matrix, per_class_accuracy
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
        per_class = per_class_accuracy(predicted, torch.as_tensor(test.labels), 10)
        acc = float((predicted.numpy() == test.labels).mean())
        print(f"{name}: test accuracy {acc:.3f} after {epochs} epochs "
              f"({time.perf_counter() - started:.0f} s on {device})")  # fmt: skip
        slug = name.split()[0].lower()
        plot_history(history).flat[0].figure.savefig(out / f"{slug}-curves.png", dpi=100)
        plot_per_class(per_class, test.classes, title=f"{name}: per-class test accuracy"
                       ).figure.savefig(out / f"{slug}-per-class.png", dpi=100)  # fmt: skip
        matrix = confusion_matrix(predicted, torch.as_tensor(test.labels), 10)
        plot_confusion_matrix(matrix, test.classes).figure.savefig(out / f"{slug}-confusion.png",
                                                                    dpi=100)  # fmt: skip
    table = str(ablation_table(log, metric="val_accuracy"))
    (out / "ablation.md").write_text(table)
    print(table)


def grading_run(out: Path, assignment_name: str) -> None:
    """Part 2: build the grader, grade three submissions, show them side by side."""
    import nbformat
    from nbgrader.utils import is_solution

    from autograder import pipeline
    from autograder.assemble import grade_id
    from autograder.config import load_assignment
    from autograder.report import write_atomic

    assignment = load_assignment(assignment_name)
    print(f"\nBuilding the grader for {assignment_name} (runs the source solution)...")
    pipeline.build(assignment)
    subs = out / "submissions"
    shutil.rmtree(subs, ignore_errors=True)
    kinds = ("reference", "blank", "imperfect")
    pipeline.write_submission(assignment, subs / "reference", assignment.source_dir,
                              reference_files=True)  # fmt: skip
    pipeline.write_submission(assignment, subs / "blank", assignment.release_dir,
                              reference_files=False)  # fmt: skip
    # A typical imperfect submission: the solution with every other answer left blank.
    pipeline.write_submission(assignment, subs / "imperfect", assignment.source_dir,
                              reference_files=True)  # fmt: skip
    for nb_name in assignment.notebooks:
        source = nbformat.read(assignment.source_dir / nb_name, as_version=4)
        release = nbformat.read(assignment.release_dir / nb_name, as_version=4)
        blank = {grade_id(c): c.source for c in release.cells if grade_id(c)}
        answers = [c for c in source.cells if is_solution(c) and c.cell_type == "code"]
        for cell in answers[1::2]:
            cell.source = blank[grade_id(cell)]
        nbformat.write(source, subs / "imperfect" / nb_name)
    results = {}
    for kind in kinds:
        graded = pipeline.grade(assignment, subs / kind, feedback_dir=out / "feedback" / kind)
        write_atomic(out / "results" / f"{kind}.json", graded.results)
        results[kind] = graded.results
    names = [t["name"] for t in results["reference"]["tests"]]
    width = max(len(n) for n in names)
    print(f"\n{'test':<{width}} " + " ".join(f"{k:>12}" for k in results))
    for i, name in enumerate(names):
        cells = [f"{r['tests'][i]['score']:g}/{r['tests'][i]['max_score']:g}" for r in
                 results.values()]  # fmt: skip
        print(f"{name:<{width}} " + " ".join(f"{c:>12}" for c in cells))
    totals = [f"{r['score']:g}" for r in results.values()]
    print(f"{'total':<{width}} " + " ".join(f"{t:>12}" for t in totals))
    print(f"\nresults.json files: {out / 'results'}/; feedback pages: {out / 'feedback'}/")
    print("\nWhat the imperfect submission is told:")
    for test in results["imperfect"]["tests"]:
        if test["status"] != "passed":
            print(f"  {test['name']}: {test['output'].splitlines()[0]}")


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
        if (ROOT / "assignments" / args.assignment / "assignment.toml").is_file():
            grading_run(args.out, args.assignment)
        else:
            print(f"\n(No assignment {args.assignment!r} yet: the grading part is skipped.)")
    print(f"\nFigures and tables: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
