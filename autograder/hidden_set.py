"""The bundle's private inputs: the pool of grading-input draws and the hidden test set.

One job: at ``build`` time, write ``draws/<k>/inputs/`` (the assignment's ``grading_inputs.py``
run on a seed drawn from the bundle's secret, told apart per draw) and ``hidden/`` (the hidden
test set, clean, with ``redraw.json`` naming the transform each run's copy gets; see
:func:`autograder.workfolder.hidden_inputs_for_run`).
"""

from __future__ import annotations

import importlib.util
import json
import secrets
from pathlib import Path

import numpy as np

from autograder.config import Assignment

__all__ = ["REDRAW_FILE", "SECRET_BYTES", "draw_grading_inputs", "prepare_hidden_data"]

#: In the bundle's ``hidden/``: which transform each run's copy of the inputs gets.
REDRAW_FILE = "redraw.json"
SECRET_BYTES = 32


def _draw_seed(secret: bytes, draw: int) -> np.random.SeedSequence:
    """Draw ``draw``'s seed: the bundle's secret, told apart per draw by NumPy's spawn key."""
    return np.random.SeedSequence(int.from_bytes(secret, "big"), spawn_key=(draw,))


def draw_grading_inputs(assignment: Assignment, secret: bytes, draws: Path) -> list[dict]:
    """Write ``draws/<k>/inputs/`` for every draw of the pool; returns each draw's inputs."""
    pool: list[dict] = []
    module = None
    if assignment.grading_inputs:
        path = assignment.config_dir / assignment.grading_inputs
        spec = importlib.util.spec_from_file_location(f"_kit_inputs_{assignment.name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    for draw in range(assignment.input_pool):
        target = draws / str(draw) / "inputs"
        target.mkdir(parents=True)
        inputs = {}
        if module is not None:
            rng = np.random.default_rng(_draw_seed(secret, draw))
            inputs = {k: np.asarray(v) for k, v in module.make_inputs(rng).items()}
        for name, value in inputs.items():
            np.save(target / f"{name}.npy", value, allow_pickle=False)
        pool.append(inputs)
    return pool


def prepare_hidden_data(assignment: Assignment, target: Path) -> None:
    """Write the bundle's hidden set into ``target``: ``inputs/`` untransformed, ``labels/``,
    and ``redraw.json`` naming the transform that every run's copy gets (``_run_in``)."""
    if not assignment.hidden_data:
        return
    from helpers.data.hidden import prepare_hidden_split

    spec = dict(assignment.hidden_data)
    dataset = spec.pop("dataset")
    # A seed the config does not give is drawn from secrets and written nowhere, so the subset
    # (limit) cannot be reproduced from public files.
    spec.setdefault("seed", secrets.randbits(64))
    limit = spec.pop("limit", 0) or None
    if "root" in spec:  # relative to the kit's root, like every other path in the config
        spec["root"] = assignment.root / spec["root"]
    # The bundle keeps the images clean: each run noises its own copy from them (noise added
    # to noised images would pile up). transform_seed no longer applies: every run draws one.
    transform = spec.pop("transform", "none")
    spec.pop("transform_seed", None)
    prepare_hidden_split(dataset, target / "inputs", target / "labels", limit=limit, **spec)
    (target / REDRAW_FILE).write_text(json.dumps({"transform": transform}))
