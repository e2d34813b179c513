"""What every figure of :mod:`helpers.plots` shares: the backend, the layout and the colours.

The backend rule runs once, from ``helpers/plots/__init__.py``, before any module of the package
imports ``matplotlib.pyplot`` (importing a submodule runs the package's ``__init__`` first).
"""

from __future__ import annotations

import os
import sys

import matplotlib


def _use_agg_when_headless() -> None:
    """Pick the Agg backend on a Linux machine without a display, and change nothing else.

    Why here: a grading container or a CI runner has no display, and a script importing
    helpers.plots must still be able to save figures. Jupyter's kernel sets ``MPLBACKEND`` to its
    inline backend before any import, a student may have chosen a backend already, and switching
    after ``pyplot`` is imported would close open figures, so in all those cases we keep out of it.
    """
    if os.environ.get("MPLBACKEND") or "matplotlib.pyplot" in sys.modules:
        return
    chosen = getattr(matplotlib.rcParams, "_get_backend_or_none", lambda: None)()
    if chosen is not None:  # set in a matplotlibrc: respect it
        return
    has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not has_display:
        matplotlib.use("Agg")


#: Layout of the figures made here: "constrained" keeps titles, rotated tick labels and legends
#: outside the axes from overlapping (axes a student passes in keep their figure's layout).
_LAYOUT = "constrained"

#: Title and frame colours of a right and of a wrong prediction.
_CORRECT = "tab:green"
_WRONG = "tab:red"
