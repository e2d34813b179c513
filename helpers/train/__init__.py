"""Training: seeding, device choice, the ``fit`` loop, ``evaluate`` and ``predict``.

``fit`` is one plain function that reads top-down (``helpers/train/fit_loop.py``): the course asks
students to read and reason about a training loop, so it is written here rather than taken from a
framework. ``bench/train_overhead.py`` measures its cost against a bare PyTorch loop.

Data arguments take a ``torch.utils.data.DataLoader`` or any iterable of ``(inputs, targets)``
batches, e.g. ``helpers.data.InMemoryLoader``; a batch is moved to the device only when it is not
already there. Metrics are any objects with ``reset()``, ``update(outputs, targets)`` and
``compute()`` (the :class:`Metric` protocol: ``helpers.metrics`` and torchmetrics both fit).

Progress bars (``tqdm.auto``: widgets in JupyterLab, text in a terminal) follow
:func:`progress_enabled`: never under the autograder (environment variable ``KIT_GRADING=1``),
otherwise shown in Jupyter and on a terminal, hidden when output goes to a file or a pipe.

On the CPU the first ``fit``, ``evaluate`` or ``predict`` sets torch's thread count for a shared
machine and says so once (``threads``; ``KIT_NUM_THREADS=n`` overrides).

Modules, one job each: ``seeding``, ``devices``, ``threads`` (CPU thread count), ``progress``
(bars), ``batches`` (split, move, size), ``metric_protocol`` (:class:`Metric`, results as history
columns), ``precision`` (mixed precision), ``epoch`` (one pass over the data), ``best_epoch``
(early stopping, best checkpoint), ``fit_loop`` (``fit``), ``inference`` (``evaluate``,
``predict``). Import from ``helpers.train`` itself: the names in ``__all__`` are the public ones.
"""

from helpers.train.devices import pick_device
from helpers.train.fit_loop import fit
from helpers.train.inference import evaluate, predict
from helpers.train.metric_protocol import Metric
from helpers.train.progress import progress_enabled
from helpers.train.seeding import seed_everything

__all__ = [
    "Metric",
    "evaluate",
    "fit",
    "pick_device",
    "predict",
    "progress_enabled",
    "seed_everything",
]
