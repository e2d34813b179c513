"""helpers.plots: every report figure renders headless and shows what it claims to show."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from helpers import plots
from helpers.data import CLASSES
from helpers.history import History
from helpers.plots import _style

FASHION = list(CLASSES)  # Fashion-MNIST's ten class names
VOC20 = list(plots.VOC_SEGMENTATION_CLASSES[1:])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def save_png(figure, path: Path) -> np.ndarray:
    """Save, check it is a real, non-blank PNG of a plausible size, return its pixels."""
    figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert 200 <= pixels.shape[0] <= 4000 and 200 <= pixels.shape[1] <= 6000, pixels.shape
    assert pixels.std() > 5, "the PNG is (almost) one flat colour"
    return pixels


def a_history() -> History:
    history = History()
    for epoch in range(1, 6):
        history.append(
            epoch=epoch,
            train_loss=1.0 / epoch,
            val_loss=[1.2, 0.8, 0.7, 0.75, 0.9][epoch - 1],
            train_accuracy=0.5 + 0.08 * epoch,
            val_accuracy=[0.5, 0.6, 0.72, 0.7, 0.69][epoch - 1],
            lr=0.1,
        )
    return history


def colour(name_or_rgba) -> tuple:
    return tuple(np.round(mcolors.to_rgba(name_or_rgba), 3))


# ----------------------------------------------------------------------------------------------
# Backend
# ----------------------------------------------------------------------------------------------


def test_import_keeps_jupyter_inline_backend():
    """Does importing helpers.plots in a kernel keep Jupyter's inline backend (MPLBACKEND)?"""
    inline = "module://matplotlib_inline.backend_inline"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["MPLBACKEND"] = inline  # what ipykernel sets before any user code runs
    code = "import matplotlib, helpers.plots; print(matplotlib.rcParams._get_backend_or_none())"
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == inline


@pytest.mark.parametrize("module", ["helpers.plots", "helpers.plots.segmentation"])
def test_headless_import_of_any_plot_module_picks_agg(module, tmp_path):
    """Imported on its own in a fresh headless process, does any plotting module choose Agg
    before pyplot loads (so a grading container can save figures)?"""
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY"}}
    env.pop("MPLBACKEND", None)
    env["MPLCONFIGDIR"] = str(tmp_path)  # no user matplotlibrc choosing a backend
    code = f"import matplotlib, {module}; print(matplotlib.rcParams._get_backend_or_none())"
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().lower() == "agg"


@pytest.fixture
def backend_calls(monkeypatch):
    """Run the import-time backend rule as in a fresh process; record what it asks matplotlib."""
    calls = []
    monkeypatch.setattr(_style.matplotlib, "use", lambda name, **_: calls.append(name))
    monkeypatch.delitem(sys.modules, "matplotlib.pyplot")
    monkeypatch.setattr(_style.matplotlib.rcParams, "_get_backend_or_none", lambda: None)
    for name in ("MPLBACKEND", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    return calls


def test_headless_import_picks_agg(backend_calls):
    """On Linux with no display and no backend chosen, does the import pick Agg?"""
    _style._use_agg_when_headless()
    assert backend_calls == ["Agg"]


def test_import_with_a_display_leaves_the_choice_to_matplotlib(backend_calls, monkeypatch):
    """With a display, or a backend already chosen, is the backend left alone?"""
    monkeypatch.setenv("DISPLAY", ":0")
    _style._use_agg_when_headless()
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setenv("MPLBACKEND", "pdf")
    _style._use_agg_when_headless()
    assert backend_calls == []


# ----------------------------------------------------------------------------------------------
# Curves
# ----------------------------------------------------------------------------------------------


def test_curves_from_history_draw_train_and_val(tmp_path):
    """Does a History give a dashed train and a solid val line over the epochs, best val named?"""
    ax = plots.plot_curves(a_history(), "loss")
    train, val = ax.get_lines()
    assert list(train.get_xdata()) == [1, 2, 3, 4, 5]
    assert list(val.get_ydata()) == [1.2, 0.8, 0.7, 0.75, 0.9]
    assert train.get_linestyle() == "--" and val.get_linestyle() == "-"
    assert train.get_color() == val.get_color()
    assert val.get_label() == "val (best 0.700 @ 3)"
    assert ax.get_xlabel() == "epoch" and ax.get_title() == "loss"
    save_png(ax.figure, tmp_path / "loss.png")


def test_curves_best_metric_is_the_highest():
    """For a metric (not a loss), is the best validation epoch the highest one?"""
    ax = plots.plot_curves(a_history(), "accuracy")
    assert ax.get_lines()[1].get_label() == "val (best 0.720 @ 3)"


def test_curves_accept_a_plain_dict():
    """Does a dict of lists draw the same numbers as the History it came from?"""
    history = a_history()
    from_dict = plots.plot_curves(history.to_dict(), "accuracy")
    from_history = plots.plot_curves(history, "accuracy")
    for a, b in zip(from_dict.get_lines(), from_history.get_lines(), strict=True):
        assert list(a.get_xdata()) == list(b.get_xdata())
        assert list(a.get_ydata()) == list(b.get_ydata())


def test_curves_use_the_epochs_that_have_the_column():
    """When validation ran every other epoch, do val points sit at those epochs?"""
    history = History()
    for epoch in range(1, 5):
        row = {"epoch": epoch, "train_loss": 1.0 / epoch}
        if epoch % 2 == 0:
            row["val_loss"] = 0.5
        history.append(**row)
    train, val = plots.plot_curves(history, "loss").get_lines()
    assert list(train.get_xdata()) == [1, 2, 3, 4]
    assert list(val.get_xdata()) == [2, 4]


def test_curves_of_a_resumed_run_keep_its_epoch_numbers():
    """Does a run resumed at epoch 11 plot at epochs 11, 12, not 1, 2?"""
    history = History()
    history.append(epoch=11, train_loss=0.3, val_loss=0.4)
    history.append(epoch=12, train_loss=0.2, val_loss=0.35)
    ax = plots.plot_curves(history, "loss")
    assert list(ax.get_lines()[0].get_xdata()) == [11, 12]
    assert ax.get_lines()[1].get_label() == "val (best 0.350 @ 12)"
    from_dict = plots.plot_curves(history.to_dict(), "loss")
    assert list(from_dict.get_lines()[0].get_xdata()) == [11, 12]


def test_curves_of_two_runs_on_one_axes():
    """Can two runs share an axes, each in its own colour, named in the legend?"""
    ax = plots.plot_curves(a_history(), "loss", label="baseline")
    plots.plot_curves(a_history().to_dict(), "loss", ax=ax, label="augmented")
    lines = ax.get_lines()
    assert len(lines) == 4
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "baseline train" and legend[2] == "augmented train"


def test_curves_of_a_single_column():
    """Is a column such as 'lr' (no train_/val_ pair) drawn alone?"""
    ax = plots.plot_curves(a_history(), "lr")
    assert len(ax.get_lines()) == 1


def test_curves_unknown_name_lists_the_columns():
    """Does asking for a quantity the history lacks say which columns it has?"""
    with pytest.raises(ValueError, match=r"no column train_map, val_map or map\. It has: epoch"):
        plots.plot_curves(a_history(), "map")


def test_curves_reject_what_is_not_a_history():
    """Does passing a list say what a history should be?"""
    with pytest.raises(TypeError, match=r"Expected a History .* or a dict of lists"):
        plots.plot_curves([0.5, 0.4], "loss")


def test_curves_of_an_empty_history():
    """Does an empty history say to train first?"""
    with pytest.raises(ValueError, match="This history is empty: train for at least one epoch"):
        plots.plot_curves(History(), "loss")


def test_history_has_one_panel_per_quantity_loss_first(tmp_path):
    """Does plot_history draw loss and then each metric, two lines per panel?"""
    history = a_history()
    history.append(epoch=6, val_map=0.4)
    axes = plots.plot_history(history)
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy", "map"]
    assert [len(ax.get_lines()) for ax in axes] == [2, 2, 1]
    save_png(axes[0].figure, tmp_path / "history.png")


def test_history_on_given_axes():
    """Does plot_history draw on the axes it is given, and refuse the wrong number of them?"""
    _, axes = plt.subplots(1, 2)
    out = plots.plot_history(a_history(), ["loss", "accuracy"], axes=axes)
    assert list(out) == list(axes)
    with pytest.raises(ValueError, match=r"Got 2 axes for 1 panels \(loss\)"):
        plots.plot_history(a_history(), ["loss"], axes=axes)


# ----------------------------------------------------------------------------------------------
# Per-class bars and confusion matrix
# ----------------------------------------------------------------------------------------------


def test_per_class_bars_names_and_mean(tmp_path):
    """Are there one bar per class, the names as tick labels and the mean as a line?"""
    values = torch.linspace(0.2, 0.9, 10)
    ax = plots.plot_per_class(values, FASHION, ylabel="accuracy")
    assert len(ax.patches) == 10
    assert [t.get_text() for t in ax.get_xticklabels()] == FASHION
    (mean_line,) = ax.get_lines()
    assert mean_line.get_ydata()[0] == pytest.approx(0.55)
    assert [p.get_height() for p in ax.patches] == pytest.approx(values.tolist())
    save_png(ax.figure, tmp_path / "per_class.png")


def test_per_class_nan_is_missing_not_zero(tmp_path):
    """Is a NaN class left without a bar, marked n/a, explained, and out of the mean?"""
    values = np.linspace(0.3, 0.9, 20)
    values[[3, 7]] = np.nan
    ax = plots.plot_per_class(values, VOC20, ylabel="AP")
    assert len(ax.patches) == 18
    assert all(p.get_height() > 0 for p in ax.patches)
    bar_positions = sorted(round(p.get_x() + p.get_width() / 2) for p in ax.patches)
    assert 3 not in bar_positions and 7 not in bar_positions
    assert [t.get_text() for t in ax.texts].count("n/a") == 2
    assert ax.get_xlabel().startswith("n/a: 2 class(es) without a value")
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(np.nanmean(values))
    save_png(ax.figure, tmp_path / "per_class_nan.png")


def test_per_class_from_a_dict():
    """Does a dict name -> value give the names in its order?"""
    ax = plots.plot_per_class({"cat": 0.5, "dog": 0.7})
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]


def test_per_class_length_mismatch():
    """Do 3 values with 2 names raise and say what to pass?"""
    with pytest.raises(ValueError, match="Got 2 class names but the labels use 3 classes"):
        plots.plot_per_class([0.1, 0.2, 0.3], ["a", "b"])
    with pytest.raises(ValueError, match="Got 2 values but 3 class names"):
        plots.plot_per_class([0.1, 0.2], ["a", "b", "c"])


def test_confusion_matrix_counts_in_cells(tmp_path):
    """Are class names on both axes and the counts written in the cells?"""
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(1)
    targets = rng.integers(0, 10, 300)
    predictions = np.where(rng.random(300) < 0.7, targets, rng.integers(0, 10, 300))
    ax = plots.plot_confusion_matrix(targets=targets, predictions=predictions, class_names=FASHION)
    assert [t.get_text() for t in ax.get_xticklabels()] == FASHION
    assert [t.get_text() for t in ax.get_yticklabels()] == FASHION
    assert len(ax.texts) == 100
    counts = confusion_matrix(targets, predictions, labels=range(10))
    assert [int(t.get_text()) for t in ax.texts] == counts.ravel().tolist()
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    save_png(ax.figure, tmp_path / "confusion.png")


def test_confusion_matrix_row_normalised_with_an_empty_class():
    """Does normalising make rows sum to 1, and does a class with no example warn, not raise?"""
    confusion = np.array([[8, 2, 0], [0, 0, 0], [1, 1, 2]])
    with pytest.warns(UserWarning, match="No example of class.*dog"):
        ax = plots.plot_confusion_matrix(confusion, ["cat", "dog", "cow"], normalize=True)
    cells = [t.get_text() for t in ax.texts]
    assert cells == ["0.80", "0.20", "0.00", "0.25", "0.25", "0.50"]  # the dog row is empty


def test_confusion_matrix_big_has_no_numbers():
    """Are the numbers left out when there are too many classes to read them?"""
    ax = plots.plot_confusion_matrix(np.eye(21, dtype=int) * 5)
    assert len(ax.texts) == 0 and len(ax.get_xticklabels()) == 21


def test_confusion_matrix_from_scores_and_tensors():
    """Are (N, C) scores (as tensors) turned into their arg-max before counting?"""
    scores = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    ax = plots.plot_confusion_matrix(targets=torch.tensor([0, 1, 1]), predictions=scores)
    assert [t.get_text() for t in ax.texts] == ["1", "0", "1", "1"]


def test_confusion_matrix_needs_one_input():
    """Does giving neither a matrix nor targets and predictions explain the two ways?"""
    with pytest.raises(ValueError, match=r"Pass either confusion .* or both targets="):
        plots.plot_confusion_matrix()


# ----------------------------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------------------------


def test_display_image_layouts_agree():
    """Do CHW float, HWC uint8 and a 1-channel image all come out as matplotlib wants them?"""
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    chw = torch.from_numpy(hwc).permute(2, 0, 1).float() / 255
    assert np.allclose(plots.to_display_image(hwc), plots.to_display_image(chw), atol=1e-6)
    assert plots.to_display_image(chw).shape == (20, 30, 3)
    assert plots.to_display_image(torch.rand(1, 28, 28)).shape == (28, 28)
    assert plots.to_display_image(np.zeros((28, 28, 1), np.uint8)).shape == (28, 28)


def test_display_image_undoes_normalize():
    """With mean/std, are normalised pixels brought back without a warning?"""
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    image = torch.rand(3, 8, 8)
    normalised = (image - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = plots.to_display_image(normalised, mean=mean, std=std)
    assert np.allclose(back, image.permute(1, 2, 0).numpy(), atol=1e-5)
    with pytest.warns(UserWarning, match=r"Expected float pixels in \[0, 1\].*pass mean= and std="):
        plots.to_display_image(normalised)


def test_display_image_rejects_a_batch():
    """Does a 4-channel or batched array get a message with its shape?"""
    with pytest.raises(ValueError, match=r"got shape \(5, 28, 28\)\. For a batch"):
        plots.to_display_image(np.zeros((5, 28, 28)))


def test_grid_of_fashion_mnist_titles_and_colours(tmp_path):
    """Do titles give true and predicted names, green when right and red when wrong?"""
    images = np.random.default_rng(0).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    targets = torch.arange(10)
    predictions = torch.arange(10)
    predictions[[2, 7]] = 0
    grid = plots.plot_image_grid(images, targets, predictions, class_names=FASHION, ncols=4)
    assert grid.shape == (3, 4)
    axes = grid.ravel()
    assert axes[2].get_title() == "true: Pullover\npred: T-shirt/top"
    assert axes[3].get_title() == "true: Dress\npred: Dress"
    assert colour(axes[2].title.get_color()) == colour("tab:red")
    assert colour(axes[3].title.get_color()) == colour("tab:green")
    assert colour(axes[2].spines["top"].get_edgecolor()) == colour("tab:red")
    assert not axes[10].axison and not axes[11].axison  # the unused panels are blank
    assert axes[0].get_images()[0].get_array().shape == (28, 28)
    save_png(grid[0, 0].figure, tmp_path / "grid.png")


def test_grid_takes_scores_and_hwc_uint8_voc_images(tmp_path):
    """Are (N, C) scores turned into their arg-max, and HWC uint8 colour images drawn as such?"""
    images = np.random.default_rng(0).integers(0, 256, (3, 40, 50, 3), dtype=np.uint8)
    scores = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    grid = plots.plot_image_grid(images, [1, 1, 1], scores, class_names=["cat", "dog"])
    titles = [ax.get_title() for ax in grid.ravel()]
    assert titles == ["true: dog\npred: dog", "true: dog\npred: cat", "true: dog\npred: dog"]
    assert grid.ravel()[0].get_images()[0].get_array().shape == (40, 50, 3)
    save_png(grid[0, 0].figure, tmp_path / "grid_voc.png")


def test_grid_multilabel_threshold_and_ignored(tmp_path):
    """Multi-label: are classes >= threshold predicted, and does a -1 class count for nothing?"""
    targets = np.array([[1, -1, 0], [0, 1, 1]])
    scores = np.array([[0.9, 0.8, 0.1], [0.2, 0.7, 0.4]])
    grid = plots.plot_image_grid(torch.rand(2, 3, 16, 16), targets, scores, class_names="abc")
    first, second = grid.ravel()
    assert first.get_title() == "true: a\npred: a, b"
    assert colour(first.title.get_color()) == colour("tab:green")  # b is ignored
    assert second.get_title() == "true: b, c\npred: b"
    assert colour(second.title.get_color()) == colour("tab:red")
    grid = plots.plot_image_grid(torch.rand(2, 3, 16, 16), targets, scores, class_names="abc",
                                 threshold=0.3)  # fmt: skip
    assert grid.ravel()[1].get_title() == "true: b, c\npred: b, c"
    save_png(grid[0, 0].figure, tmp_path / "grid_multilabel.png")


def test_multilabel_score_at_the_threshold_counts():
    """Is a class whose score equals the threshold predicted (score >= threshold)?"""
    (labels,) = plots.image_labels([[1, 0]], [[0.5, 0.49]], threshold=0.5)
    assert labels.predicted == (0,) and labels.correct


def test_grid_multilabel_logits_warn():
    """Do multi-label logits (outside [0, 1]) warn and name torch.sigmoid?"""
    with pytest.warns(UserWarning, match=r"If they are logits, pass torch.sigmoid\(logits\)"):
        plots.plot_image_grid(torch.rand(1, 3, 8, 8), [[1, 0]], [[2.5, -1.0]])


def test_multilabel_targets_outside_the_convention():
    """Do multi-hot targets holding a 2 raise and show the value?"""
    with pytest.raises(ValueError, match=r"only \{0, 1\} or -1 but found \[2\]"):
        plots.image_labels([[1, 2]], [[0.5, 0.5]])


def test_labels_and_images_must_pair_up():
    """Do 3 targets for 2 predictions raise, saying to pass one of each?"""
    with pytest.raises(ValueError, match="Got 3 targets but 2 predictions"):
        plots.image_labels([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="Got 4 images but only 2 labels"):
        plots.plot_image_grid(torch.rand(4, 1, 8, 8), [0, 1], [0, 1])


def test_grid_of_many_images_warns_and_shows_the_first():
    """Does a whole test set warn and draw only the first 64 images?"""
    with pytest.warns(UserWarning, match="Showing the first 64 of 100 images"):
        grid = plots.plot_image_grid(np.zeros((100, 8, 8), np.uint8), ncols=8)
    assert sum(ax.axison for ax in grid.ravel()) == 64


def test_grid_without_labels_and_with_given_axes():
    """Are plain images drawn untitled, and on the axes given?"""
    _, axes = plt.subplots(1, 3)
    out = plots.plot_image_grid([np.zeros((8, 8)), np.ones((8, 8))], axes=axes)
    assert out is not None and axes[0].get_title() == "" and not axes[2].axison
    with pytest.raises(ValueError, match="Got 3 axes for 4 images"):
        plots.plot_image_grid(torch.rand(4, 1, 8, 8), axes=axes)


def test_side_by_side_two_models(tmp_path):
    """Same images, one row per model: titles are its predictions, coloured, counts per row?"""
    images = torch.rand(4, 1, 28, 28)
    targets = [0, 1, 2, 3]
    grid = plots.plot_side_by_side(
        images, targets, [0, 1, 0, 3], [0, 2, 2, 3], names=("small", "big"), class_names=FASHION
    )
    assert grid.shape == (2, 4)
    assert [ax.get_title() for ax in grid[0]] == ["T-shirt/top", "Trouser", "T-shirt/top", "Dress"]
    assert [ax.get_title() for ax in grid[1]] == ["T-shirt/top", "Pullover", "Pullover", "Dress"]
    assert colour(grid[0, 2].title.get_color()) == colour("tab:red")
    assert colour(grid[1, 2].title.get_color()) == colour("tab:green")
    assert colour(grid[1, 1].spines["left"].get_edgecolor()) == colour("tab:red")
    assert grid[0, 0].get_ylabel() == "small\n3/4 right"
    assert grid[1, 0].get_ylabel() == "big\n3/4 right"
    assert grid[1, 3].get_xlabel() == "true: Dress"
    for r in range(2):  # the same pixels in both rows
        assert np.allclose(grid[r, 1].get_images()[0].get_array(), images[1, 0].numpy())
    save_png(grid[0, 0].figure, tmp_path / "side_by_side.png")


# ----------------------------------------------------------------------------------------------
# Segmentation
# ----------------------------------------------------------------------------------------------


def test_segmentation_overlay_blends_voc_colours(tmp_path):
    """Is each class tinted with its VOC colour at the given opacity, the background left clear?"""
    image = torch.rand(3, 30, 40)
    mask = torch.zeros(30, 40, dtype=torch.int64)
    mask[5:15, 5:20] = 15  # person
    mask[20:28, 25:38] = 12  # dog
    mask[4, 5:20] = 255
    ax = plots.plot_segmentation(image, mask, alpha=0.5)
    drawn = np.asarray(ax.get_images()[0].get_array(), dtype=np.float64)
    pixels = image.permute(1, 2, 0).numpy()
    person = np.array([192, 128, 128]) / 255
    assert np.allclose(drawn[10, 10], 0.5 * pixels[10, 10] + 0.5 * person, atol=1e-3)
    assert np.allclose(drawn[0, 0], pixels[0, 0], atol=1e-3)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["dog", "person", "ignore"]
    save_png(ax.figure, tmp_path / "segmentation.png")


def test_segmentation_of_a_grey_image_and_uint8_mask():
    """Is a 1-channel image overlaid in colour, with a numpy uint8 mask (as PIL reads VOC PNGs)?"""
    mask = np.zeros((28, 28), np.uint8)
    mask[10:20, 10:20] = 1
    ax = plots.plot_segmentation(np.zeros((1, 28, 28), np.float32), mask, alpha=1.0)
    drawn = np.asarray(ax.get_images()[0].get_array())
    assert drawn.shape == (28, 28, 3)
    assert np.allclose(drawn[15, 15], [128 / 255, 0, 0], atol=1e-3)


def test_segmentation_bad_masks_explain():
    """Do a scores tensor, an unknown class and a size mismatch each get a clear message?"""
    image = torch.rand(3, 8, 8)
    with pytest.raises(ValueError, match=r"take scores\.argmax\(0\) first"):
        plots.plot_segmentation(image, torch.rand(21, 8, 8))
    with pytest.raises(ValueError, match=r"holds values \[30\] that are neither a class index"):
        plots.plot_segmentation(image, torch.full((8, 8), 30))
    with pytest.raises(ValueError, match=r"The image is 8×8 \(H×W\) but the mask is 8×9"):
        plots.plot_segmentation(image, torch.zeros(8, 9, dtype=torch.int64))


def test_segmentations_rows_with_pixel_accuracy(tmp_path):
    """Do rows show image, truth and prediction, with pixel accuracy and one legend for both?"""
    masks = torch.zeros(2, 20, 20, dtype=torch.int64)
    masks[:, 5:15, 5:15] = 8  # cat
    masks[:, 4, :] = 255  # ignored: not in the accuracy
    predicted = masks.clone()
    predicted[predicted == 255] = 3
    predicted[:, 5:15, 5:10] = 12  # half the cat called a dog: 50 of 380 pixels wrong
    grid = plots.plot_segmentations(torch.rand(2, 3, 20, 20), masks, predicted)
    assert grid.shape == (2, 3)
    assert [ax.get_title() for ax in grid[0]] == ["image", "true", "predicted (pixel acc 0.868)"]
    legend = [t.get_text() for t in grid[0, 2].get_legend().get_texts()]
    assert legend == ["bird", "cat", "dog", "ignore"]
    assert grid[0, 1].get_legend() is None
    save_png(grid[0, 0].figure, tmp_path / "segmentations.png")


# ----------------------------------------------------------------------------------------------
# Composition
# ----------------------------------------------------------------------------------------------


def test_plots_compose_into_one_report_figure(tmp_path):
    """Can a student put curves, per-class bars and a segmentation on one figure and save it?"""
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4))
    assert plots.plot_curves(a_history(), "loss", ax=left) is left
    assert plots.plot_per_class(np.linspace(0.2, 0.8, 20), VOC20, ax=middle) is middle
    mask = np.zeros((16, 16), np.int64)
    mask[4:12, 4:12] = 7
    assert plots.plot_segmentation(torch.rand(3, 16, 16), mask, ax=right) is right
    assert len(fig.axes) == 3
    save_png(fig, tmp_path / "report.png")
