"""helpers.widgets: the prediction browser, driven without a browser by setting its controls."""

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.data import CLASSES
from helpers.plots import image_labels
from helpers.widgets import (
    PredictionBrowser,
    browse_predictions,
    describe,
    filter_indices,
    render_prediction,
)

FASHION = list(CLASSES)  # Fashion-MNIST's ten class names


def single_label_set(n: int = 40):
    """Fashion-MNIST-shaped images, targets 0..9 in turn, every fourth prediction wrong."""
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (n, 28, 28), np.uint8))
    targets = torch.arange(n) % 10
    predicted = targets.clone()
    predicted[::4] = (predicted[::4] + 1) % 10
    scores = torch.nn.functional.one_hot(predicted, 10).float() * 0.8 + 0.01
    return images, targets, scores


def multi_label_set():
    """Four VOC-like images, three classes, scores spread around the thresholds tested."""
    images = torch.rand(4, 3, 24, 32)
    targets = torch.tensor([[1, 0, 0], [0, 1, -1], [1, 1, 0], [0, 0, 1]])
    scores = torch.tensor(
        [[0.95, 0.40, 0.10], [0.20, 0.70, 0.60], [0.55, 0.92, 0.05], [0.30, 0.10, 0.65]]
    )
    return images, targets, scores


def shown_png(browser: PredictionBrowser) -> tuple[int, int]:
    data = browser.image.value
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as image:
        return image.size


# ----------------------------------------------------------------------------------------------
# The pure functions
# ----------------------------------------------------------------------------------------------


def test_filter_by_true_and_predicted_class():
    """Does the class filter keep images whose true, or predicted, labels hold the class?"""
    labels = image_labels([0, 1, 1, 2, 1], [0, 1, 2, 1, 1])
    assert filter_indices(labels) == [0, 1, 2, 3, 4]
    assert filter_indices(labels, class_index=1) == [1, 2, 4]
    assert filter_indices(labels, class_index=1, by="predicted") == [1, 3, 4]
    assert filter_indices(labels, class_index=1, show="mistakes") == [2]
    assert filter_indices(labels, show="correct") == [0, 1, 4]


def test_filter_multilabel_ignores_minus_one():
    """Multi-label: is a class marked -1 neither a match by true label nor a mistake?"""
    labels = image_labels([[1, -1], [0, 1]], [[0.9, 0.8], [0.1, 0.2]])
    assert filter_indices(labels, class_index=1) == [1]
    assert filter_indices(labels, show="mistakes") == [1]


def test_filter_choices_are_checked():
    """Does a mistyped choice list the valid values?"""
    labels = image_labels([0], [0])
    with pytest.raises(ValueError, match=r"Unknown value 'tru' for argument by\. Valid values"):
        filter_indices(labels, class_index=0, by="tru")
    with pytest.raises(ValueError, match=r"show='mistakes' needs both targets and predictions"):
        filter_indices(image_labels([0, 1]), show="mistakes")


def test_describe_single_label():
    """Are true, predicted, the verdict and the top scores listed?"""
    (labels,) = image_labels([2], [[0.1, 0.7, 0.2]])
    lines = describe(labels, ["cat", "dog", "cow"], scores=[0.1, 0.7, 0.2], top=2)
    assert lines == ["true: cow", "predicted: dog", "wrong", "scores: dog 0.70, cow 0.20"]


def test_describe_changes_with_the_threshold():
    """Do the listed predicted classes follow the multi-label threshold?"""
    names = ["cat", "dog", "cow"]
    targets, scores = [[1, 0, 1]], [[0.9, 0.6, 0.3]]
    low = describe(image_labels(targets, scores, threshold=0.25)[0], names)
    high = describe(image_labels(targets, scores, threshold=0.8)[0], names)
    assert low[1:] == ["predicted: cat, dog, cow", "wrong: extra dog"]
    assert high[1:] == ["predicted: cat", "wrong: missed cow"]


def test_render_prediction_is_a_png_with_a_score_panel():
    """Is the picture a PNG, wider when a score chart sits beside the image?"""
    (labels,) = image_labels([1], [[0.2, 0.8]])
    alone = render_prediction(np.zeros((28, 28), np.uint8), labels, ["a", "b"])
    with_scores = render_prediction(
        np.zeros((28, 28), np.uint8), labels, ["a", "b"], scores=[0.2, 0.8]
    )
    sizes = [Image.open(io.BytesIO(png)).size for png in (alone, with_scores)]
    assert sizes[0][0] >= 200 and sizes[1][0] > 1.5 * sizes[0][0]


# ----------------------------------------------------------------------------------------------
# The widget
# ----------------------------------------------------------------------------------------------


def test_browser_steps_through_all_images():
    """Does the slider cover every image and the view follow it?"""
    images, targets, scores = single_label_set()
    browser = browse_predictions(images, targets, scores, class_names=FASHION)
    assert isinstance(browser, PredictionBrowser)
    assert browser.position.max == 39 and browser.current_index == 0
    assert browser.info.value.startswith("image 1 of 40 (index 0)")
    assert "true: T-shirt/top" in browser.info.value
    assert "predicted: Trouser" in browser.info.value  # image 0 is one of the wrong ones
    first = browser.image.value
    browser.position.value = 5
    assert browser.current_index == 5
    assert "image 6 of 40 (index 5)" in browser.info.value
    assert "true: Sandal" in browser.info.value and "predicted: Sandal" in browser.info.value
    assert browser.image.value != first
    assert shown_png(browser)[0] >= 400
    assert browser.threshold.layout.display == "none"  # single-label: no threshold


def test_browser_class_filter_moves_within_the_filtered_set():
    """After choosing a class, does the slider step only through that class's images?"""
    images, targets, scores = single_label_set()
    browser = browse_predictions(images, targets, scores, class_names=FASHION)
    browser.class_filter.value = 8  # Bag
    assert browser.indices == [8, 18, 28, 38]
    assert browser.position.max == 3
    seen = []
    for position in range(4):
        browser.position.value = position
        seen.append(browser.current_index)
        assert "true: Bag" in browser.info.value
    assert seen == [8, 18, 28, 38]
    assert "image 4 of 4 (index 38)" in browser.info.value


def test_browser_mistakes_and_predicted_filters():
    """Do 'mistakes' and 'match by predicted label' select the right images?"""
    images, targets, scores = single_label_set()
    browser = browse_predictions(images, targets, scores, class_names=FASHION)
    browser.show.value = "mistakes"
    assert browser.indices == list(range(0, 40, 4))
    browser.class_filter.value = 1  # Trouser
    browser.match_by.value = "predicted"
    assert browser.indices == [0, 20]  # T-shirts called trousers
    assert "wrong" in browser.info.value


def test_browser_keeps_the_image_when_the_filter_still_holds_it():
    """When the filter changes but still holds the image shown, does the view stay on it?"""
    images, targets, scores = single_label_set()
    browser = browse_predictions(images, targets, scores, class_names=FASHION)
    browser.position.value = 18
    browser.class_filter.value = 8
    assert browser.current_index == 18 and browser.position.value == 1
    browser.class_filter.value = 3
    assert browser.current_index == 3  # 18 is not a dress: back to the first match


def test_browser_filter_matching_nothing():
    """Does a filter with no match say so instead of failing?"""
    images, targets, scores = single_label_set(8)
    browser = browse_predictions(images, targets, scores, class_names=FASHION)
    browser.class_filter.value = 9  # no ankle boot among the first 8
    assert browser.indices == [] and browser.current_index is None
    assert browser.image.value == b""
    assert "No image matches this filter" in browser.info.value
    browser.class_filter.value = -1
    assert browser.current_index is not None and shown_png(browser)


def test_browser_threshold_changes_the_predicted_classes():
    """Multi-label: does moving the threshold slider change the listed predicted classes?"""
    images, targets, scores = multi_label_set()
    browser = browse_predictions(images, targets, scores, class_names=["cat", "dog", "cow"])
    assert browser.threshold.layout.display != "none"
    browser.position.value = 2
    assert "predicted: cat, dog" in browser.info.value and "right" in browser.info.value
    browser.threshold.value = 0.6
    assert browser.current_index == 2
    assert "predicted: dog<br>" in browser.info.value
    assert "wrong: missed cat" in browser.info.value
    assert "threshold 0.60" in browser.info.value


def test_browser_threshold_changes_the_predicted_filter():
    """Filtering by predicted class: does the set follow the threshold?"""
    images, targets, scores = multi_label_set()
    browser = browse_predictions(images, targets, scores, class_names=["cat", "dog", "cow"])
    browser.match_by.value = "predicted"
    browser.class_filter.value = 2  # cow
    assert browser.indices == [1, 3]
    browser.threshold.value = 0.62
    assert browser.indices == [3]
    browser.show.value = "mistakes"
    browser.threshold.value = 0.35
    assert browser.indices == []  # cow predicted only where right (image 1's cow is -1)


def test_browser_without_predictions():
    """With targets only, can one still browse by class, with the verdict controls off?"""
    images, targets, _ = single_label_set(20)
    browser = browse_predictions(images, targets, class_names=FASHION)
    assert browser.show.disabled and browser.match_by.disabled
    browser.class_filter.value = 4
    assert browser.indices == [4, 14]
    assert "predicted" not in browser.info.value


def test_browser_of_normalised_images_with_mean_std():
    """Are normalised images shown without a warning when mean and std are given?"""
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    images, targets, scores = multi_label_set()
    normalised = (images - 0.5) / 0.25
    with pytest.warns(UserWarning, match="pass mean= and std="):
        browse_predictions(normalised, targets, scores)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        browse_predictions(normalised, targets, scores, mean=mean, std=std)


def test_browser_images_and_labels_must_pair_up():
    """Do 5 images with 4 labels raise, saying what to pass?"""
    _, targets, scores = multi_label_set()
    with pytest.raises(ValueError, match="Got 5 images but 4 labels"):
        browse_predictions(torch.rand(5, 3, 8, 8), targets, scores)
