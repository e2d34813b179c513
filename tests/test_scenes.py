"""helpers.data.scenes: the second shape set (the kit backbone's pretraining task) leaves the
assignments' scenes exactly as they were."""

import hashlib

import numpy as np
import pytest

from helpers.data.scenes import PRETRAIN_CLASSES, SHAPES, SYNTHETIC_CLASSES, render_scene

# SHA-256 over scenes 1..40 of seed 3 at 64 and 128 px (image, mask and objects), measured on
# main 9b8d83a, before render_scene took a `classes` argument. Every synthetic tree, hidden set
# and reference weight of a1-a5 depends on these bytes.
DEFAULT_SCENES_SHA256 = "d707877a5a9e111fdfef94ef5821982d898b2a0f21c02e1057456db1ab9314be"


def test_the_default_scenes_are_byte_identical_to_before_the_second_shape_set():
    """Does render_scene without `classes` still draw the very bytes it drew before?"""
    digest = hashlib.sha256()
    for number in range(1, 41):
        for size in (64, 128):
            image, mask, objects = render_scene(3, number, size)
            digest.update(image.tobytes())
            digest.update(mask.tobytes())
            digest.update(repr(objects).encode())
    assert digest.hexdigest() == DEFAULT_SCENES_SHA256


def test_the_pretraining_shapes_share_no_class_with_the_assignments():
    """Is the pretraining task's label set disjoint from the assignments' (a different task)?"""
    assert len(PRETRAIN_CLASSES) == len(set(PRETRAIN_CLASSES)) == 8
    assert not set(PRETRAIN_CLASSES) & set(SYNTHETIC_CLASSES)
    assert SHAPES == SYNTHETIC_CLASSES + PRETRAIN_CLASSES


def test_pretraining_scenes_draw_every_pretraining_shape_and_no_other():
    """Do scenes with classes=PRETRAIN_CLASSES hold each of those shapes, with mask values
    k + 1 in PRETRAIN_CLASSES' order, and no course shape?"""
    seen = []
    for number in range(1, 61):
        image, mask, objects = render_scene(9, number, 64, classes=PRETRAIN_CLASSES)
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        names = [name for name, *_ in objects]
        seen += names
        visible = {PRETRAIN_CLASSES.index(n) + 1 for n, _, _, difficult in objects if not difficult}
        assert set(np.unique(mask)) - {0, 255} <= visible
    assert set(seen) == set(PRETRAIN_CLASSES)


def test_the_shape_sets_share_no_background():
    """Same seed and number, other classes: another background (its own random stream), not
    the course scene with other outlines drawn on it? And still deterministic?"""
    for number in range(1, 6):
        course_image, course_mask, _ = render_scene(2, number, 64)
        other_image, other_mask, _ = render_scene(2, number, 64, classes=PRETRAIN_CLASSES)
        behind = (course_mask == 0) & (other_mask == 0)  # background in both scenes
        difference = np.abs(course_image.astype(int) - other_image.astype(int))[behind].mean()
        assert difference > 20, f"scene {number}: backgrounds differ by only {difference:.1f}"
        again, _, _ = render_scene(2, number, 64, classes=PRETRAIN_CLASSES)
        assert np.array_equal(other_image, again)


@pytest.mark.parametrize("classes", [(), ("circle", "circle"), ("circle", "blob")])
def test_a_wrong_class_list_is_refused_with_the_valid_names(classes):
    """Does an empty, repeated or unknown class list get an error naming the valid shapes?"""
    with pytest.raises(ValueError, match=r"distinct names from .*pentagon.* PRETRAIN_CLASSES"):
        render_scene(0, 1, 64, classes=classes)
