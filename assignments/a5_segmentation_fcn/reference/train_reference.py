"""Train the reference network of a5 on the CPU, time it, score it and save segmentation_net.pt.

    cd assignments/a5_segmentation_fcn/reference
    OMP_NUM_THREADS=1 ../../../.venv/bin/python train_reference.py [--threads 1] [--epochs 6]

The code is the source notebook's own: its set-up, solution and helper cells are run here by
grade id (the data, the backbone, ``SegmentationNet``, the loss, ``train_segmentation``,
``save_network``), then ``train_segmentation(FINAL_CONFIG, ...)`` and the notebook's evaluation
cell, so the weights load into the notebook's class and the recipe is the solution's. Prints the
wall time, this process's CPU time and the load average, the per-class AP and IoU on the public
test split and the all-background baseline, and writes ``segmentation_net.pt`` beside this file.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import matplotlib
import nbformat

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[2] / "source" / "a5_segmentation_fcn" / "a5_segmentation_fcn.ipynb"
#: The notebook cells run, in order: everything a training needs, no sweep or ablation.
CELLS = ("parameters", "setup", "data", "backbone_setting", "backbone", "upsample_scores",
         "segmentation_net", "class_weights_from_masks", "segmentation_loss", "confusion_iou",
         "training_step", "train_segmentation", "ablation_settings", "final_settings",
         "save_load")  # fmt: skip


def notebook_cells() -> dict[str, str]:
    """{grade id: source} of the source notebook's code cells."""
    cells = nbformat.read(SOURCE, as_version=4).cells
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in cells if c.cell_type == "code"}


def notebook_namespace() -> dict:
    """The namespace the source notebook's ``CELLS`` leave, outside the grader."""
    cells = notebook_cells()
    namespace: dict = {"display": print}
    for grade_id in CELLS:
        exec(compile(cells[grade_id], f"{SOURCE.name}:{grade_id}", "exec"), namespace)
    return namespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None, help="default: FINAL_EPOCHS")
    parser.add_argument("--out", type=Path, default=HERE / "segmentation_net.pt")
    args = parser.parse_args()
    matplotlib.use("Agg")
    import torch

    torch.set_num_threads(args.threads)
    ns = notebook_namespace()
    epochs = args.epochs or ns["FINAL_EPOCHS"]
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    model, history = ns["train_segmentation"](ns["FINAL_CONFIG"], lr=ns["LR"], epochs=epochs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for row in history:
        print({k: round(v, 4) for k, v in row.items()}, flush=True)
    ns["save_network"](model, ns["FINAL_CONFIG"], args.out)
    print(
        f"threads {args.threads}, epochs {epochs}, config {ns['FINAL_CONFIG']}, lr {ns['LR']}: "
        f"wall {wall:.0f} s, process CPU {cpu:.0f} s, load average before {load_before[0]:.1f} "
        f"after {os.getloadavg()[0]:.1f}; {args.out.name} {args.out.stat().st_size / 1e6:.2f} MB"
    )
    ns["WEIGHTS_FILE"] = args.out
    ns["final_net"] = ns["load_network"](args.out)  # as graded: half precision, reloaded
    exec(compile(notebook_cells()["evaluation"], "evaluation", "exec"), ns)


if __name__ == "__main__":
    main()
