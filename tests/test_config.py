"""assignment.toml: strict keys with suggestions, and the hidden set it describes."""

from __future__ import annotations

import pytest

from autograder import pipeline
from autograder.config import ConfigError, load_assignment
from helpers.data.hidden import read_hidden_labels
from helpers.data.synthetic import make_synthetic_voc


def write(root, text: str):
    (root / "assignments" / "x").mkdir(parents=True, exist_ok=True)
    (root / "assignments" / "x" / "assignment.toml").write_text(
        '[assignment]\nnotebooks = ["x.ipynb"]\n' + text
    )


def test_a_typo_names_the_key_it_meant(tmp_path):
    write(tmp_path, "[limits]\ncell_timeout = 10\n")
    with pytest.raises(
        ConfigError, match=r"unknown key 'cell_timeout'.*Did you mean 'cell_timeout_s'"
    ):
        load_assignment("x", tmp_path)


def test_wrong_types_and_bands_are_refused(tmp_path):
    write(tmp_path, '[limits]\nmemory_mb = "lots"\n')
    with pytest.raises(ConfigError, match=r"\[limits\] memory_mb must be int, got 'lots'"):
        load_assignment("x", tmp_path)
    write(tmp_path, '[hidden_data]\ndataset = "fashion-mnist"\n[[performance]]\nname = "p"\n'
                    'predictions = "p.csv"\nzero_at = 0.9\nfull_at = 0.7\n')  # fmt: skip
    with pytest.raises(ConfigError, match="full_at must be above zero_at"):
        load_assignment("x", tmp_path)


def test_unknown_assignment_lists_the_known_ones(tmp_path):
    write(tmp_path, "")
    with pytest.raises(ConfigError, match=r"No assignment 'y'.*Assignments here: x"):
        load_assignment("y", tmp_path)


def test_a_synthetic_segmentation_hidden_set_is_built_from_the_config(tmp_path):
    """Does [hidden_data] reach prepare_hidden_split with root, task and superclasses?"""
    make_synthetic_voc(tmp_path / "data" / "s", seed=1, train=0, val=0, test=4, size=64)
    write(tmp_path, '[hidden_data]\ndataset = "synthetic"\nroot = "data/s"\n'
                    'task = "segmentation"\nsuperclasses = true\nseed = 3\n')  # fmt: skip
    pipeline._hidden_data(load_assignment("x", tmp_path), tmp_path / "hidden")
    ids, _ = read_hidden_labels(tmp_path / "hidden" / "labels")
    assert len(ids) == 4
    assert sorted(p.stem for p in (tmp_path / "hidden" / "labels" / "masks").glob("*.png")) == ids


def test_hidden_fashion_mnist_seeds_are_secret_unless_the_config_gives_them(tmp_path):
    """Does [hidden_data] pass transform and transform_seed on, and draw both seeds from secrets
    when the config gives none (two builds differ; with both seeds given they are equal)?"""
    write(tmp_path, '[hidden_data]\ndataset = "fashion-mnist"\nlimit = 30\ntransform = "noise"\n')
    drawn = []
    for k in range(2):
        pipeline._hidden_data(load_assignment("x", tmp_path), tmp_path / f"d{k}")
        drawn.append((tmp_path / f"d{k}" / "inputs" / "images.npy").read_bytes())
    assert drawn[0] != drawn[1]
    write(tmp_path, '[hidden_data]\ndataset = "fashion-mnist"\nlimit = 30\ntransform = "noise"\n'
                    "seed = 4\ntransform_seed = 9\n")  # fmt: skip
    given = []
    for k in range(2):
        pipeline._hidden_data(load_assignment("x", tmp_path), tmp_path / f"g{k}")
        given.append((tmp_path / f"g{k}" / "inputs" / "images.npy").read_bytes())
    assert given[0] == given[1]
    write(tmp_path, '[hidden_data]\ndataset = "fashion-mnist"\ntransfrom = "noise"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'transfrom'.*Did you mean 'transform'"):
        load_assignment("x", tmp_path)
