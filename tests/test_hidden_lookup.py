"""Hidden Fashion-MNIST sets: can a notebook score by looking labels up in the public files?

The lookups are those of ``bench/hidden_lookup.py`` (its functions, on a small hidden split):
an exact match of the image's bytes, and a nearest neighbour (L2 on pixels) after trying both
mirrors and whole-pixel shifts. Their predictions are scored as the grader scores a notebook's.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from autograder import pipeline
from autograder.config import load_assignment
from autograder.score import score_performance
from helpers.data.fashion import fashion_mnist
from helpers.data.hidden import (
    TRANSFORMS,
    prepare_hidden_split,
    public_test_paths,
    read_hidden_inputs,
    read_hidden_labels,
    transform_images,
)
from helpers.predictions import save_predictions

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 300  # hidden images per test: seconds, not minutes


def _bench():
    spec = importlib.util.spec_from_file_location("hidden_lookup", ROOT / "bench/hidden_lookup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lookup_points(name, tmp_path: Path, how: str, limit: int = LIMIT) -> tuple[float, float]:
    """Build the hidden set of ``name`` (an assignment's name, or an Assignment) as the grader
    does (``limit`` images) and make one run's copy of it, predict that copy with a lookup in
    the public test split and score that: (metric value, points)."""
    assignment = load_assignment(name, ROOT) if isinstance(name, str) else name
    spec = {**assignment.hidden_data, "limit": limit}
    pipeline._hidden_data(dataclasses.replace(assignment, hidden_data=spec), tmp_path)
    hidden_ids = pipeline._hidden_inputs_for_run(tmp_path, tmp_path / "data")
    ids, images = read_hidden_inputs(tmp_path / "data")
    test = fashion_mnist("test")
    bench = _bench()
    if how == "exact":
        predicted = bench.exact_lookup(images, test.images, test.labels)
        predicted[predicted < 0] = 0  # no match: a guess
    else:
        transform = TRANSFORMS[spec.get("transform", "none")]
        predicted = bench.nn_lookup(images, test.images, test.labels, flips=True,
                                    shift=max(1, math.ceil(transform.shift)))  # fmt: skip
    (band,) = assignment.performance
    save_predictions(tmp_path / "out" / band.predictions, ids, predicted)
    outcome, value = score_performance(band, tmp_path / "out", tmp_path / "labels", "visible",
                                       hidden_ids)  # fmt: skip
    return value, outcome.score


@pytest.mark.parametrize("name", ["a1_mlp_numpy", "a2_cnn_fashion"])
def test_an_exact_match_lookup_in_the_public_test_split_earns_nothing(name, tmp_path):
    """Does a notebook that finds each hidden image's bytes in the public test split (the full
    marks of accuracy 1.0 before the grader transformed the images) now earn 0 points?"""
    value, points = _lookup_points(name, tmp_path, "exact")
    assert points == 0, (value, points)
    assert value < 0.2, value  # no image matched: the class-0 guess, about 1 in 10


def test_affine_flip_noise_keeps_a_nearest_neighbour_lookup_short_of_a2s_reference(tmp_path):
    """With the stronger transform a course may choose for a2, does a nearest-neighbour lookup in
    the public test split, undoing mirrors and shifts, stay well short of the reference
    (bench/hidden_lookup.py: 0.69-0.71 on 1,000 images, the reference 0.81 on all 10,000)?

    The subset and the transform are drawn from secrets, as the grader draws them, so the
    accuracy varies from run to run: on 300 images it spread 0.68-0.74 over 10 runs (sd 0.019)
    and once reached 0.773 in CI. 2,000 images bring the sd near 0.008, which puts 0.76 six
    of them above the mean."""
    assignment = load_assignment("a2_cnn_fashion", ROOT)
    strong = dataclasses.replace(
        assignment, hidden_data={**assignment.hidden_data, "transform": "affine-flip-noise"}
    )
    value, _ = _lookup_points(strong, tmp_path, "nn", limit=2000)
    assert value < 0.76, value


def test_transform_is_seeded_private_and_changes_every_image():
    """Does one seed give the same images, another seed others, and no image stay a copy?"""
    images = fashion_mnist("test").images[:200]
    transform = TRANSFORMS["affine-flip-noise"]
    first, again = transform_images(images, transform, 5), transform_images(images, transform, 5)
    other = transform_images(images, transform, 6)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.dtype == np.uint8 and first.shape == images.shape
    assert not any(np.array_equal(a, b) for a, b in zip(first, images, strict=True))
    with pytest.raises(ValueError, match=r"images must be uint8 \(N, H, W\); got float32"):
        transform_images(images.astype(np.float32), transform, 5)


def test_without_a_seed_each_split_is_transformed_differently(tmp_path):
    """Is the transform's seed drawn afresh when none is given (so none is there to find)?"""
    for name in ("a", "b"):
        prepare_hidden_split("fashion-mnist", tmp_path / name / "in", tmp_path / name / "lab",
                             seed=1, limit=20, transform="noise")  # fmt: skip
    read = lambda name: (tmp_path / name / "in" / "images.npy").read_bytes()  # noqa: E731
    assert read("a") != read("b")
    assert sorted(p.name for p in (tmp_path / "a" / "in").iterdir()) == ["ids.csv", "images.npy"]


def test_a_transform_of_voc_style_images_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"transform='noise' needs dataset='fashion-mnist'"):
        prepare_hidden_split(
            "voc", tmp_path / "i", tmp_path / "l", root=tmp_path, transform="noise"
        )
    with pytest.raises(ValueError, match=r"Unknown value 'blur' for argument transform"):
        prepare_hidden_split("fashion-mnist", tmp_path / "i", tmp_path / "l", transform="blur")


def test_the_public_test_paths_are_in_the_kernels_hide_list(tmp_path, monkeypatch):
    """Does run_notebook hide Fashion-MNIST's public test files (Debian's, $KIT_DATA_DIR's and
    torchvision's layout under the kit's data/) from the kernel, and not the training files?"""
    from autograder import execute

    data_dir = tmp_path / "kit-data"
    monkeypatch.setenv("KIT_DATA_DIR", str(data_dir))
    seen = {}

    def fake_execute(notebook, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop before the kernel starts")

    monkeypatch.setattr(execute, "execute_notebook", fake_execute)
    assignment = load_assignment("a1_mlp_numpy", ROOT)
    raw = assignment.root / "data" / "FashionMNIST" / "raw"
    wanted = [
        Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"),
        Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"),
        data_dir / "t10k-images-idx3-ubyte.gz",
        data_dir / "fashion-mnist" / "t10k-labels-idx1-ubyte",
        raw / "t10k-images-idx3-ubyte",
    ]
    assert set(wanted) <= set(public_test_paths([assignment.root / "data"]))
    assert not any("train" in p.name for p in public_test_paths([assignment.root / "data"]))
    bundle = tmp_path / "bundle"
    for kind in ("source", "release"):
        (bundle / kind).mkdir(parents=True)
        src = ROOT / kind / "a1_mlp_numpy" / "a1_mlp_numpy.ipynb"
        (bundle / kind / src.name).write_bytes(src.read_bytes())
    (data_dir / "fashion-mnist").mkdir(parents=True)
    (data_dir / "fashion-mnist" / "t10k-labels-idx1-ubyte").write_bytes(b"public labels")
    with pytest.raises(RuntimeError, match="stop before"):
        pipeline.run_notebook(assignment, bundle, "a1_mlp_numpy.ipynb", None, None,
                              device="cpu", isolate=False, private=tmp_path / "p")  # fmt: skip
    hidden = set(seen["hide"])
    assert wanted[0] in hidden and wanted[1] in hidden  # Debian's files exist on this machine
    assert Path("/var/cache/apt/archives") in hidden  # it holds dataset-fashion-mnist's .deb
    assert data_dir / "fashion-mnist" / "t10k-labels-idx1-ubyte" in hidden


# A prediction cell that looks each hidden image up in the public test split, read through
# helpers.data.fashion_mnist ("files") or unpacked from apt's cached .deb ("apt-deb").
LOOKUP_CELL = """\
def scale(x, k):
    return x * k


def public_test_split(source):
    import glob, gzip, io, tarfile

    from helpers.data import fashion_mnist

    if source == "files":
        public = fashion_mnist("test", download=False)
        return public.images, public.labels
    (deb,) = glob.glob("/var/cache/apt/archives/dataset-fashion-mnist_*.deb")
    raw, members, at = open(deb, "rb").read(), {}, 8  # ar: "!<arch>\\n", then 60-byte headers
    while at < len(raw):
        name, size = raw[at:at + 16].decode().strip(), int(raw[at + 48:at + 58])
        members[name.rstrip("/")] = raw[at + 60:at + 60 + size]
        at += 60 + size + size % 2
    data = next(v for k, v in members.items() if k.startswith("data.tar"))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        read = lambda n: gzip.decompress(tar.extractfile(next(
            m for m in tar.getmembers() if m.name.endswith(n))).read())
        images, labels = read("t10k-images-idx3-ubyte.gz"), read("t10k-labels-idx1-ubyte.gz")
    return (np.frombuffer(images, np.uint8, offset=16).reshape(-1, 28, 28),
            np.frombuffer(labels, np.uint8, offset=8).astype(np.int64))


if GRADING:
    from pathlib import Path

    from helpers.data.hidden import read_hidden_inputs
    from helpers.predictions import save_predictions

    ids, images = read_hidden_inputs(DATA_DIR)
    predicted = np.zeros(len(ids), np.int64)
    try:
        public_images, public_labels = public_test_split(SOURCE)
    except Exception as error:
        print("no lookup:", type(error).__name__, error)
    else:
        ref = public_images.reshape(len(public_images), -1).astype(np.float32)
        q = images.reshape(len(ids), -1).astype(np.float32)
        dist = (q * q).sum(1)[:, None] - 2 * q @ ref.T + (ref * ref).sum(1)
        predicted = public_labels[dist.argmin(1)]
    save_predictions(Path(OUTPUT_DIR) / "lookup.csv", ids, predicted)
"""


@pytest.fixture(scope="module")
def lookup_kit(tmp_path_factory):
    """The toy assignment with a 200-image "noise" Fashion-MNIST hidden set and a band."""
    import toy_assignment as toy

    root = toy.make_root(tmp_path_factory.mktemp("kit"))
    config = root / "assignments" / toy.NAME / "assignment.toml"
    config.write_text(
        config.read_text()
        + '\n[hidden_data]\ndataset = "fashion-mnist"\nlimit = 200\ntransform = "noise"\n'
        '\n[[performance]]\nname = "lookup"\npredictions = "lookup.csv"\nzero_at = 0.5\n'
        "full_at = 0.9\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIT_BUNDLE_DIR", str(root / "bundles"))
        assignment = load_assignment(toy.NAME, root)
        pipeline.build(assignment, device="cpu")
        yield assignment


@pytest.mark.parametrize("source", ["files", "apt-deb"])
def test_a_lookup_in_the_public_files_finds_them_hidden_under_the_grader(
    source, lookup_kit, tmp_path
):
    """Does a notebook whose prediction cell reads Fashion-MNIST's public test split (from its
    files, or unpacked from apt's cached .deb) find nothing while graded, and earn 0 points for
    performance (a nearest-neighbour lookup scores 1.0 on "noise" images where the files can be
    read), its other tests keeping their points?"""
    import toy_assignment as toy

    q2 = f"SOURCE = {source!r}\n" + LOOKUP_CELL
    answers = {"q1": "def add(a, b):\n    return a + b", "q2": q2}
    submission = toy.student(tmp_path / "sub" / "toy.ipynb", **answers)
    results = pipeline.grade(lookup_kit, submission, device="cpu").results
    tests = {t["name"]: t for t in results["tests"]}
    assert tests["lookup"]["score"] == 0, tests["lookup"]["output"]
    assert tests["q2_tests"]["score"] == 3 and tests["q1_tests"]["score"] == 2


@pytest.mark.parametrize("name", ["a1_mlp_numpy", "a2_cnn_fashion"])
def test_the_reference_still_earns_full_marks_on_the_transformed_set(name, tmp_path):
    """Do the reference weights reach full_at with a margin on the whole split transformed as
    the config says, in a run's copy as the kernel gets it (a fixed order seed, a secret noise
    seed per run; bench/hidden_lookup.py: a1 0.894, a2 0.921)?"""
    assignment = load_assignment(name, ROOT)
    spec = {**assignment.hidden_data, "seed": 0}
    pipeline._hidden_data(dataclasses.replace(assignment, hidden_data=spec), tmp_path)
    hidden_ids = pipeline._hidden_inputs_for_run(tmp_path, tmp_path / "data")
    _, images = read_hidden_inputs(tmp_path / "data")
    label_ids, bundle_labels = read_hidden_labels(tmp_path / "labels")
    row = {i: k for k, i in enumerate(label_ids)}
    labels = bundle_labels[[row[hidden_ids[i]] for i in hidden_ids]]
    bench = _bench()
    reached = (bench.a1_accuracy if name == "a1_mlp_numpy" else bench.a2_accuracy)(images, labels)
    (band,) = assignment.performance
    assert reached >= band.full_at + 0.01, reached


@pytest.mark.slow
def test_a2_build_gives_the_reference_full_marks_with_the_test_files_hidden(tmp_path, monkeypatch):
    """Does a2's source, run by the grader with the reference weights, the public test files
    hidden and the hidden set transformed, pass every test and earn full performance marks?"""
    monkeypatch.setenv("KIT_BUNDLE_DIR", str(tmp_path / "bundles"))
    assignment = load_assignment("a2_cnn_fashion", ROOT)
    summary = pipeline.build(assignment, device="cpu")
    (band,) = assignment.performance
    performance = summary["performance"][band.name]
    assert performance["points"] == band.max_score, performance
    assert performance["value"] >= band.full_at + 0.01, performance


def test_cli_transforms_with_the_seed_it_is_given(tmp_path, capsys):
    """Does `--transform noise --transform-seed 3` write the same images twice, unlike the
    untransformed split, and an unknown transform exit 2 naming the choices?"""
    from helpers.data.hidden import main

    written = []
    for name, extra in (
        ("a", ["--transform", "noise", "--transform-seed", "3"]),
        ("b", ["--transform", "noise", "--transform-seed", "3"]),
        ("c", []),
    ):
        argv = [
            "--dataset",
            "fashion-mnist",
            "--limit",
            "10",
            "--seed",
            "1",
            *extra,
            "--inputs",
            str(tmp_path / name / "i"),
            "--labels",
            str(tmp_path / name / "l"),
        ]
        assert main(argv) == 0
        written.append((tmp_path / name / "i" / "images.npy").read_bytes())
    assert written[0] == written[1] != written[2]
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["--dataset", "fashion-mnist", "--transform", "blur", "--inputs", "a", "--labels", "b"]
        )
    assert exit_info.value.code == 2 and "invalid choice: 'blur'" in capsys.readouterr().err


def test_a_bundle_whose_hidden_set_is_not_redrawn_per_run_is_refused(tmp_path, monkeypatch):
    """Does grading refuse a bundle built before runs got their own copy of the hidden set (its
    inputs noised once for every submission, no redraw.json), saying to build it again?"""
    import json

    import toy_assignment as toy

    root = toy.make_root(tmp_path / "kit")
    monkeypatch.setenv("KIT_BUNDLE_DIR", str(tmp_path / "bundles"))
    assignment = load_assignment(toy.NAME, root)
    bundle = pipeline.bundle_dir(assignment)
    (bundle / "hidden" / "inputs").mkdir(parents=True)
    (bundle / "expected.json").write_text(json.dumps({"tests": {}, "input_pool": 1}))
    with pytest.raises(pipeline.BuildError, match=r"older version .* build toy` again"):
        pipeline.grade(assignment, tmp_path / "sub.ipynb", device="cpu")
