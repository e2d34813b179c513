"""Feedback pages: the executed notebook as one HTML page that runs nothing and is cheap to make.

Everything in an executed notebook is the student's: cell sources, outputs, metadata, attachments.
The page is made in three steps, split by cost and by trust:

1. ``bound_notebook`` (in the grader, linear in the notebook, data only) copies what a page may
   show into a fresh, small notebook: at most ``Bounds.max_cells`` cells, sources and outputs cut,
   output metadata reduced to an image's numeric size, only ``text/plain``, ``text/html``,
   ``text/markdown``, ``image/png`` and ``image/jpeg`` kept; SVG, Javascript, widget views and
   every other type become a line of text saying they are not run. A markdown cell over
   ``Bounds.max_markdown_chars`` (or past the page's budget) is shown as escaped text.
2. ``hide_hidden_tests`` puts each hidden test's released (visible) text in place of its source.
3. ``render_page`` turns that notebook into HTML with nbconvert's ``HTMLExporter`` and its
   ``sanitize_html`` mode, with a template that adds no script of its own, a bleach allow-list
   for HTML and markdown (no event handlers, no ``javascript:``, images from ``data:`` only), and a
   strict Content-Security-Policy as a second line of defence.

``write_feedback_page`` runs step 3 in a child process (``python -m autograder.feedback``) with a
wall-time and an address-space limit; a page that cannot be rendered in time or memory is replaced
by a short page that says so. The grader calls it only after ``results.json`` is written.

This module puts the steps together and runs the child process; step 1 lives in
:mod:`autograder.feedback_bounds` and step 3 in :mod:`autograder.feedback_html` (both
re-exported here).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.contract import kit_grade_id
from autograder.feedback_bounds import SHOWN_MIMETYPES, Bounds, _cut, bound_notebook
from autograder.feedback_html import (
    ALLOWED_TAGS as ALLOWED_TAGS,
)
from autograder.feedback_html import (
    CONTENT_SECURITY_POLICY,
    MAX_FORMULAS_PER_PAGE,
    maths_to_mathml,
    render_page,
    sanitise_html,
)
from autograder.feedback_html import (
    MATHML_ATTRIBUTES as MATHML_ATTRIBUTES,
)
from autograder.feedback_html import (
    MATHML_TAGS as MATHML_TAGS,
)
from autograder.feedback_html import (
    MAX_FORMULA_CHARS as MAX_FORMULA_CHARS,
)
from autograder.feedback_html import (
    TEMPLATE as TEMPLATE,
)

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "MAX_FORMULAS_PER_PAGE",
    "SHOWN_MIMETYPES",
    "Bounds",
    "PageOutcome",
    "RenderLimits",
    "attach_results",
    "bound_notebook",
    "feedback_notebook",
    "hide_grader_paths",
    "hide_hidden_tests",
    "maths_to_mathml",
    "render_page",
    "sanitise_html",
    "unrendered_page",
    "write_feedback_page",
]


@dataclass(frozen=True)
class RenderLimits:
    """What the child process that renders one page may use: seconds of wall time, MB (2**20
    bytes) of address space."""

    time_s: float = 120.0
    memory_mb: int = 3072


@dataclass(frozen=True)
class PageOutcome:
    """Where a page went and whether it is the notebook (``rendered``) or the short page saying
    why not (``reason``, e.g. 'took longer than 120 s')."""

    path: Path
    rendered: bool
    reason: str | None = None


def hide_hidden_tests(
    nb: nbformat.NotebookNode, release_sources: dict[str, str], hidden_ids: set[str]
) -> nbformat.NotebookNode:
    """Put each hidden test cell's released text in place of its source and cut its error
    tracebacks to one line (``ename: evalue``); changes ``nb`` and returns it."""
    for cell in nb.cells:
        gid = kit_grade_id(cell)
        if cell.cell_type != "code" or gid not in hidden_ids:
            continue
        cell.source = release_sources.get(gid, "# (hidden test)")
        for out in cell.outputs:
            if out.output_type == "error":
                out.traceback = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
    return nb


def feedback_notebook(
    executed: dict,
    release_sources: dict[str, str],
    hidden_ids: set[str],
    bounds: Bounds = Bounds(),  # noqa: B008 (a frozen dataclass: one shared default is safe)
    *,
    results: list | None = None,
    anchors: dict[str, str] | None = None,
    grader_paths: dict[str, str] | None = None,
) -> nbformat.NotebookNode:
    """What a feedback page shows of ``executed``: bounded, hidden tests replaced, the grader's
    folders named instead of shown (``grader_paths``, see :func:`hide_grader_paths`) and each
    test's result at the top and at its cell (``results``, see :func:`attach_results`)."""
    nb = hide_hidden_tests(bound_notebook(executed, bounds), release_sources, hidden_ids)
    if results is not None:
        attach_results(nb, results, anchors or {})
    if grader_paths:
        hide_grader_paths(nb, grader_paths)
    return nb


# ------------------------------------------------------------------------- per-test results
#: Characters of one test's message a page shows (results.json keeps up to 8,000).
MAX_RESULT_CHARS = 4_000


def hide_grader_paths(nb: nbformat.NotebookNode, paths: dict[str, str]) -> nbformat.NotebookNode:
    """Replace each of the grader's folders (keys, e.g. the run's OUTPUT_DIR under
    ``/tmp/kit-work-...``) by its name for the student (values, e.g. ``<OUTPUT_DIR>``) in every
    source and text output of ``nb`` (bounded: linear in what the page shows); changes ``nb``.

    The injected parameters cell otherwise shows where the grader works, which means nothing to
    a student and tells their next submission where to look. Longer paths go first, so a folder
    inside another gets its own name.
    """
    ordered = sorted(paths.items(), key=lambda item: -len(item[0]))

    def clean(text):
        if not isinstance(text, str):
            return text
        for path, name in ordered:
            text = text.replace(path, name)
        return text

    for row in nb.metadata.get("kit_results", {}).get("rows", []):  # messages quote errors
        row["message"] = clean(row["message"])
    for cell in nb.cells:
        cell.source = clean(cell.source)
        for row in cell.metadata.get("kit_result", []):
            row["message"] = clean(row["message"])
        for out in cell.get("outputs", []):
            if "text" in out:
                out.text = clean(out.text)
            if "data" in out:
                out.data = {k: clean(v) for k, v in out.data.items()}
            if "traceback" in out:
                out.traceback = [clean(line) for line in out.traceback]
            if "evalue" in out:
                out.evalue = clean(out.evalue)
    return nb


def _status(outcome) -> str:
    """'passed', 'partial' (some points: a performance band) or 'failed'."""
    if outcome.passed:
        return "passed"
    return "partial" if 0 < outcome.score < outcome.max_score else "failed"


def attach_results(
    nb: nbformat.NotebookNode, results: list, anchors: dict[str, str]
) -> nbformat.NotebookNode:
    """Put each test's result into ``nb``: all of them in ``nb.metadata`` (the page's summary
    table) and each at its cell (``cell.metadata.kit_result``), shown after the cell's output.

    Args:
        results: the outcomes of this notebook (``autograder.score.TestOutcome``: name, score,
            max_score, passed, output, visibility); those with visibility ``hidden`` are left
            out, as Gradescope hides them from students.
        anchors: for results that are not a cell of their own (performance items), a text
            that the source of their cell holds (the prediction file's name).

    A test cell is found by its grade_id (its result's name); a result without a cell is shown
    in the table only.
    """
    rows = []
    for outcome in results:
        if getattr(outcome, "visibility", "visible") == "hidden":
            continue
        rows.append({
            "name": str(outcome.name),
            "score": f"{outcome.score:g}",
            "max_score": f"{outcome.max_score:g}",
            "status": _status(outcome),
            "message": _cut(str(outcome.output), MAX_RESULT_CHARS),
        })  # fmt: skip
    by_name = {row["name"]: row for row in rows}
    placed: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        gid = kit_grade_id(cell)
        names = [gid] if gid in by_name else []
        names += [n for n, text in anchors.items()
                  if n in by_name and n not in placed and text and text in cell.source]  # fmt: skip
        found = [by_name[n] for n in names if n not in placed]
        if found:
            cell.metadata["kit_result"] = found
            placed.update(r["name"] for r in found)
    total = sum(float(r["score"]) for r in rows)
    possible = sum(float(r["max_score"]) for r in rows)
    nb.metadata["kit_results"] = {"rows": rows, "total": f"{total:g}", "possible": f"{possible:g}"}
    return nb


# ------------------------------------------------------------------------------- child process
def unrendered_page(title: str, reason: str) -> str:
    """The short page that stands in for a feedback page that could not be made; ``reason``
    ends the sentence 'The grader could not make this page: ...'."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head>'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        f'<meta charset="utf-8"><title>{html.escape(title)}</title></head><body>'
        f"<h1>{html.escape(title)}: feedback page not available</h1>"
        f"<p>The grader could not make this page: {html.escape(reason)}.</p>"
        "<p>Your score is not affected: results.json was written, complete, before the grader "
        "tried to make this page. Each test's message there says what passed and what to fix. "
        "If you need to see your notebook's outputs, run it in JupyterLab.</p>"
        "</body></html>\n"
    )


def write_feedback_page(
    nb: dict,
    page: Path,
    *,
    work_dir: Path,
    limits: RenderLimits = RenderLimits(),
    title: str | None = None,
) -> PageOutcome:
    """Render ``nb`` (made by ``feedback_notebook`` or ``bound_notebook``: the cost of a render
    is bounded by what those keep) to ``page`` in a child process with ``limits``; write a short
    page saying why when that fails.

    ``work_dir`` is a folder only the grader can read: the child's input lies there for the time
    of the call.
    """
    page = Path(page)
    title = title or page.stem
    page.parent.mkdir(parents=True, exist_ok=True)
    source = Path(work_dir) / f".{page.stem}.feedback.ipynb"
    rendering = page.with_name(f".{page.name}.rendering")
    source.write_text(json.dumps(nb))
    # The child imports this package from where the grader found it, whatever its folder.
    package_root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [package_root, *filter(None, [os.environ.get("PYTHONPATH")])])}  # fmt: skip
    reason = None
    try:
        done = subprocess.run(
            [sys.executable, "-m", "autograder.feedback", str(source), str(rendering),
             "--memory-mb", str(limits.memory_mb), "--title", title],
            capture_output=True, text=True, timeout=limits.time_s, cwd=work_dir,
            stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        if done.returncode == 0 and rendering.is_file():
            os.replace(rendering, page)
            return PageOutcome(page, True)
        reason = _why(done.returncode, done.stderr, limits)
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child
        reason = f"took longer than {limits.time_s:g} s"
    finally:
        source.unlink(missing_ok=True)
        rendering.unlink(missing_ok=True)
    page.write_text(unrendered_page(title, f"rendering {reason}"))
    return PageOutcome(page, False, reason)


#: How running out of the child's address space shows: Python's MemoryError, the C library's
#: ENOMEM text (an import's shared object that cannot be mapped), C++'s bad_alloc, or a kill.
#: And CPython's "error return without exception set": an import that failed to allocate inside
#: render_page at 50 MB raised this SystemError instead of MemoryError in 1 of 4 runs here.
_OUT_OF_MEMORY = ("MemoryError", "Cannot allocate memory", "failed to map segment", "bad_alloc",
                  "out of memory", "SystemError: error return without exception set")  # fmt: skip


def _why(returncode: int, stderr: str, limits: RenderLimits) -> str:
    tail = stderr.strip().splitlines()[-1:] if stderr else []
    # SIGSEGV too: under an address-space limit a C extension that does not check its allocation
    # crashes rather than raising.
    if any(sign in stderr for sign in _OUT_OF_MEMORY) or returncode in (-9, -6, -11):
        return f"needed more memory than its {limits.memory_mb:,} MB limit"
    if returncode < 0:
        return f"was stopped by signal {-returncode}"
    return f"failed ({tail[0][:200] if tail else f'exit code {returncode}'})"


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.feedback NOTEBOOK PAGE``: render a bounded notebook to a page."""
    parser = argparse.ArgumentParser(prog="python -m autograder.feedback",
                                     description=main.__doc__.split(": ", 1)[1])  # fmt: skip
    parser.add_argument("notebook", type=Path, help="a notebook made by bound_notebook (JSON)")
    parser.add_argument("page", type=Path, help="where to write the HTML page")
    parser.add_argument("--memory-mb", type=int, default=None, help="address-space limit (MB)")
    parser.add_argument("--title", default="Feedback", help="the page's title")
    args = parser.parse_args(argv)
    if args.memory_mb:  # first, so that everything the render allocates counts
        limit = args.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    nb = nbformat.from_dict(json.loads(args.notebook.read_text()))
    args.page.write_text(render_page(nb, args.title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
