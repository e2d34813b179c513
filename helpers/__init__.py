"""The package students import: data, models, metrics, training loop, plots, widgets, experiments.

Each part is its own module (``helpers.data``, ``helpers.metrics``, ``helpers.models``,
``helpers.train``, ``helpers.plots``, ``helpers.widgets``, ``helpers.experiments``); import the one
you need, e.g. ``from helpers.data import fashion_mnist``.
"""

__version__ = "0.1.0"
