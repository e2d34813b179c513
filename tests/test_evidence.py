"""Records as evidence: build refuses what a kernel could produce without the student's code, and a
forged execute reply earns nothing without the records."""

from __future__ import annotations

import os

import numpy as np
import pytest
import toy_assignment as toy

from autograder import pipeline
from autograder.config import ConfigError, load_assignment
from autograder.evidence import check_evidence

SOLVED = {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"}
INPUTS = [{"a": np.arange(3.0)}, {"a": np.arange(3.0) + 10}, {"a": np.arange(3.0) - 5}]


def _why(name, draws, rtol=1e-6, atol=0.0):
    refused = check_evidence("q1_tests", name, [np.asarray(d) for d in draws], INPUTS,
                             rtol=rtol, atol=atol)  # fmt: skip
    return None if refused is None else str(refused)


def test_a_scalar_boolean_is_no_evidence():
    """Is a boolean decided in the kernel (`returns_best`) refused, even when it varies?"""
    why = _why("returns_best", [True, False, True])
    assert why.startswith("q1_tests: record 'returns_best' is a single boolean")
    assert "keep the check itself as an assert" in why


def test_a_boolean_array_that_varies_is_evidence():
    assert _why("mask", [[True, False], [False, False], [True, True]]) is None


def test_a_constant_is_no_evidence_even_within_tolerance():
    """Is a value the same in every draw refused, also when it only differs within its atol?"""
    assert "same value in all 3 input draws" in _why("dtype", ["float32"] * 3)
    assert "same value in all 3" in _why("kept", [0.80, 0.81, 0.79], atol=0.03)
    assert _why("kept", [0.80, 0.81, 0.79], atol=1e-6) is None


def test_a_copy_of_an_input_is_no_evidence():
    why = _why("echo", [d["a"] for d in INPUTS])
    assert "equals the grading input 'a'" in why and "not the input itself" in why


def test_input_pool_below_two_is_a_config_error(tmp_path):
    root = toy.make_root(tmp_path)
    config = root / "assignments" / toy.NAME / "assignment.toml"
    config.write_text(config.read_text() + "\n[grading]\ninput_pool = 1\n")
    with pytest.raises(ConfigError, match=r"input_pool = 1; use 2 to 100"):
        load_assignment(toy.NAME, root)


@pytest.fixture()
def bundles(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_BUNDLE_DIR", str(tmp_path / "bundles"))
    return tmp_path


def test_build_refuses_a_boolean_record_naming_cell_record_and_fix(bundles):
    """Does build stop at a test cell that records a boolean, saying which and how to fix it?"""
    root = toy.make_root(bundles / "kit")
    source = root / "source" / toy.NAME / "toy.ipynb"
    nb = toy.notebook(t1=toy.T1 + '\nrecord("add.ok", bool(np.allclose(add(1, 2), 3)))')
    import nbformat

    nbformat.write(nb, source)
    with pytest.raises(pipeline.BuildError) as caught:
        pipeline.build(load_assignment(toy.NAME, root), device="cpu")
    message = str(caught.value)
    assert "q1_tests: record 'add.ok' is a single boolean" in message
    assert "add.hidden" not in message  # the other records of the cell are evidence
    assert "To fix: Record the values the check is made from" in message


def test_build_draws_a_pool_from_a_secret(bundles):
    """Does build keep one input set and expected set per draw, all different, seeded secretly?"""
    root = toy.make_root(bundles / "kit")
    summary = pipeline.build(load_assignment(toy.NAME, root), device="cpu")
    bundle = pipeline.bundle_dir(load_assignment(toy.NAME, root))
    assert summary["input_pool"] == 3
    assert len((bundle / "secret").read_bytes()) == 32
    assert oct((bundle / "secret").stat().st_mode & 0o777) == "0o600"
    drawn = [np.load(bundle / "draws" / str(k) / "inputs" / "a.npy") for k in range(3)]
    assert not np.allclose(drawn[0], drawn[1]) and not np.allclose(drawn[1], drawn[2])
    expected = [
        np.load(bundle / "draws" / str(k) / "expected" / "add.hidden.npy") for k in range(3)
    ]
    b = [np.load(bundle / "draws" / str(k) / "inputs" / "b.npy") for k in range(3)]
    for k in range(3):
        np.testing.assert_allclose(expected[k], drawn[k] + b[k])
    # Solved and blank submissions still grade as before, whichever draw grade picks.
    solved = toy.student(bundles / "solved" / "toy.ipynb", **SOLVED)
    assignment = load_assignment(toy.NAME, root)
    assert pipeline.grade(assignment, solved, device="cpu").results["score"] == 5
    blank = toy.student(bundles / "blank" / "toy.ipynb")
    assert pipeline.grade(assignment, blank, device="cpu").results["score"] == 0


FORGE_OK = """\
import asyncio
_kernel = get_ipython().kernel

async def _forged(*args, **kwargs):
    return {"status": "ok", "execution_count": 1, "user_expressions": {}, "payload": []}

_kernel.do_execute = _forged  # every later cell 'succeeds' without running
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root")
def test_a_forged_ok_reply_earns_nothing_without_the_records(bundles):
    """Does a kernel that answers 'ok' for every test cell, running none, score zero?"""
    root = toy.make_root(bundles / "kit")
    assignment = load_assignment(toy.NAME, root)
    pipeline.build(assignment, device="cpu")
    cheat = toy.student(bundles / "cheat" / "toy.ipynb", q1=FORGE_OK)
    results = pipeline.grade(assignment, cheat, device="cpu").results
    tests = {t["name"]: t for t in results["tests"]}
    assert results["score"] == 0
    assert "record 'add.hidden' was not made" in tests["q1_tests"]["output"]
    assert "record 'scale.hidden' was not made" in tests["q2_tests"]["output"]


def test_grading_with_a_bundle_from_before_the_pool_asks_for_a_rebuild(bundles):
    """Does a bundle without draws (built by an older kit) get a clear message, not 0 points?"""
    root = toy.make_root(bundles / "kit")
    assignment = load_assignment(toy.NAME, root)
    bundle = pipeline.bundle_dir(assignment)
    bundle.mkdir(parents=True)
    (bundle / "expected.json").write_text('{"assignment": "toy", "tests": {}, "performance": {}}')
    with pytest.raises(pipeline.BuildError, match=r"built by an older version .* build toy"):
        pipeline.grade(assignment, bundles / "anything", device="cpu")
