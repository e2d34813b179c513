"""The grading contract (helpers/contract.py) and the bundle's typed manifest."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from autograder.manifest import BundleManifest, Expected, read_manifest, write_manifest
from helpers import contract

ROOT = Path(__file__).resolve().parents[1]
#: Names only the contract may spell as a string literal.
SHARED = {
    contract.GRADING_ENV, contract.RECORD_DIR_ENV, contract.INPUTS_DIR_ENV,
    contract.ASSIGNMENT_DIR_ENV, contract.DATA_DIR_ENV, contract.HIDE_ENV,
    contract.KERNEL_USER_ENV, contract.BUNDLE_DIR_ENV, contract.RECORD_MIMETYPE,
    contract.SOLUTION_MARK, contract.SOLUTION_END, contract.HIDDEN_MARK, contract.HIDDEN_END,
}  # fmt: skip
#: The kernel launcher (runs alone, before the kit is importable), the Gradescope wrapper (the
#: same), the scaffold's notebook text, and the contract itself.
NOT_YET = {"kernel_launcher.py", "run.py", "scaffold.py", "contract.py"}


def _literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in SHARED}


def test_only_the_contract_spells_the_shared_names():
    """Does any module of autograder/ or helpers/ spell an environment variable, a marker or the
    record mimetype itself instead of taking it from the contract?"""
    found = {
        str(path.relative_to(ROOT)): sorted(names)
        for package in ("autograder", "helpers")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.name not in NOT_YET and (names := _literals(path))
    }
    assert found == {}


def test_the_parameters_cell_names_are_the_ones_notebooks_use():
    """Would a notebook's parameters cell (GRADING, DEVICE, DATA_DIR, OUTPUT_DIR, SEED) still
    get every value the grader injects?"""
    values = contract.grading_parameters(device="cuda", data_dir="/d", output_dir="/o", seed=3)
    assert values == {"GRADING": True, "DEVICE": "cuda", "DATA_DIR": "/d", "OUTPUT_DIR": "/o",
                      "SEED": 3}  # fmt: skip


def test_a_manifest_round_trips_in_the_format_bundles_already_have(tmp_path):
    """Does a manifest written by build read back equal, in the keys older bundles hold?"""
    old = {
        "assignment": "toy",
        "tests": {"q1": {"notebook": "toy.ipynb", "points": 2.0, "hidden": True,
                         "records": [{"name": "q1.out", "rtol": 1e-6, "atol": 0.0}]}},
        "performance": {"accuracy": {"value": 0.9, "points": 5.0, "max_score": 5.0,
                                     "output": "Accuracy 0.9"}},
        "input_pool": 4,
    }  # fmt: skip
    (tmp_path / "expected.json").write_text(json.dumps(old, indent=1))
    manifest = read_manifest(tmp_path)
    assert manifest.tests["q1"].records == (Expected("q1.out", 1e-6, 0.0),)
    assert manifest.input_pool == 4 and manifest.tests["q1"].hidden
    write_manifest(tmp_path, manifest)
    assert json.loads((tmp_path / "expected.json").read_text()) == old


def test_a_manifest_without_a_pool_reads_as_an_older_bundle(tmp_path):
    """Does a bundle built before input pools read with input_pool None (grade then says to
    build again), and a broken one raise instead of reading as empty?"""
    (tmp_path / "expected.json").write_text(json.dumps({"tests": {}}))
    assert read_manifest(tmp_path) == BundleManifest()
    (tmp_path / "expected.json").write_text(json.dumps({"tests": []}))
    with pytest.raises(AttributeError):
        read_manifest(tmp_path)
