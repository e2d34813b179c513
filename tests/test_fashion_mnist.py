"""Fashion-MNIST: the real files, their checks, the split and the loader."""

import gzip
import shutil

import numpy as np
import pytest
import torch

from helpers.data import (
    InMemoryLoader,
    fashion_mnist,
    random_flip,
    random_shift,
    train_val_split,
)
from helpers.data import fashion as fm


@pytest.fixture
def no_system_copy(monkeypatch, tmp_path):
    """Hide the Debian copy and KIT_DATA_DIR so only what the test puts in place is found."""
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.delenv("KIT_DATA_DIR", raising=False)


def test_real_files_have_the_official_sizes_and_classes():
    """Do both splits load with the official counts, dtypes and class balance?"""
    train, test = fashion_mnist("train"), fashion_mnist("test")
    assert train.images.shape == (60_000, 28, 28) and train.images.dtype == np.uint8
    assert test.images.shape == (10_000, 28, 28) and test.labels.dtype == np.int64
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert test.classes[0] == "T-shirt/top" and len(test.classes) == 10


def test_returned_arrays_are_private_copies():
    """Does changing one result leave the next load untouched?"""
    first = fashion_mnist("test")
    first.images[:] = 0
    assert fashion_mnist("test").images.max() == 255


def test_unknown_split_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown value 'tset' for argument split\. Valid values"):
        fashion_mnist("tset")


def test_truncated_file_is_named_with_what_to_do(tmp_path, no_system_copy):
    """Does a truncated archive give its path and the fix, not a numpy error?"""
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(fm.Path("/usr/share/datasets/fashion-mnist") / name, tmp_path / name)
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:100_000])
    with pytest.raises(fm.DataMissingError, match=r"t10k-images-idx3-ubyte\.gz is not a readable"):
        fashion_mnist("test", root=tmp_path, download=False)


def test_corrupted_content_fails_the_checksum(tmp_path, no_system_copy):
    """Does a well-formed archive with altered pixels fail the content check?"""
    src = fm.Path("/usr/share/datasets/fashion-mnist")
    shutil.copy(src / "t10k-labels-idx1-ubyte.gz", tmp_path)
    with gzip.open(src / "t10k-images-idx3-ubyte.gz") as f:
        raw = bytearray(f.read())
    raw[5000] ^= 0xFF
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(raw)
    with pytest.raises(fm.DataMissingError, match="does not hold the official Fashion-MNIST data"):
        fashion_mnist("test", root=tmp_path, download=False)


def test_missing_files_say_where_it_looked_and_how_to_get_them(tmp_path, no_system_copy):
    with pytest.raises(fm.DataMissingError, match="apt-get install dataset-fashion-mnist") as info:
        fashion_mnist("train", root=tmp_path, download=False)
    assert str(tmp_path) in str(info.value)


def test_torchvision_layout_is_found(tmp_path, no_system_copy, monkeypatch):
    """Does a copy in torchvision's FashionMNIST/raw layout under KIT_DATA_DIR load?"""
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(fm.Path("/usr/share/datasets/fashion-mnist") / name, raw)
    monkeypatch.setenv("KIT_DATA_DIR", str(tmp_path))
    assert len(fashion_mnist("test", download=False)) == 10_000


def test_split_is_seeded_disjoint_and_stratified():
    data = fashion_mnist("test")
    train, val = train_val_split(data, val_size=1000, seed=3)
    again_train, again_val = train_val_split(data, val_size=1000, seed=3)
    _, other_val = train_val_split(data, val_size=1000, seed=4)
    assert np.array_equal(val.images, again_val.images)
    assert np.array_equal(train.labels, again_train.labels)
    assert not np.array_equal(val.images, other_val.images)
    assert len(train) + len(val) == 10_000
    assert np.bincount(val.labels).tolist() == [100] * 10
    # Disjoint: no validation image is also a training image.
    train_keys = {img.tobytes() for img in train.images}
    assert not any(img.tobytes() in train_keys for img in val.images)


def test_loader_visits_every_image_once_per_epoch_in_a_new_order():
    images = np.arange(10, dtype=np.uint8)[:, None, None].repeat(28, 1).repeat(28, 2)
    loader = InMemoryLoader(images, np.arange(10), batch_size=3, shuffle=True, device="cpu")
    epoch1 = torch.cat([y for _, y in loader]).tolist()
    epoch2 = torch.cat([y for _, y in loader]).tolist()
    assert sorted(epoch1) == sorted(epoch2) == list(range(10))
    assert epoch1 != epoch2
    for x, y in loader:  # each image stays with its label, scaled to [0, 1]
        assert torch.allclose(x[:, 0, 0, 0] * 255, y.float())


def test_loader_is_repeatable_with_the_same_seed():
    data = fashion_mnist("test").subset(np.arange(256))
    kwargs = dict(batch_size=64, shuffle=True, device="cpu", augment=[random_flip, random_shift])
    a = [x for x, _ in InMemoryLoader(data.images, data.labels, seed=1, **kwargs)]
    b = [x for x, _ in InMemoryLoader(data.images, data.labels, seed=1, **kwargs)]
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


def test_loader_normalises_and_rejects_scaled_floats():
    data = fashion_mnist("test").subset(np.arange(512))
    x, _ = next(iter(InMemoryLoader(data.images, data.labels, batch_size=512, mean=(0.286,),
                                    std=(0.353,), device="cpu")))  # fmt: skip
    assert abs(x.mean().item()) < 0.1 and abs(x.std().item() - 1) < 0.15
    with pytest.raises(TypeError, match="images must be uint8 pixel values"):
        InMemoryLoader(data.images / 255.0, data.labels)


def test_augmentations_keep_shape_and_content_scale():
    x = torch.rand(8, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    shifted = random_shift(x, g, max_shift=2)
    assert shifted.shape == x.shape
    # A shift keeps some pixels and moves others: the result differs from the input but is
    # made of its values and zeros.
    assert not torch.equal(shifted, x)
    assert set(shifted.unique().tolist()) <= set(x.unique().tolist()) | {0.0}
    flipped = random_flip(x, g)
    for i in range(8):
        assert torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(-1))
