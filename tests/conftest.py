"""Shared by every test under tests/."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _numpy_print_options_restored():
    """Tests that run a notebook's cells in this process (a1's set-up calls
    ``np.set_printoptions(precision=4)``) would otherwise change how later doctests print
    arrays; each test gets NumPy's print options back as they were."""
    with np.printoptions(**np.get_printoptions()):
        yield


@pytest.fixture(autouse=True)
def _no_private_dir_from_the_shell(monkeypatch):
    """An instructor's own KIT_PRIVATE_DIR (autograder.hidden_set) would change which hidden
    sets the tests build; tests that want one set it themselves."""
    monkeypatch.delenv("KIT_PRIVATE_DIR", raising=False)
