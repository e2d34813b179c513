"""Scoring prediction files and records: every bad file gets a sentence, never a crash."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from autograder.config import Performance
from autograder.score import Expected, compare_record, read_predictions, score_performance
from helpers.data.hidden import prepare_hidden_split, read_hidden_inputs
from helpers.predictions import save_predictions

IDS = ["h00000", "h00001", "h00002"]


def write(tmp_path, text: str):
    path = tmp_path / "p.csv"
    path.write_text(text)
    return path


def test_rows_come_back_in_hidden_order(tmp_path):
    path = write(tmp_path, "id,label\nh00002,1\nh00000,3\nh00001,0\n")
    assert read_predictions(path, IDS, 10, multilabel=False).tolist() == [3, 0, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,label\nh00000,1\nh00001,2\n", r"1 ids are missing"),
        ("id,label\nh00000,1\nh00001,2\nh00002,3\nh00009,1\n", r"1 rows have ids that are not"),
        ("id,label\nh00000,1\nh00000,1\nh00001,2\nh00002,3\n", r"lists 1 ids more than once"),
        ("id,label\nh00000,1\nh00001,cat\nh00002,3\n", r"not numbers"),
        ("id,label\nh00000,1\nh00001,nan\nh00002,3\n", r"NaN or inf"),
        ("id,label\nh00000,1\nh00001,2.5\nh00002,3\n", r"whole class index from 0 to 9"),
        ("id,label\nh00000,1\nh00001,12\nh00002,3\n", r"whole class index from 0 to 9"),
        ("label\n1\n2\n3\n", r"must start with the header 'id,label'"),
        ("id,label\nh00000,1,7\n", r"line 2 has 3 fields, expected 2"),
    ],
    ids=["missing", "unknown", "duplicate", "text", "nan", "fraction", "range", "header", "wide"],
)
def test_bad_single_label_files_say_what_is_wrong(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_predictions(write(tmp_path, text), IDS, 10, multilabel=False)


def test_a_pickle_is_refused_without_being_loaded(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(pickle.dumps({"h00000": 1}))
    with pytest.raises(ValueError, match="not a text CSV file"):
        read_predictions(path, IDS, 10, multilabel=False)
    npy = tmp_path / "p.npy"
    np.save(npy, np.array([{"a": 1}, None, 3], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="could not be loaded without pickle"):
        read_predictions(npy, IDS, 10, multilabel=False)


def test_multilabel_scores_need_one_column_per_class(tmp_path):
    save_predictions(tmp_path / "m.csv", IDS, np.random.rand(3, 4), class_names="abcd")
    assert read_predictions(tmp_path / "m.csv", IDS, 4, multilabel=True).shape == (3, 4)
    with pytest.raises(ValueError, match="must start with the header"):
        read_predictions(tmp_path / "m.csv", IDS, 5, multilabel=True)


def test_records_compare_by_shape_kind_and_tolerance(tmp_path):
    actual, expected = tmp_path / "a", tmp_path / "e"
    actual.mkdir(), expected.mkdir()
    np.save(expected / "x.npy", np.array([1.0, 2.0, 3.0]))
    rule = Expected("x", rtol=1e-3, atol=0.0)
    assert "was not made" in compare_record("x", actual, expected, rule)
    np.save(actual / "x.npy", np.array([1.0, 2.0, 3.0001]))
    assert compare_record("x", actual, expected, rule) is None
    np.save(actual / "x.npy", np.array([1.0, 2.5, 3.0]))
    assert compare_record("x", actual, expected, rule).startswith("record 'x': 1 of 3 values")
    np.save(actual / "x.npy", np.ones((3, 1)))
    assert "has shape (3, 1), expected (3,)" in compare_record("x", actual, expected, rule)
    np.save(actual / "x.npy", np.array(["1", "2", "3"]))
    assert "where float64 was expected" in compare_record("x", actual, expected, rule)


def test_performance_band_end_to_end_on_real_fashion_mnist(tmp_path):
    """Are the predictions of a hidden Fashion-MNIST subset scored by accuracy and the band?"""
    prepare_hidden_split("fashion-mnist", tmp_path / "in", tmp_path / "lab", seed=5, limit=200)
    ids, images = read_hidden_inputs(tmp_path / "in")
    from helpers.data.hidden import read_hidden_labels

    _, labels = read_hidden_labels(tmp_path / "lab")
    guess = labels.copy()
    guess[:40] = (guess[:40] + 1) % 10  # 80 % right
    out = tmp_path / "out"
    save_predictions(out / "p.csv", ids, guess)
    band = Performance("acc", "p.csv", zero_at=0.7, full_at=0.9, max_score=10)
    outcome, value = score_performance(band, out, tmp_path / "lab", "visible")
    assert value == pytest.approx(0.8)
    assert outcome.score == pytest.approx(5.0)
    assert "accuracy = 0.8000 on 200 hidden images: 5 of 10 points" in outcome.output
    assert images.shape == (200, 28, 28)
