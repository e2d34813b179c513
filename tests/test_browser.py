"""The kit as a person sees it: JupyterLab driven by headless Chromium (Debian's `chromium`,
through PyPI's `playwright` with ``executable_path``: no browser download).

One JupyterLab server (tests/lab_server.py) runs for the module, in a temporary copy of the
course; each test opens pages in it. Screenshots go to ``$KIT_BROWSER_SCREENSHOTS`` when set (to
look at them), else to the test's temporary folder. Skipped, with the reason, where playwright or
chromium is missing: `./kit test` installs both (chromium only as root).
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from lab_server import TOKEN, VENV_BIN, Server, jupyter_lab
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader_toy import WRITTEN_ANSWER, solve, toy_source
from test_a1_mlp_numpy import solved_release

try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # the runtime stack alone (requirements.txt) has no playwright
    sync_playwright = None

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# The notebook in front (other tabs stay in the DOM, hidden).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CELL_TIMEOUT_MS = 300_000  # the a2 data cell reads Fashion-MNIST: seconds idle, minutes when busy

pytestmark = [
    pytest.mark.slow,  # one JupyterLab and one Chromium for the module: 3 minutes in all
    pytest.mark.skipif(
        sync_playwright is None,
        reason="playwright is not installed: `./kit test` installs it (requirements-dev.txt)",
    ),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed: as root, `./kit test` installs it, or run "
        "`apt-get install chromium`",
    ),
]

# A cell added to the temporary copy of the a2 release after its set-up cells: a short `fit`
# (tqdm bar, history plot) on images the data cell loaded.
FIT_AND_PLOT = """\
from helpers import plots
_x = torch.as_tensor(train_set.images[:256]).float().div(255).unsqueeze(1)
_y = torch.as_tensor(train_set.labels[:256])
_net = BaseNet()
_history = fit(_net, [(_x[:128], _y[:128]), (_x[128:], _y[128:])], [(_x, _y)],
               loss_fn=nn.CrossEntropyLoss(), optimizer=torch.optim.SGD(_net.parameters(), lr=0.01),
               epochs=2, progress=True)
plots.plot_history(_history);"""

# What a solved assignment's folder holds besides its notebook: the reference weights (as the
# student's trained ones) and a finished experiment log, which Validate must leave as they are.
SOLVED = {
    "a1_mlp_numpy": (("mlp_weights.npz",), ("hparam_study.jsonl",)),
    "a2_cnn_fashion": (("improved_net.pt",), ("experiments_ablation.jsonl",)),
}
# Validate on a solved a1 took 10-15 s, a2 13-22 s, a2's blank release 10-21 s (shared 2-core
# machine, under load): nothing trains. The margin is for a cold disk cache and a busy machine.
VALIDATE_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go."""
    wanted = os.environ.get("KIT_BROWSER_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def nbgrader(course: Path, *args: str) -> None:
    run = subprocess.run(
        [str(VENV_BIN / "nbgrader"), *args], cwd=course, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, f"nbgrader {' '.join(args)}:\n{run.stdout}\n{run.stderr}"


def add_toy_assignment(course: Path) -> None:
    """The toy assignment in ``course``: its source, its release by nbgrader (checksums and
    all), the blank and a solved copy under ``student/``, and alice's solved submission
    autograded, for formgrader's manual grading."""
    (course / "source" / "toy").mkdir(parents=True)
    nbformat.write(toy_source(), course / "source" / "toy" / "toy.ipynb")
    nbgrader(course, "generate_assignment", "toy")
    blank = course / "release" / "toy" / "toy.ipynb"
    solved = solve(nbformat.read(blank, as_version=4))
    (course / "student").mkdir()
    shutil.copy(blank, course / "student" / "toy_blank.ipynb")
    nbformat.write(solved, course / "student" / "toy_solved.ipynb")
    (course / "submitted" / "alice" / "toy").mkdir(parents=True)
    nbformat.write(solved, course / "submitted" / "alice" / "toy" / "toy.ipynb")
    nbgrader(course, "autograde", "toy")


def feedback_html(folder: Path) -> Path:
    """A feedback-like page made by nbconvert: a markdown cell, a printed line and a PNG plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from nbconvert import HTMLExporter

    figure, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [1.0, 0.6, 0.4], label="train loss")
    ax.legend()
    png = io.BytesIO()
    figure.savefig(png, format="png")
    plt.close(figure)
    cell = new_code_cell("plot_history(history)", execution_count=1)
    cell.outputs = [
        new_output("stream", name="stdout", text="test accuracy: 91.3%\n"),
        new_output("display_data", data={"image/png": base64.b64encode(png.getvalue()).decode()}),
    ]
    notebook = new_notebook(cells=[new_markdown_cell("# Feedback: toy"), cell])
    body, _ = HTMLExporter().from_notebook_node(notebook)
    page = folder / "feedback" / "toy.html"
    page.parent.mkdir(parents=True)
    page.write_text(body)
    return page


def cell_index(path: Path, grade_id: str) -> int:
    """Index of the cell of ``path`` whose nbgrader grade_id is ``grade_id``."""
    cells = nbformat.read(path, as_version=4).cells
    return next(
        i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


def data_cell_index(path: Path) -> int:
    """Index of the a2 notebook's data cell (grade_id ``data``), its last set-up cell."""
    return cell_index(path, "data")


def write_finished_log(path: Path) -> None:
    """An experiment log of two finished runs of two epochs each (what a study leaves)."""
    from helpers.experiments import ExperimentLog
    from helpers.history import History

    log = ExperimentLog(path)
    for run, lr in (("baseline", 0.05), ("lr 0.01", 0.01)):
        history = History()
        for epoch in (1, 2):
            history.append(epoch=epoch, train_loss=1.0 / epoch, val_loss=1.1 / epoch,
                           train_accuracy=0.8, val_accuracy=0.8 + 0.01 * epoch, lr=lr,
                           seconds=1.0)  # fmt: skip
        log.record(history, run=run, config={"lr": lr}, monitor="val_accuracy")


def add_student_copies(course: Path) -> None:
    """``student/<assignment>/``: each release solved (answers from the source) beside the
    reference weights and a finished log; ``student/a2_review/`` the same for the prediction
    browser; ``student/a2_blank/`` a2's blank release alone."""
    for name, (weights, logs) in SOLVED.items():
        for folder in ["solved", *(["review"] if name == "a2_cnn_fashion" else [])]:
            target = course / "student" / f"{name[:2]}_{folder}"
            target.mkdir(parents=True)
            solved_release(ROOT / "release" / name / f"{name}.ipynb",
                           ROOT / "source" / name / f"{name}.ipynb",
                           target / f"{name}.ipynb")  # fmt: skip
            for file in weights:
                shutil.copy(ROOT / "assignments" / name / "reference" / file, target / file)
            for file in logs:
                write_finished_log(target / file)
    blank = course / "student" / "a2_blank"
    blank.mkdir()
    shutil.copy(ROOT / "release" / "a2_cnn_fashion" / "a2_cnn_fashion.ipynb", blank)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A copy of the course: the releases (a2's with the added cell), the toy assignment
    (``add_toy_assignment``), solved and blank copies of a1 and a2 (``add_student_copies``),
    and a feedback page."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for folder in ("source", "release"):
        shutil.copytree(ROOT / folder, course / folder)
    a2 = course / "release" / "a2_cnn_fashion" / "a2_cnn_fashion.ipynb"
    notebook = nbformat.read(a2, as_version=4)
    after_data = data_cell_index(a2) + 1
    notebook.cells[after_data:after_data] = [new_code_cell(FIT_AND_PLOT)]
    nbformat.write(notebook, a2)
    add_toy_assignment(course)
    add_student_copies(course)
    feedback_html(course)
    return course


@pytest.fixture(scope="module")
def server(course, tmp_path_factory) -> Iterator[Server]:
    with jupyter_lab(course, log=tmp_path_factory.mktemp("lab") / "lab.log") as running:
        yield running


@pytest.fixture(scope="module")
def student_server(course, tmp_path_factory) -> Iterator[Server]:
    """The same course as `./kit student` serves it (jupyter_config/student/)."""
    env = {"JUPYTER_CONFIG_PATH": str(ROOT / "jupyter_config" / "student")}
    with jupyter_lab(course, log=tmp_path_factory.mktemp("lab") / "student.log", env=env) as lab:
        yield lab


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    # The token in a header on every request, the pages' own API calls included: a token in
    # the URL logs in JupyterLab's pages but not every formgrader page's API calls.
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000},
        extra_http_headers={"Authorization": f"token {TOKEN}"},
    )
    yield context.new_page()
    context.close()


def open_notebook(page: Page, server: Server, path: str) -> None:
    """Open ``path`` in JupyterLab and wait until its kernel is idle."""
    # A workspace of its own per notebook: no tabs restored from an earlier test.
    workspace = "w" + "".join(ch if ch.isalnum() else "-" for ch in path)
    page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{path}?token={TOKEN}")
    page.wait_for_selector(f"{PANEL} .jp-Cell", timeout=120_000)
    # The status bar reads "Python 3 (ipykernel) | Idle" once the kernel has started.
    page.locator(".jp-StatusBar-Widget").get_by_text("| Idle").wait_for(timeout=120_000)
    news = page.get_by_role("button", name="No", exact=True)  # the first-run news question
    if news.count() and news.first.is_visible():
        news.first.click()


def run_cells(page: Page, first: int, count: int) -> None:
    """Select cell ``first`` (0-based) and press Shift+Enter ``count`` times, as a student
    would; wait until no cell is queued or running."""
    page.locator(f"{PANEL} .jp-Cell").nth(first).locator(".jp-InputPrompt").click()
    for _ in range(count):
        page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        f"() => ![...document.querySelectorAll('{PANEL} .jp-InputPrompt')]"
        ".some(p => p.textContent.includes('*'))",
        timeout=CELL_TIMEOUT_MS,
    )


def cell(page: Page, index: int):
    return page.locator(f"{PANEL} .jp-Cell").nth(index)


def test_release_notebooks_open_with_a_kernel(page, server, shots):
    """Does each release notebook open in JupyterLab with its title and a running kernel?"""
    for name in ("a1_mlp_numpy", "a2_cnn_fashion"):
        open_notebook(page, server, f"release/{name}/{name}.ipynb")
        assert cell(page, 0).locator("h1").first.text_content().startswith("Assignment")
        page.screenshot(path=shots / f"{name}-opened.png")


def test_a2_setup_cells_run_and_plots_and_bars_render(page, server, course, shots):
    """Run a2's set-up cells (parameters, imports, data) and the added cell: do the tqdm bar
    and the history plot render?"""
    data = data_cell_index(course / "release" / "a2_cnn_fashion" / "a2_cnn_fashion.ipynb")
    open_notebook(page, server, "release/a2_cnn_fashion/a2_cnn_fashion.ipynb")
    run_cells(page, 1, data + 1)  # from the parameters cell through the added cell
    page.screenshot(path=shots / "a2-setup-run.png", full_page=True)
    for index in range(1, data + 2):
        errors = cell(page, index).locator(".jp-OutputArea-output[data-mime-type*='error']")
        assert errors.count() == 0, f"cell {index}: {cell(page, index).text_content()[:2000]}"

    fit_cell = cell(page, data + 1)
    fit_cell.scroll_into_view_if_needed()
    bar = fit_cell.locator(".widget-hprogress, progress")
    assert bar.count() >= 1, fit_cell.text_content()[:2000]
    assert "2/2" in fit_cell.text_content()  # the epoch bar ran to the end
    plot = fit_cell.locator(".jp-RenderedImage img")
    assert plot.count() == 1
    assert plot.evaluate("img => img.naturalWidth") > 100
    fit_cell.screenshot(path=shots / "a2-fit-bar-and-plot.png")


def test_a2_prediction_browser_shows_the_improved_nets_validation_mistakes(
    page, server, course, shots
):
    """In a solved a2 beside the reference weights, run the set-up cells, then the ImprovedNet
    cells (which load the weights: nothing trains) through its mistakes cell: does the
    prediction browser render the validation split with probabilities, and does "mistakes"
    keep exactly the images the printed validation accuracy says are wrong?"""
    path = course / "student" / "a2_review" / "a2_cnn_fashion.ipynb"
    ids = {name: cell_index(path, name) for name in (
        "data", "class_accuracies", "improved_net_placeholder", "improved_net_val_accuracy",
        "improved_net_mistakes")}  # fmt: skip
    open_notebook(page, server, "student/a2_review/a2_cnn_fashion.ipynb")
    # BaseNet's training cells are skipped: a student's kernel trains them (minutes).
    run_cells(page, 1, ids["data"])
    run_cells(page, ids["class_accuracies"], 1)
    first = ids["improved_net_placeholder"]
    run_cells(page, first, ids["improved_net_mistakes"] - first + 1)
    page.screenshot(path=shots / "a2-review-run.png", full_page=True)
    ran = [*range(1, ids["data"] + 1), ids["class_accuracies"],
           *range(first, ids["improved_net_mistakes"] + 1)]  # fmt: skip
    for index in ran:
        errors = cell(page, index).locator(".jp-OutputArea-output[data-mime-type*='error']")
        assert errors.count() == 0, f"cell {index}: {cell(page, index).text_content()[:2000]}"

    printed = cell(page, ids["improved_net_val_accuracy"]).inner_text()
    accuracy = float(re.search(r"ImprovedNet validation accuracy: ([0-9.]+)", printed)[1])
    browser_cell = cell(page, ids["improved_net_mistakes"])
    browser_cell.scroll_into_view_if_needed()
    info = browser_cell.locator(".widget-html-content").filter(has_text="image 1 of")
    info.wait_for(timeout=60_000)
    assert "image 1 of 6000" in info.inner_text()  # the validation split: 10% of 60,000
    assert browser_cell.locator(".widget-image").evaluate("img => img.naturalWidth") > 50
    scores = [float(v) for v in re.findall(r" (\d+\.\d+)", info.inner_text().split("scores")[1])]
    assert scores and all(0 <= v <= 1 for v in scores) and sum(scores) <= 1.0001, scores

    browser_cell.get_by_role("button", name="mistakes").click()
    wrong = round(6000 * (1 - accuracy))  # the accuracy is printed to 4 decimals: exact here
    page.wait_for_function(
        "([el, text]) => el.textContent.includes(text)",
        arg=[info.element_handle(), f"image 1 of {wrong} "],
        timeout=30_000,
    )
    assert "wrong" in info.inner_text() or "predicted" in info.inner_text()
    browser_cell.screenshot(path=shots / "a2-prediction-browser.png")


def notebook_cells(path: Path) -> list[tuple[str, str, dict]]:
    """What a student wrote and what nbgrader reads: type, source, nbgrader metadata per cell."""
    notebook = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader", {})) for c in notebook.cells]


def student_files(folder: Path) -> dict[str, object]:
    """The student's files and what they hold, folders aside. A notebook is compared as
    nbformat reads it, less ``metadata.language_info``: Validate saves the notebook first, and
    JupyterLab's save adds what the kernel reports about its language."""
    files: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file():  # JupyterLab's checkpoints; the a1/a2 copies' own folders
            continue
        if path.suffix == ".ipynb":
            notebook = nbformat.read(path, as_version=4)
            notebook.metadata.pop("language_info", None)
            files[path.name] = notebook
        else:
            files[path.name] = path.read_bytes()
    return files


def press_validate(page: Page, timeout_ms: int = 120_000) -> str:
    """Press the toolbar's Validate button and return the text of the dialog it opens."""
    page.locator(f"{PANEL} .jp-NotebookPanel-toolbar").get_by_role(
        "button", name="Validate"
    ).click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=timeout_ms)
    return dialog.inner_text()


def file_stamps(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file but the notebooks in ``folder``: its bytes and its mtime (ns)."""
    return {
        path.name: (path.read_bytes(), path.stat().st_mtime_ns)
        for path in folder.iterdir()
        if path.is_file() and path.suffix != ".ipynb"
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [("toy_solved", "Success! Your notebook passes all the tests."), ("toy_blank", "failed")],
)
def test_validate_button(page, server, course, shots, name, expected):
    """Does Validate pass the solved notebook and fail the blank one, and leave what the
    student wrote, and the folder, as they were?"""
    path = course / "student" / f"{name}.ipynb"
    before = notebook_cells(path)
    files_before = student_files(path.parent)
    open_notebook(page, server, f"student/{name}.ipynb")
    text = press_validate(page)
    page.screenshot(path=shots / f"validate-{name}.png")
    assert expected in text
    if name == "toy_blank":
        assert "Success" not in text
    assert notebook_cells(path) == before
    assert student_files(path.parent) == files_before


@pytest.mark.parametrize(
    "path",
    ["a1_solved/a1_mlp_numpy.ipynb", "a2_solved/a2_cnn_fashion.ipynb",
     "a2_blank/a2_cnn_fashion.ipynb"],
)  # fmt: skip
def test_validate_on_the_real_notebooks(page, server, course, shots, path):
    """Does Validate pass a solved a1 and a2 beside their weights and a finished log, leaving
    every file's bytes and mtime as they were (nothing trains, nothing is deleted), and fail
    a2's blank release, showing the failing cells?"""
    notebook = course / "student" / path
    before, stamps_before = notebook_cells(notebook), file_stamps(notebook.parent)
    open_notebook(page, server, f"student/{path}")
    text = press_validate(page, VALIDATE_TIMEOUT_MS)
    page.screenshot(path=shots / f"validate-{path.replace('/', '-')}.png")
    if "solved" in path:
        assert "Success! Your notebook passes all the tests." in text, text[-3000:]
        assert len(stamps_before) == 2  # the weights and the log
    else:  # every graded test cell is listed, with its source and a NotImplementedError
        # autograded test cells: graded, not answers (written answers are graded and answers)
        tests = [source.splitlines()[0] for _, source, meta in before
                 if meta.get("grade") and not meta.get("solution")]  # fmt: skip
        written = [source for _, source, meta in before if meta.get("grade")
                   and meta.get("solution") and "YOUR ANSWER HERE" in source]  # fmt: skip
        assert len(tests) == 8 and "Success" not in text
        # nbgrader lists each unanswered written answer as failed too ("You did not provide a
        # response"): a2's 10 questions live in the notebook.
        assert text.count("You did not provide a response") == len(written) == 10
        assert text.count("The following cell failed") == len(tests) + len(written), text[-3000:]
        assert all(first_line in text for first_line in tests), (tests, text[-3000:])
        assert text.count("NotImplementedError:") == len(tests)
    assert notebook_cells(notebook) == before
    assert file_stamps(notebook.parent) == stamps_before


def test_formgrader_manage_assignments_loads(page, server, shots):
    """Does formgrader's Manage Assignments page load and list the course's assignments?"""
    page.goto(f"{server.url}/formgrader/manage_assignments?token={TOKEN}")
    page.get_by_text("a2_cnn_fashion").first.wait_for(timeout=120_000)
    page.get_by_text("a1_mlp_numpy").first.wait_for(timeout=10_000)
    page.screenshot(path=shots / "formgrader-manage-assignments.png")


def test_formgrader_manual_grading_shows_the_written_answer_and_its_points(page, server, shots):
    """From formgrader's Manual Grading, does alice's toy submission open with her written
    answer and a score box for its 3 points?"""
    page.goto(f"{server.url}/formgrader/gradebook/toy/toy?token={TOKEN}")
    page.get_by_role("link", name="Submission #1").click()
    page.get_by_text(WRITTEN_ANSWER).wait_for(timeout=60_000)
    page.screenshot(path=shots / "formgrader-manual-grading.png")
    written = page.locator(".nbgrader_cell", has_text=WRITTEN_ANSWER)
    assert "/ 3" in " ".join(written.inner_text().split()), written.inner_text()
    assert written.locator("input.score").count() == 1


def test_feedback_page_renders(page, course, shots):
    """Does a feedback page rendered by nbconvert show its text and its plot?"""
    page.goto((course / "feedback" / "toy.html").as_uri())
    page.get_by_text("test accuracy: 91.3%").wait_for(timeout=30_000)
    image = page.locator("img").first
    assert image.evaluate("img => img.complete && img.naturalWidth") > 100
    page.screenshot(path=shots / "feedback.png", full_page=True)


def test_student_lab_shows_validate_but_no_instructor_panels(page, student_server, shots):
    """In the student's JupyterLab, is there a Validate button, and neither the Create
    Assignment panel nor an Assignment List ("Error fetching courses!")?"""
    open_notebook(page, student_server, "release/a1_mlp_numpy/a1_mlp_numpy.ipynb")
    toolbar = page.locator(f"{PANEL} .jp-NotebookPanel-toolbar")
    assert toolbar.get_by_role("button", name="Validate").is_visible()
    # The Nbgrader menu only held instructor and exchange items: it is gone too.
    assert page.get_by_role("menuitem", name="Nbgrader", exact=True).count() == 0
    page.screenshot(path=shots / "student-lab.png")
    text = page.locator("body").inner_text()
    for absent in ("Create Assignment", "Assignment List", "Formgrader", "Error fetching courses"):
        assert absent not in text, absent
