"""What a streaming metric is: the three methods ``helpers.train.fit`` calls.

Every evaluator in :mod:`helpers.metrics` (``Accuracy``, ``MultilabelAveragePrecision``,
``SegmentationEvaluator``) follows this protocol, and so can a student's own class: ``fit`` only
calls ``reset()`` at the start of an evaluation, ``update(outputs, targets)`` once per batch, and
``compute()`` at the end.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["StreamingMetric"]


@runtime_checkable
class StreamingMetric(Protocol):
    """A metric accumulated batch by batch.

    ``compute()`` returns what a history can log: a float for a scalar metric, or an object with a
    ``scalars()`` method giving a dict of floats (``SegmentationScores``).

    >>> from helpers.metrics import Accuracy
    >>> isinstance(Accuracy(), StreamingMetric)
    True
    """

    def reset(self) -> None:
        """Forget every batch seen so far."""

    def update(self, outputs: Any, targets: Any) -> None:
        """Add one batch of model outputs and targets."""

    def compute(self) -> Any:
        """The metric over every batch since the last ``reset()``."""
