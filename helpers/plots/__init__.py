"""Figures for reports: curves, per-class bars, confusion matrices, image grids, segmentation.

Every report the course receives has loss and metric curves, per-class results, prediction
pictures and an ablation table; each figure here is one call. Every function takes ``ax=None``
(or ``axes=None`` for several panels), draws on what it is given or on a new figure, and returns
what it drew on, so figures compose::

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    plot_curves(history, "loss", ax=left)
    plot_per_class(ap_per_class, VOC_CLASSES, ax=right, ylabel="AP")
    fig.savefig("report.png")

Inputs
------
* **Histories**: a :class:`helpers.history.History` or a plain dict of lists (column -> values),
  with columns ``train_<name>`` / ``val_<name>`` (``train_loss``, ``val_accuracy``, ...).
* **Images**: torch tensors or NumPy arrays, either float ``(C, H, W)`` in [0, 1] (what
  torchvision's ``ToTensor`` gives) or uint8 ``(H, W, C)`` in [0, 255] (what PIL gives), with
  C = 1 (Fashion-MNIST) or 3 (VOC). A batch is ``(N, C, H, W)``, ``(N, H, W, C)``, a
  Fashion-MNIST-style ``(N, H, W)`` or a list of single images (sizes may differ). Pass
  ``mean=``/``std=`` to undo a ``Normalize`` transform.
* **Labels**: single-label targets are class indices ``(N,)``; predictions are class indices
  ``(N,)`` or scores ``(N, C)`` (arg-max taken). Multi-label targets are multi-hot ``(N, C)`` with
  1 = present, 0 = absent, -1 = ignored ("difficult" in VOC); predictions are probabilities
  ``(N, C)`` (apply ``torch.sigmoid`` to logits), a class counts as predicted when its score is
  ``>= threshold``.
* **Segmentation masks**: class indices ``(H, W)``, integer dtype, 255 = ignore (VOC's border).

Small problems (an empty class, logits where probabilities were expected, too many images)
give a warning and a sensible figure; only input that cannot be drawn raises.

Modules, one job each: ``curves`` (training curves), ``per_class`` (per-class bars, confusion
matrix), ``image_grid`` (labelled image grids), ``side_by_side`` (two models compared),
``segmentation`` (mask overlays), ``labels`` (true and predicted classes per image), ``convert``
(images and batches as matplotlib draws them), ``_style`` (backend, layout, colours). Import from
``helpers.plots`` itself: the names in ``__all__`` are the public ones.
"""

from helpers.plots._style import _use_agg_when_headless

_use_agg_when_headless()  # before any module below imports matplotlib.pyplot

from helpers.data.voc import IGNORE_INDEX  # noqa: E402
from helpers.plots.convert import to_display_image  # noqa: E402
from helpers.plots.curves import plot_curves, plot_history  # noqa: E402
from helpers.plots.image_grid import plot_image_grid  # noqa: E402
from helpers.plots.labels import ImageLabels, image_labels  # noqa: E402
from helpers.plots.per_class import plot_confusion_matrix, plot_per_class  # noqa: E402
from helpers.plots.segmentation import (  # noqa: E402
    VOC_SEGMENTATION_CLASSES,
    plot_segmentation,
    plot_segmentations,
)
from helpers.plots.side_by_side import plot_side_by_side  # noqa: E402

__all__ = [
    "IGNORE_INDEX",
    "VOC_SEGMENTATION_CLASSES",
    "ImageLabels",
    "image_labels",
    "plot_confusion_matrix",
    "plot_curves",
    "plot_history",
    "plot_image_grid",
    "plot_per_class",
    "plot_segmentation",
    "plot_segmentations",
    "plot_side_by_side",
    "to_display_image",
]
