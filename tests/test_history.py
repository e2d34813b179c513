"""History: the table fit() returns and the plots and experiment log read."""

import math

import pytest

from helpers.history import History


def test_columns_and_best_pick_the_right_epoch(tmp_path):
    """Does best() minimise losses, maximise metrics and ignore NaN?"""
    h = History()
    h.append(epoch=1, train_loss=1.0, val_loss=0.8, val_accuracy=0.5)
    h.append(epoch=2, train_loss=0.6, val_loss=0.9, val_accuracy=math.nan)
    h.append(epoch=3, train_loss=0.4, val_loss=0.85, val_accuracy=0.7)
    assert h.best("val_loss")["epoch"] == 1
    assert h.best("val_accuracy")["epoch"] == 3
    assert h["train_loss"] == [1.0, 0.6, 0.4]
    h.save(tmp_path / "h.json")
    assert History.load(tmp_path / "h.json").epochs[2] == h.epochs[2]


def test_unknown_column_names_the_columns_it_has():
    h = History()
    h.append(epoch=1, train_loss=1.0)
    with pytest.raises(KeyError, match=r"has no column 'val_los'\. It has: epoch, train_loss"):
        h["val_los"]
