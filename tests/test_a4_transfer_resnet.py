"""a4_transfer_resnet: what is special to it. ``tests/test_assignments.py`` checks its form (lint,
release, verify) like every assignment's; here: the reference weights, the notebook's loading of
a submitted file, and the reference script reading the notebook's own cells."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.data.synthetic import SYNTHETIC_CLASSES

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "assignments" / "a4_transfer_resnet"
REFERENCE = CONFIG / "reference"
WEIGHTS = REFERENCE / "finetuned_resnet.pt"
NOTEBOOK = ROOT / "source" / "a4_transfer_resnet" / "a4_transfer_resnet.ipynb"


def _reference_script():
    spec = importlib.util.spec_from_file_location(
        "a4_train_reference", REFERENCE / "train_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The notebook's cells run as the autograder runs them, in a folder holding the reference
    weights (as a submission would): the namespace after its final-model cell."""
    folder = tmp_path_factory.mktemp("submission")
    (folder / WEIGHTS.name).write_bytes(WEIGHTS.read_bytes())
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield _reference_script().notebook_namespace(grading=True)
    finally:
        os.chdir(cwd)


def test_the_reference_script_runs_cells_the_notebook_has():
    """Does every cell train_reference.py runs exist in the source, so the two cannot drift?"""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    grade_ids = {c["metadata"].get("nbgrader", {}).get("grade_id") for c in cells}
    assert set(_reference_script().CELLS) <= grade_ids


def test_reference_weights_hold_only_the_trained_part_in_half_precision():
    """Is the submitted file what the handout says: layer4 and fc, float16, about 16 MiB?"""
    saved = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    assert (saved["recipe"], saved["backbone"]) == ("last_block", "kit")
    assert tuple(saved["classes"]) == SYNTHETIC_CLASSES
    assert {k.split(".")[0] for k in saved["state"]} == {"layer4", "fc"}
    floats = [v for v in saved["state"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    assert WEIGHTS.stat().st_size < 17 * 2**20, WEIGHTS.stat().st_size


def test_grading_loads_the_reference_on_the_kit_backbone(graded):
    """Does the notebook, as graded, rebuild the network on the kit's backbone and classify?"""
    model = graded["finetuned"]
    assert model is not None and model.recipe == "last_block"
    assert graded["CLASSES"] == SYNTHETIC_CLASSES
    assert str(model.card).startswith("kit:")
    images = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    loader = graded["InMemoryLoader"](
        images.transpose(0, 3, 1, 2).copy(), np.zeros(5, np.int64), batch_size=5,
        device="cpu", mean=model.card.mean, std=model.card.std,
    )  # fmt: skip
    assert tuple(graded["predict"](model, loader).shape) == (5, 8)


@pytest.mark.parametrize(
    "case",
    ["plain state dict", "not a torch file", "code in the pickle", "wrong shapes", "extra keys"],
)
def test_a_submitted_file_that_does_not_fit_says_what_to_do(graded, tmp_path, case):
    """Does a broken or hostile finetuned_resnet.pt fail with the file named and the fix, never
    with a bare KeyError or a loader's traceback (and never run code from the file)?"""
    path = tmp_path / "finetuned_resnet.pt"
    saved = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    if case == "plain state dict":  # torch.save(model.state_dict()), not save_trained_part
        torch.save(saved["state"], path)
    elif case == "not a torch file":
        path.write_bytes(b"PK\x03\x04 not really a zip")
    elif case == "code in the pickle":

        class Boom:
            def __reduce__(self):
                return (os.system, (f"touch {tmp_path / 'pwned'}",))

        torch.save({"recipe": Boom()}, path)
    elif case == "wrong shapes":
        saved["state"]["fc.weight"] = torch.zeros(3, 512, dtype=torch.float16)
        torch.save(saved, path)
    else:
        saved["state"]["layer3.0.conv1.weight"] = torch.zeros(256, 128, 3, 3)
        torch.save(saved, path)
    with pytest.raises(ValueError, match=r"finetuned_resnet\.pt.*RETRAIN = True"):
        graded["load_trained_part"](path)
    assert not (tmp_path / "pwned").exists()
