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
