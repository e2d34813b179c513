"""assignment.toml: strict keys with suggestions, and the hidden set it describes."""

from __future__ import annotations

import pytest

from autograder import pipeline
from autograder.config import ConfigError, load_assignment
from autograder.hidden_set import read_private_settings
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


GENERATED = '[hidden_data]\ndataset = "synthetic"\ngenerate = { test = 6, size = 64 }\n'


def _hidden_images(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "inputs").glob("*.jpg"))}


def test_a_generated_hidden_set_comes_from_private_toml_and_is_reproducible(tmp_path):
    """With private.toml, two builds give the same hidden set, none of whose images is in the
    public tree (a file every user may read gets a notice); without it each build draws another
    one and says so."""
    write(tmp_path, GENERATED)
    private = tmp_path / "assignments" / "x" / "private.toml"
    private.write_text("[hidden_data]\nseed = 123456\ngenerate_seed = 7316955018412290345\n")
    private.chmod(0o644)
    (notice,) = pipeline._hidden_data(load_assignment("x", tmp_path), tmp_path / "readable")
    assert "can be read by other users of this machine" in notice and "chmod 600" in notice
    private.chmod(0o600)
    builds = []
    for k in range(2):
        notes = pipeline._hidden_data(load_assignment("x", tmp_path), tmp_path / f"p{k}")
        assert notes == []
        builds.append(_hidden_images(tmp_path / f"p{k}"))
        ids, labels = read_hidden_labels(tmp_path / f"p{k}" / "labels")
        assert len(ids) == 6 and labels.shape == (6, 8)
    assert builds[0] == builds[1] and len(builds[0]) == 6
    public = make_synthetic_voc(tmp_path / "public", seed=0, train=6, val=0, test=6, size=64)
    public_images = {p.read_bytes() for p in (public / "JPEGImages").glob("*.jpg")}
    assert not public_images & set(builds[0].values())

    (tmp_path / "assignments" / "x" / "private.toml").unlink()
    drawn = []
    for k in range(2):
        notes = pipeline._hidden_data(load_assignment("x", tmp_path), tmp_path / f"t{k}")
        assert len(notes) == 1 and "private.toml has no [hidden_data] generate_seed" in notes[0]
        drawn.append(_hidden_images(tmp_path / f"t{k}"))
    assert set(drawn[0].values()) != set(drawn[1].values())


def test_private_settings_can_live_outside_the_kit(tmp_path, monkeypatch):
    """With KIT_PRIVATE_DIR set, is <dir>/<a>/private.toml read (and the kit's own file not),
    and does a missing seed's notice name the file that was looked for?"""
    write(tmp_path, GENERATED)
    (tmp_path / "assignments" / "x" / "private.toml").write_text(
        "[hidden_data]\ngenerate_seed = 7316955018412290345\n"
    )
    secrets_dir = tmp_path / "course-secrets"
    (secrets_dir / "x").mkdir(parents=True)
    (secrets_dir / "x" / "private.toml").write_text(
        "[hidden_data]\ngenerate_seed = 5117960381260728011\n"
    )
    (secrets_dir / "x" / "private.toml").chmod(0o600)
    monkeypatch.setenv("KIT_PRIVATE_DIR", str(secrets_dir))
    assignment = load_assignment("x", tmp_path)
    assert read_private_settings(assignment) == {"generate_seed": 5117960381260728011}
    assert pipeline._hidden_data(assignment, tmp_path / "moved") == []
    expected = make_synthetic_voc(tmp_path / "expected", seed=5117960381260728011, train=0,
                                  val=0, test=6, size=64)  # fmt: skip
    expected_images = {p.read_bytes() for p in (expected / "JPEGImages").glob("*.jpg")}
    assert set(_hidden_images(tmp_path / "moved").values()) == expected_images

    monkeypatch.setenv("KIT_PRIVATE_DIR", "course-secrets")
    with pytest.raises(ConfigError, match=r"KIT_PRIVATE_DIR='course-secrets' is a relative path"):
        pipeline._hidden_data(assignment, tmp_path / "relative")

    monkeypatch.setenv("KIT_PRIVATE_DIR", str(tmp_path / "elsewhere"))
    (notice,) = pipeline._hidden_data(assignment, tmp_path / "none")
    assert f"{tmp_path / 'elsewhere' / 'x' / 'private.toml'} has no [hidden_data]" in notice


@pytest.mark.parametrize(
    ("config", "private", "error"),
    [
        ('[hidden_data]\ndataset = "fashion-mnist"\ngenerate = { test = 6 }\n', None,
         'needs dataset = "synthetic"'),
        ('[hidden_data]\ndataset = "synthetic"\ngenerate = { test = 0 }\n', None,
         "give test = the number of hidden images"),
        ('[hidden_data]\ndataset = "synthetic"\ngenerate = { tset = 6 }\n', None,
         "Did you mean 'test'"),
        (GENERATED, "[hidden_data]\ngenerate_seed = 0\n", "can be guessed"),
        (GENERATED, "[hidden_data]\ngenerate_seed = 550913\n", "can be guessed"),
        (GENERATED, "[hidden_data]\ngenerate_seed = '7'\n", "integer seed and generate_seed"),
        (GENERATED, "[hidden_data\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_wrong_generate_settings_are_refused_with_the_fix(tmp_path, config, private, error):
    write(tmp_path, config)
    if private is not None:
        (tmp_path / "assignments" / "x" / "private.toml").write_text(private)
    with pytest.raises(ConfigError, match=error):
        assignment = load_assignment("x", tmp_path)
        pipeline._hidden_data(assignment, tmp_path / "hidden")
