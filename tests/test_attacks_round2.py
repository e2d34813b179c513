"""A hostile reviewer's second round: the new prediction readers (a3's multi-label CSV by class
name, a5's folders of uint8 score maps), the hidden sets generated at build from a private seed,
GPU isolation's plan, and what a blank or stub a3/a5 submission can earn.

Each test is one attack, written to assert the SAFE behaviour. An attack that still works is
marked ``xfail(strict=True, reason="HOLE: ...")``: the suite stays green, the hole stays visible,
and whoever fixes it removes the mark (strict: the test then passes and the mark must go).
Everything here runs in the grader's own process on small hand-made hidden sets: seconds in all.
"""

from __future__ import annotations

import ast
import io
import math
import os
import re
import stat
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from test_sandbox_gpus import _fake_proc, fake_gpu_machine  # noqa: F401 (a fixture, used by name)

from autograder.config import ConfigError, Performance
from autograder.safe_fs import Folder
from autograder.score import score_performance
from autograder.score_masks import evaluate_score_maps

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["circle", "ring", "crescent", "triangle"]
N_IMAGES = 60


# ------------------------------------------------------------------- a3: the multi-label CSV
@pytest.fixture(scope="module")
def multilabel_set(tmp_path_factory):
    """A hidden multi-label set written by hand: (labels folder, ids, int64 (N, C) targets)."""
    labels = tmp_path_factory.mktemp("ml") / "labels"
    labels.mkdir()
    rng = np.random.default_rng(20)
    targets = (rng.random((N_IMAGES, len(CLASSES))) < 0.3).astype(np.int64)
    targets[0], targets[1] = 1, 0  # every class has a positive and a negative
    ids = [f"h{k:05d}" for k in range(N_IMAGES)]
    rows = [",".join(["id", *CLASSES])]
    rows += [",".join([i, *map(str, t)]) for i, t in zip(ids, targets, strict=True)]
    (labels / "labels.csv").write_text("\n".join(rows) + "\n")
    return labels, ids, targets


def noisy_scores(targets: np.ndarray, seed: int = 0) -> np.ndarray:
    """An honest, imperfect model's float (N, C) logits."""
    return 2.0 * targets + np.random.default_rng(seed).normal(0, 1.2, targets.shape)


def csv_text(ids, scores, header=None, fmt="{:.6g}", newline="\n") -> str:
    header = header or ["id", *CLASSES]
    lines = [",".join(header)]
    lines += [
        ",".join([i, *(fmt.format(v) for v in row)]) for i, row in zip(ids, scores, strict=True)
    ]
    return newline.join(lines) + newline


def map_band() -> Performance:
    """a3's band (assignments/a3_multilabel_voc/assignment.toml)."""
    return Performance("mAP", "my_predictions.csv", metric="mean_average_precision",
                       zero_at=0.33, full_at=0.45, max_score=12.0, leaderboard="mAP")  # fmt: skip


def score_csv(out: Path, labels: Path, content: str | bytes):
    out.mkdir(parents=True, exist_ok=True)
    path = out / "my_predictions.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return score_performance(map_band(), out, labels, "visible")


def test_a_csv_with_bom_and_crlf_scores_as_the_plain_file(multilabel_set, tmp_path):
    """Odd but honest: Excel's UTF-8 with a byte-order mark and CRLF line ends. Fair: same mAP."""
    labels, ids, targets = multilabel_set
    scores = noisy_scores(targets)
    _, plain = score_csv(tmp_path / "a", labels, csv_text(ids, scores))
    odd = b"\xef\xbb\xbf" + csv_text(ids, scores, newline="\r\n").encode()
    outcome, value = score_csv(tmp_path / "b", labels, odd)
    assert plain is not None and value == plain, outcome.output


def test_logits_probabilities_and_huge_values_score_the_same(multilabel_set, tmp_path):
    """Odd but honest: logits, sigmoid probabilities, logits x 1e300 (finite). AP ranks scores,
    so all three must give one mAP (no overflow, no rescaling)."""
    labels, ids, targets = multilabel_set
    logits = noisy_scores(targets)
    values = [
        score_csv(tmp_path / name, labels, csv_text(ids, s, fmt="{:.17g}"))[1]
        for name, s in (("logits", logits), ("probs", 1 / (1 + np.exp(-logits))),
                        ("huge", logits * 1e300))
    ]  # fmt: skip
    assert values[0] is not None and values[0] == pytest.approx(values[1]) == values[2]


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e999", "Infinity", "-1E400"])
def test_non_finite_scores_are_refused_with_a_message(multilabel_set, tmp_path, bad):
    """A NaN or an overflowing number ranks wherever the sort puts it: refused, with a count."""
    labels, ids, targets = multilabel_set
    text = csv_text(ids, noisy_scores(targets)).splitlines()
    text[5] = ",".join([ids[4], bad, "0", "0", "0"])
    outcome, value = score_csv(tmp_path, labels, "\n".join(text) + "\n")
    assert value is None and outcome.score == 0
    assert "1 NaN or inf values" in outcome.output, outcome.output


def test_constant_scores_earn_the_base_rate_whatever_the_row_order(multilabel_set, tmp_path):
    """Blank model: every score 0.5, rows ordered positives first so that a sort that split
    ties by position would rank them on top. Safe: ties enter together, mAP = the base rate."""
    labels, ids, targets = multilabel_set
    order = np.argsort(-targets.sum(1), kind="stable")
    text = csv_text([ids[k] for k in order], np.full(targets.shape, 0.5))
    outcome, value = score_csv(tmp_path, labels, text)
    assert value == pytest.approx(targets.mean(0).mean()) and outcome.score == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: [*lines, lines[3]], "lists 1 ids more than once"),
        (lambda lines: [lines[0], *lines[2:], lines[2].replace("h", "x", 1)],
         "1 ids are missing"),
        (lambda lines: [lines[0], *lines], "not hidden images"),
        (lambda lines: [*[""] * 30, *lines], "must start with the header"),
        (lambda lines: [*lines[:4], lines[4] + "\0", *lines[5:]], "not numbers"),
        (lambda lines: [lines[0], '"' + lines[1], *lines[2:]], ""),
    ],
    ids=["repeated-id", "missing-id", "header-twice", "blank-lines-first", "nul", "open-quote"],
)  # fmt: skip
def test_a_hostile_csv_gets_zero_and_a_message_not_a_crash(multilabel_set, tmp_path, edit,
                                                           message):  # fmt: skip
    """Ids repeated or missing, a header repeated as a row, a NUL byte, a quote never closed
    (csv then reads the rest of the file as one field): 0 of the band, a message, no raise."""
    labels, ids, targets = multilabel_set
    lines = csv_text(ids, noisy_scores(targets)).splitlines()
    outcome, value = score_csv(tmp_path, labels, "\n".join(edit(lines)) + "\n")
    assert value is None and outcome.score == 0 and outcome.output
    assert message in outcome.output, outcome.output


def test_a_csv_of_one_long_line_is_refused_before_it_is_held(multilabel_set, tmp_path):
    """50 MB with no newline: refused by size, unread (the file cap is derived from N)."""
    labels, _, _ = multilabel_set
    outcome, value = score_csv(tmp_path, labels, b"id," + b"9" * 50_000_000)
    assert value is None and "byte limit" in outcome.output


# test_a_header_naming_classes_wrongly_is_not_scored_by_position:
# fixed; the attack lives on in tests/test_score.py.


# ------------------------------------------------------------------- a5: score-map folders
SEG_CLASSES = 3  # background + 2


@pytest.fixture(scope="module")
def seg_set(tmp_path_factory):
    """A hidden segmentation set by hand: (labels folder, ids, uint8 (H, W) masks)."""
    from PIL import Image

    labels = tmp_path_factory.mktemp("seg") / "labels"
    (labels / "masks").mkdir(parents=True)
    (labels / "labels.csv").write_text("id,a,b\n")
    rng = np.random.default_rng(5)
    ids, masks = [f"h{k:05d}" for k in range(6)], []
    for image_id in ids:
        mask = rng.integers(0, SEG_CLASSES, (12, 16)).astype(np.uint8)
        mask[0, :3] = 255  # ignored pixels
        Image.fromarray(mask, mode="L").save(labels / "masks" / f"{image_id}.png")
        masks.append(mask)
    return labels, ids, masks


def perfect(mask: np.ndarray) -> np.ndarray:
    classes = np.where(mask == 255, 0, mask)
    return ((classes[None] == np.arange(SEG_CLASSES)[:, None, None]) * 255).astype(np.uint8)


def evaluate(out: Path, labels: Path, ids):
    with Folder.open(out) as folder:
        return evaluate_score_maps(folder, "scores", labels, ids)


def test_a_fortran_order_score_file_scores_as_a_c_order_one(seg_set, tmp_path):
    """Odd but honest: np.save of a transposed view writes fortran_order: True. Fair: read in
    that order, every map is where np.load would put it (full marks)."""
    labels, ids, masks = seg_set
    (tmp_path / "scores").mkdir()
    for image_id, mask in zip(ids, masks, strict=True):
        np.save(tmp_path / "scores" / f"{image_id}.npy", np.asfortranarray(perfect(mask)))
    result = evaluate(tmp_path, labels, ids)
    assert result.mean_iou == pytest.approx(1.0) and result.mean_ap == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["folder", "socket", "sparse-under-limit", "big-endian-lie"])
def test_a_score_file_that_is_no_plain_npy_gets_a_message(seg_set, tmp_path, kind):
    """A folder or a socket named like a score file; a sparse file of the right size whose
    header is zeros; a header that says uint8 '>u1' with a float's worth of data. Safe: a
    ValueError naming the file, nothing read through it, no hang."""
    import socket

    labels, ids, masks = seg_set
    folder = tmp_path / "scores"
    folder.mkdir()
    for image_id, mask in zip(ids, masks, strict=True):
        np.save(folder / f"{image_id}.npy", perfect(mask))
    target = folder / f"{ids[2]}.npy"
    target.unlink()
    if kind == "folder":
        target.mkdir()
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(str(target))
    elif kind == "sparse-under-limit":
        with target.open("wb") as f:
            f.truncate(SEG_CLASSES * 12 * 16 + 128)
    else:  # a uint8 header in front of eight times the data (a float64 array's bytes)
        buffer = io.BytesIO()
        header = {"descr": ">u1", "fortran_order": False, "shape": (SEG_CLASSES, 12, 16)}
        np.lib.format.write_array_header_1_0(buffer, header)
        target.write_bytes(buffer.getvalue() + perfect(masks[2]).astype(np.float64).tobytes())
    with pytest.raises(ValueError, match=re.escape(ids[2])):
        evaluate(tmp_path, labels, ids)


def test_scoring_500_score_maps_stays_small_in_memory(tmp_path):
    """a5's hidden set: 500 scenes, 4 classes, 128 x 128. Memory is one file plus the counts."""
    import tracemalloc

    from PIL import Image

    labels = tmp_path / "labels"
    (labels / "masks").mkdir(parents=True)
    (labels / "labels.csv").write_text("id,a,b,c\n")
    out = tmp_path / "out" / "scores"
    out.mkdir(parents=True)
    mask = np.random.default_rng(0).integers(0, 4, (128, 128)).astype(np.uint8)
    scores = np.zeros((4, 128, 128), np.uint8)
    ids = [f"h{k:05d}" for k in range(500)]
    for image_id in ids:
        Image.fromarray(mask, mode="L").save(labels / "masks" / f"{image_id}.png")
        np.save(out / f"{image_id}.npy", scores)
    tracemalloc.start()
    evaluate(tmp_path / "out", labels, ids)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.1f} MiB"


# ------------------------------------------------------------------- stubs around the kit
def _solution(assignment: str, *grade_ids: str) -> dict:
    """The namespace of source solution cells (the reference answers), executed here in order."""
    nb = nbformat.read(ROOT / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    namespace: dict = {"np": np, "math": math}
    for grade_id in grade_ids:
        exec(compile(by_id[grade_id].source, grade_id, "exec"), namespace)
    return namespace


def _inputs(assignment: str, seed: int) -> dict:
    import importlib.util

    path = ROOT / "assignments" / assignment / "grading_inputs.py"
    spec = importlib.util.spec_from_file_location(f"_inputs_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_inputs(np.random.default_rng(seed))


# test_a3_one_line_wrappers_around_the_kits_ap_earn_nothing:
# fixed; the attack lives on in tests/test_a3_multilabel_voc.py (withheld answers).


# test_a5_wrappers_around_the_kits_confusion_matrix_earn_nothing:
# fixed; the attack lives on in tests/test_a5_segmentation_fcn.py (withheld answers).


# ------------------------------------------------------------------- the generated hidden set
def _hidden_kit(tmp_path: Path, private: str | None):
    """The toy assignment with a generated hidden set (4 scenes of 32 px) and ``private``
    as its private.toml: the Assignment."""
    import toy_assignment as toy

    from autograder.config import load_assignment

    root = toy.make_root(tmp_path / "kit")
    config = root / "assignments" / toy.NAME / "assignment.toml"
    config.write_text(config.read_text() + (
        '\n[hidden_data]\ndataset = "synthetic"\ngenerate = { test = 4, size = 32 }\n'
        'task = "classification"\n'
    ))  # fmt: skip
    if private is not None:
        (config.parent / "private.toml").write_text(private)
    return load_assignment(toy.NAME, root)


def test_a_guessable_private_generate_seed_is_refused(tmp_path):
    from autograder.hidden_set import prepare_hidden_data

    assignment = _hidden_kit(tmp_path, "[hidden_data]\ngenerate_seed = 550913\n")
    with pytest.raises(ConfigError, match="generate_seed"):
        prepare_hidden_data(assignment, tmp_path / "hidden")


def test_a_generated_hidden_set_leaves_no_tree_and_no_seed_behind(tmp_path, monkeypatch):
    """The build's temporary tree is root-only while it exists and gone after; the bundle's
    hidden set holds neither the seed nor the tree's files (annotations, settings)."""
    from autograder import hidden_set

    seed = 2**62 + 987_654_321
    assignment = _hidden_kit(tmp_path, f"[hidden_data]\ngenerate_seed = {seed}\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen_modes = []
    real = tempfile.TemporaryDirectory  # hidden_set looks it up on the module at call time

    class Watched(real):
        def __exit__(self, *exc):
            seen_modes.append(stat.S_IMODE(os.stat(self.name).st_mode))
            return super().__exit__(*exc)

    monkeypatch.setattr(tempfile, "TemporaryDirectory", Watched)
    hidden_set.prepare_hidden_data(assignment, tmp_path / "hidden")
    assert seen_modes == [0o700] and list(scratch.iterdir()) == []
    names = {p.name for p in (tmp_path / "hidden").rglob("*")}
    assert not any(n.endswith((".xml", ".json")) and n != "redraw.json" for n in names), names
    for path in (tmp_path / "hidden").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert str(seed).encode() not in data and seed.to_bytes(8, "big") not in data, path


# test_an_unreadable_gpu_entry_does_not_shift_the_indices:
# fixed; the attack lives on in tests/test_sandbox_gpus.py.


# test_a_kernel_steered_only_by_cuda_visible_devices_is_restricted_or_told:
# fixed; the attack lives on in tests/test_sandbox_gpus.py.


def test_a_kernel_given_one_gpu_keeps_only_its_node_and_uuid(tmp_path):
    """Index and UUID name the same GPU; CUDA_VISIBLE_DEVICES becomes the UUID, which the
    notebook cannot turn into another GPU without that GPU's node."""
    from autograder.sandbox import gpus

    listed = [("0000:3b:00.0", 0, "GPU-aaaa"), ("0000:5e:00.0", 1, "GPU-bbbb")]
    root = _fake_proc(tmp_path, listed)
    for gpu_id in ("1", "GPU-bbbb", "bbbb"):
        plan = gpus.plan_gpu_devices(gpu_id, "0", root)
        assert plan.restricts and plan.launcher_settings()["keep_minors"] == [1]
        assert plan.cuda_visible_devices() == "GPU-bbbb"
    for gpu_id in ("2", "GPU-cccc", "MIG-1"):  # none of them a listed GPU: said, not guessed
        plan = gpus.plan_gpu_devices(gpu_id, None, root)
        assert not plan.restricts and "could open every GPU" in plan.note


REACH_GPU0 = """\
import errno, os, stat
dev = os.path.join({root!r}, "dev")
def attempt(what, action):
    try:
        action()
        print(what, "ok")
    except OSError as exc:
        print(what, errno.errorcode[exc.errno])
def make_and_open():
    os.mknod("g0", stat.S_IFCHR | 0o666, os.makedev(195, 0))
    os.close(os.open("g0", os.O_RDWR))
attempt("mknod-in-cwd", make_and_open)
for pid in ("1", str(os.getppid())):
    attempt(f"via-proc-{{pid}}-root",
            lambda: os.close(os.open(f"/proc/{{pid}}/root{{dev}}/nvidia0", os.O_RDWR)))
attempt("sysfs-dev-char", lambda: os.close(os.open("/sys/dev/char/195:0/uevent", os.O_RDONLY)))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="isolation and mknod need root")
def test_a_kernel_given_gpu_1_cannot_remake_or_reach_gpu_0(tmp_path, monkeypatch, request):
    """Beyond test_sandbox_gpus' look: make GPU 0's node in the writable work folder, or reach
    the grader's /dev through /proc/<pid>/root. Safe: no node made (or none usable), no path."""
    import test_sandbox_gpus as fake

    from autograder.sandbox import gpus

    root = request.getfixturevalue("fake_gpu_machine")
    monkeypatch.setenv(gpus.KERNEL_GPUS_ENV, "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    _, text = fake.run(REACH_GPU0.format(root=str(root)), tmp_path)
    assert "mknod-in-cwd EPERM" in text or "mknod-in-cwd EACCES" in text, text
    assert "root ok" not in text, text  # ENOENT both: its own /proc, pid 1 is the kernel's


# test_check_does_not_take_an_assignment_planted_in_a_shared_folder:
# fixed; the attack lives on in tests/test_check.py.


# ------------------------------------------------------------------- nothing unpickled
def test_the_grader_never_unpickles_or_torch_loads():
    """No call in autograder/ that could run a pickle: pickle.load(s), torch.load, np.load
    without allow_pickle=False, pandas.read_pickle, joblib/dill."""
    offenders = []
    for path in sorted((ROOT / "autograder").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] in ("pickle", "dill", "joblib", "cloudpickle")
                       for n in names):  # fmt: skip
                    offenders.append(f"{path.name}:{node.lineno} imports {names}")
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            if func.endswith(("torch.load", "read_pickle", "pickle.load", "pickle.loads")):
                offenders.append(f"{path.name}:{node.lineno} {func}")
            if func.endswith("np.load") or func == "load" or func.endswith("numpy.load"):
                safe = any(k.arg == "allow_pickle" and isinstance(k.value, ast.Constant)
                           and k.value.value is False for k in node.keywords)  # fmt: skip
                if not safe:
                    offenders.append(f"{path.name}:{node.lineno} {func} without allow_pickle=False")
    assert offenders == []
