"""A browser over a test set's predictions, for JupyterLab (ipywidgets).

::

    from helpers.widgets import browse_predictions
    browse_predictions(test_images, test_targets, test_scores, class_names=CLASSES)

shows one image at a time with its true and predicted labels and the model's scores, with a
slider to step through the images, a class filter (by true or by predicted label), a choice of
all / correct / mistakes, and, for multi-label outputs, a threshold slider. Inputs are as in
:mod:`helpers.plots` (images as tensors or arrays, CHW float in [0, 1] or HWC uint8; single-label
targets ``(N,)`` or multi-label multi-hot ``(N, C)`` with -1 = ignored; predictions as class
indices ``(N,)`` or scores ``(N, C)``, probabilities for multi-label).

The logic lives in small functions (:func:`filter_indices`, :func:`describe`,
:func:`render_prediction`) that work without a browser; the widget only wires them to controls.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

# The private helpers are shared on purpose: the browser must draw and read labels exactly as the
# plots do.
from helpers.plots.convert import ArrayLike, _image_list, _to_numpy
from helpers.plots.image_grid import _draw_labelled_image
from helpers.plots.labels import ImageLabels, _names, _num_classes, image_labels

__all__ = [
    "PredictionBrowser",
    "browse_predictions",
    "describe",
    "filter_indices",
    "render_prediction",
]

_MATCH_BY = ("true", "predicted")
_SHOW = ("all", "correct", "mistakes")


def _check_choice(name: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        choices = ", ".join(repr(v) for v in valid)
        raise ValueError(
            f"Unknown value {value!r} for argument {name}. Valid values are {choices}."
        )


def filter_indices(
    labels: Sequence[ImageLabels],
    *,
    class_index: int | None = None,
    by: str = "true",
    show: str = "all",
) -> list[int]:
    """Indices of the images that pass a filter, in order.

    Args:
        labels: one :class:`helpers.plots.ImageLabels` per image (from ``image_labels``).
        class_index: keep images whose true (``by="true"``) or predicted (``by="predicted"``)
            labels include this class; ``None`` keeps every class.
        by: ``"true"`` or ``"predicted"``.
        show: ``"all"``, ``"correct"`` or ``"mistakes"`` (needs targets and predictions).

    >>> from helpers.plots import image_labels
    >>> labels = image_labels([0, 1, 1, 2], [0, 1, 2, 1])
    >>> filter_indices(labels, class_index=1)
    [1, 2]
    >>> filter_indices(labels, class_index=1, by="predicted", show="mistakes")
    [3]
    """
    _check_choice("by", by, _MATCH_BY)
    _check_choice("show", show, _SHOW)
    kept = []
    for i, lab in enumerate(labels):
        if class_index is not None:
            classes = lab.true if by == "true" else lab.predicted
            if classes is None:
                what = "targets" if by == "true" else "predictions"
                raise ValueError(f"Cannot filter by {by} label: no {what} were given.")
            if class_index not in classes:
                continue
        if show != "all":
            if lab.correct is None:
                raise ValueError(
                    f"show={show!r} needs both targets and predictions; pass both, or use "
                    f"show='all'."
                )
            if lab.correct != (show == "correct"):
                continue
        kept.append(i)
    return kept


def describe(
    labels: ImageLabels,
    class_names: Sequence[str],
    *,
    scores: ArrayLike | None = None,
    threshold: float | None = None,
    top: int = 5,
) -> list[str]:
    """Lines of text about one image's prediction: true, predicted, verdict, best scores.

    Args:
        labels: the image's :class:`helpers.plots.ImageLabels`.
        class_names: one name per class index.
        scores: the image's scores ``(C,)``, if the model gave scores.
        threshold: the multi-label threshold (``None`` for single-label).
        top: how many of the highest scores to list.

    >>> from helpers.plots import image_labels
    >>> lab = image_labels([[1, 0, 1]], [[0.9, 0.6, 0.3]])[0]
    >>> for line in describe(lab, ["cat", "dog", "cow"], scores=[0.9, 0.6, 0.3], threshold=0.5):
    ...     print(line)
    true: cat, cow
    predicted: cat, dog
    wrong: missed cow; extra dog
    scores (threshold 0.50): cat 0.90, dog 0.60, cow 0.30
    """
    lines = []
    join = ", ".join
    if labels.true is not None:
        lines.append(f"true: {join(class_names[c] for c in labels.true) or '(none)'}")
    if labels.predicted is not None:
        lines.append(f"predicted: {join(class_names[c] for c in labels.predicted) or '(none)'}")
    if labels.correct is True:
        lines.append("right")
    elif labels.correct is False:
        true, predicted = set(labels.true or ()), set(labels.predicted or ()) - set(labels.ignored)
        if len(true) == 1 and len(predicted) == 1:  # single-label: the two lines say it all
            lines.append("wrong")
        else:
            parts = []
            if missed := sorted(true - predicted):
                parts.append("missed " + join(class_names[c] for c in missed))
            if extra := sorted(predicted - true):
                parts.append("extra " + join(class_names[c] for c in extra))
            lines.append("wrong: " + "; ".join(parts))
    if labels.ignored:
        lines.append(f"ignored (-1): {join(class_names[c] for c in labels.ignored)}")
    if scores is not None:
        s = _to_numpy(scores).astype(np.float64).ravel()
        best = np.argsort(-s, kind="stable")[:top]
        head = "scores" if threshold is None else f"scores (threshold {threshold:.2f})"
        lines.append(f"{head}: " + join(f"{class_names[c]} {s[c]:.2f}" for c in best))
    return lines


def render_prediction(
    image: ArrayLike,
    labels: ImageLabels,
    class_names: Sequence[str],
    *,
    scores: ArrayLike | None = None,
    threshold: float | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> bytes:
    """PNG bytes of one image with its labels, and a bar chart of its scores when given.

    In the bar chart predicted classes are blue, the others grey; true classes' names are bold;
    the multi-label threshold is a dashed line. Drawn on a bare ``Figure`` (not pyplot), so
    nothing is also shown by the notebook's inline backend.

    >>> from helpers.plots import image_labels
    >>> png = render_prediction(np.zeros((28, 28), np.uint8), image_labels([1], [1])[0], "ab")
    >>> png[:4]
    b'\\x89PNG'
    """
    with_scores = scores is not None
    figure = Figure(figsize=(7.0 if with_scores else 3.2, 3.4), layout="constrained")
    axes = figure.subplots(1, 2 if with_scores else 1, squeeze=False)[0]
    _draw_labelled_image(axes[0], image, labels, class_names, mean=mean, std=std)
    if with_scores:
        s = _to_numpy(scores).astype(np.float64).ravel()
        order = np.arange(s.size)[::-1]  # class 0 at the top
        predicted = set(labels.predicted or ())
        ax = axes[1]
        ax.barh(
            np.arange(s.size),
            s[order],
            color=["tab:blue" if c in predicted else "lightgray" for c in order],
        )
        ax.set_yticks(np.arange(s.size), [class_names[c] for c in order], fontsize=7)
        for tick, c in zip(ax.get_yticklabels(), order, strict=True):
            if c in (labels.true or ()):
                tick.set_fontweight("bold")
        if threshold is not None:
            ax.axvline(threshold, color="black", linestyle="--", linewidth=1)
            ax.set_xlim(0, 1)
        ax.set_xlabel("score")
        ax.tick_params(axis="x", labelsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


class PredictionBrowser(widgets.VBox):
    """The widget :func:`browse_predictions` returns; its controls are attributes.

    ``position`` (IntSlider: which of the filtered images), ``class_filter`` (Dropdown: -1 for
    all classes, else a class index), ``match_by`` (Dropdown: "true" or "predicted"), ``show``
    (ToggleButtons: "all", "correct", "mistakes"), ``threshold`` (FloatSlider, multi-label only),
    ``image`` (Image: the PNG shown) and ``info`` (HTML: the text beside it). ``indices`` is the
    filtered list of image indices and ``current_index`` the one shown (``None`` when the filter
    matches nothing). Setting a control's ``value`` in code updates the view as a click would.
    """

    def __init__(
        self,
        images: ArrayLike,
        targets: ArrayLike | None = None,
        predictions: ArrayLike | None = None,
        *,
        class_names: Sequence[str] | None = None,
        threshold: float = 0.5,
        multilabel: bool | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        self._images = _image_list(images)
        self._targets = None if targets is None else _to_numpy(targets)
        self._predictions = None if predictions is None else _to_numpy(predictions)
        if multilabel is None:
            multilabel = self._targets is not None and self._targets.ndim == 2
        self._multilabel = bool(multilabel)
        self._mean, self._std = mean, std
        self.labels = image_labels(
            self._targets, self._predictions, threshold=threshold, multilabel=self._multilabel
        )
        if self.labels and len(self.labels) != len(self._images):
            raise ValueError(
                f"Got {len(self._images)} images but {len(self.labels)} labels; pass one target "
                f"and one prediction per image."
            )
        count = _num_classes(self.labels, self._targets, self._predictions)
        self.class_names = _names(class_names, count)
        self.indices: list[int] = list(range(len(self._images)))
        self._busy = False

        have_true, have_pred = self._targets is not None, self._predictions is not None
        self.class_filter = widgets.Dropdown(
            options=[("all classes", -1), *((n, i) for i, n in enumerate(self.class_names))],
            value=-1,
            description="class",
            disabled=not (have_true or have_pred),
        )
        self.match_by = widgets.Dropdown(
            options=[("true label", "true"), ("predicted label", "predicted")],
            value="true" if have_true else "predicted",
            description="match by",
            disabled=not (have_true and have_pred),
        )
        self.show = widgets.ToggleButtons(
            options=list(_SHOW), value="all", disabled=not (have_true and have_pred)
        )
        self.threshold = widgets.FloatSlider(
            value=threshold,
            min=0.0,
            max=1.0,
            step=0.01,
            description="threshold",
            continuous_update=False,
            readout_format=".2f",
        )
        if not (self._multilabel and have_pred):
            self.threshold.layout.display = "none"  # a threshold means nothing for an arg-max
        self.position = widgets.IntSlider(
            value=0, min=0, max=max(0, len(self.indices) - 1), description="image"
        )
        self.image = widgets.Image(format="png")
        self.info = widgets.HTML()

        for control in (self.class_filter, self.match_by, self.show, self.threshold):
            control.observe(self._refilter, names="value")
        self.position.observe(self._render, names="value")
        super().__init__(
            [
                widgets.HBox([self.class_filter, self.match_by, self.show]),
                widgets.HBox([self.position, self.threshold]),
                widgets.HBox([self.image, self.info]),
            ]
        )
        self._render()

    @property
    def current_index(self) -> int | None:
        """Index (into the images given) of the image shown, or ``None`` if none matches."""
        if not self.indices:
            return None
        return self.indices[min(self.position.value, len(self.indices) - 1)]

    def _refilter(self, _change: Any = None) -> None:
        """Recompute labels and the filtered indices, keep the same image if it is still in."""
        shown = self.current_index
        if self._predictions is not None and self._multilabel:
            self.labels = image_labels(
                self._targets, self._predictions, threshold=self.threshold.value, multilabel=True
            )
        chosen = self.class_filter.value
        self.indices = list(range(len(self._images)))  # no labels: nothing to filter on
        if self.labels:
            self.indices = filter_indices(
                self.labels,
                class_index=None if chosen == -1 else chosen,
                by=self.match_by.value,
                show=self.show.value,
            )
        self._busy = True  # one render for the whole change, not one per slider attribute
        try:
            self.position.max = max(0, len(self.indices) - 1)
            self.position.value = self.indices.index(shown) if shown in self.indices else 0
            self.position.disabled = len(self.indices) <= 1
        finally:
            self._busy = False
        self._render()

    def _render(self, _change: Any = None) -> None:
        if self._busy:
            return
        index = self.current_index
        if index is None:
            self.image.value = b""
            self.info.value = (
                "<p>No image matches this filter. Choose another class or set show to "
                "<b>all</b>.</p>"
            )
            return
        labels = self.labels[index] if self.labels else ImageLabels(None, None)
        scores = None
        if self._predictions is not None and self._predictions.ndim == 2:
            scores = self._predictions[index]
        threshold = self.threshold.value if self._multilabel else None
        self.image.value = render_prediction(
            self._images[index],
            labels,
            self.class_names,
            scores=scores,
            threshold=threshold,
            mean=self._mean,
            std=self._std,
        )
        lines = [
            f"image {self.position.value + 1} of {len(self.indices)} (index {index})",
            *describe(labels, self.class_names, scores=scores, threshold=threshold),
        ]
        self.info.value = "<br>".join(html.escape(line) for line in lines)


def browse_predictions(
    images: ArrayLike,
    targets: ArrayLike | None = None,
    predictions: ArrayLike | None = None,
    *,
    class_names: Sequence[str] | None = None,
    threshold: float = 0.5,
    multilabel: bool | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> PredictionBrowser:
    """A widget to step through a test set's predictions; put it last in a cell to show it.

    Args:
        images: ``(N, C, H, W)`` float in [0, 1], ``(N, H, W, C)`` uint8, ``(N, H, W)`` or a list
            of images (as in :func:`helpers.plots.plot_image_grid`).
        targets: ``(N,)`` class indices, or ``(N, C)`` multi-hot with -1 = ignored. Optional.
        predictions: ``(N,)`` class indices or ``(N, C)`` scores (multi-label: probabilities;
            apply ``torch.sigmoid`` to logits). Scores also draw a bar chart beside the image.
        class_names: one name per class index.
        threshold: starting value of the multi-label threshold slider.
        multilabel: read from ``targets`` (2-D = multi-label) unless given.
        mean, std: undo a ``Normalize`` transform before drawing.

    Returns:
        A :class:`PredictionBrowser` (an ``ipywidgets.VBox``).
    """
    return PredictionBrowser(
        images,
        targets,
        predictions,
        class_names=class_names,
        threshold=threshold,
        multilabel=multilabel,
        mean=mean,
        std=std,
    )
