"""Train the reference fine-tuned ResNet-18 of a4 on the CPU, time it, score it, save it.

    OMP_NUM_THREADS=1 .venv/bin/python \\
        assignments/a4_transfer_resnet/reference/train_reference.py [--threads 1] [--epochs 8]

The code is the source notebook's own: this script runs its set-up, data, solution and glue
cells (``TransferResNet``, ``make_optimizer``, ``train_recipe``, ``save_trained_part``) with
``GRADING = False`` and training off, then calls ``train_recipe("last_block", train_crops,
weights="kit")``, so the weights cannot drift from the notebook's class and recipe. Prints
wall time, this process's CPU time and the load average, the validation accuracy, and the
accuracy on the crops of a tree drawn from ``--hidden-seed`` (a stand-in for the grader's
private set, which calibrates ``[[performance]]``), then writes ``finetuned_resnet.pt`` beside
this file.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
NOTEBOOK = ROOT / "source" / "a4_transfer_resnet" / "a4_transfer_resnet.ipynb"
#: The cells run, in notebook order: everything the final model needs, nothing that trains.
CELLS = (
    "parameters", "setup", "data", "set_trainable", "transfer_resnet", "make_optimizer",
    "train_recipe", "study_settings", "retrain_setting", "final_model",
)  # fmt: skip


def notebook_namespace(*, grading: bool = False) -> dict:
    """The source notebook's cells ``CELLS`` run in one namespace, training switched off.

    ``grading=True`` runs them as the autograder does (``GRADING = True``: no training data is
    read, and the final-model cell loads ``finetuned_resnet.pt`` from the working directory).
    """
    cells = {
        c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"])
        for c in json.loads(NOTEBOOK.read_text())["cells"]
        if c["cell_type"] == "code"
    }
    namespace: dict = {"display": print}
    for grade_id in CELLS:
        if grade_id == "final_model":
            namespace["TRAINING_ALLOWED"] = False  # define its functions, train nothing
        exec(compile(cells[grade_id], f"{NOTEBOOK.name}:{grade_id}", "exec"), namespace)
        if grade_id == "parameters":
            namespace["GRADING"] = grading
    return namespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None, help="default: the notebook's")
    parser.add_argument("--hidden-seed", type=int, default=424242)
    parser.add_argument("--out", type=Path, default=HERE / "finetuned_resnet.pt")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.chdir(tempfile.mkdtemp(prefix="a4-reference-"))  # the notebook's logs land here
    ns = notebook_namespace()
    epochs = args.epochs or ns["ALL_EPOCHS"]
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    model, history = ns["train_recipe"](
        "last_block", ns["train_crops"], epochs=epochs, run_name="reference",
        weights=ns["FINAL_BACKBONE"], log=None,
    )  # fmt: skip
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for row in history:
        print({k: round(v, 4) for k, v in row.items()}, flush=True)
    ns["save_trained_part"](model, args.out, ns["CLASSES"])
    reloaded, _ = ns["load_trained_part"](args.out)  # what the grader will use: half precision

    def crops_accuracy(crops) -> float:
        logits = ns["predict"](reloaded, ns["make_loader"](crops, reloaded.card), device="cpu")
        return ns["accuracy"](logits, crops.labels)

    from helpers.data.crops import object_crops
    from helpers.data.synthetic import make_synthetic_voc

    with tempfile.TemporaryDirectory() as scratch:
        tree = make_synthetic_voc(
            Path(scratch) / "tree", seed=args.hidden_seed, train=0, val=0, test=500, size=128
        )
        hidden = object_crops(tree, "test")
        hidden_accuracy = crops_accuracy(hidden)
    print(
        f"threads {args.threads}, epochs {epochs}: wall {wall:.0f} s, process CPU {cpu:.0f} s, "
        f"load average before {load_before[0]:.1f} after {os.getloadavg()[0]:.1f}"
    )
    print(
        f"validation accuracy {crops_accuracy(ns['val_crops']):.4f} "
        f"({len(ns['val_crops'])} crops); crops of a tree from seed {args.hidden_seed}: "
        f"{hidden_accuracy:.4f} ({len(hidden)} crops)"
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
