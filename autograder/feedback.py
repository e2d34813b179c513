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
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.contract import KIT_KEY, RECORD_MIMETYPE, kit_grade_id

__all__ = [
    "CONTENT_SECURITY_POLICY",
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

#: No scripts, frames, fonts or network at all; images only from ``data:`` URLs (the plots are
#: embedded); inline styles for the notebook's own CSS. Delivered in a <meta> tag because pages
#: are opened as files, where no HTTP header can carry it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)

#: Output types a page shows; everything else becomes a line of text.
SHOWN_MIMETYPES = ("text/plain", "text/html", "text/markdown", "image/png", "image/jpeg")
_RICH = ("text/html", "text/markdown")  # parsed and sanitised: they count against the budget
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_ATTACHMENT = re.compile(r"attachment:([^\s)\"'>]+)")
_ATTACHMENT_TYPES = ("image/png", "image/jpeg", "image/gif")


@dataclass(frozen=True)
class Bounds:
    """What one page shows at most. Sizes in characters (base64 characters for images).

    The defaults keep the slowest legal page to a few seconds: sanitising and parsing markdown
    are the costly steps (about 5 µs a character), so the text that goes through them is bounded
    per cell and per page; plain text is only escaped.
    """

    max_cells: int = 1_000
    max_markdown_chars: int = 20_000  # one markdown cell or rich output rendered as such
    max_rich_chars: int = 400_000  # all markdown and HTML rendered on the page together
    max_source_chars: int = 20_000  # one code cell's source, or one cell shown as text
    max_text_chars: int = 20_000  # one output's text (stream, text/plain, traceback)
    max_outputs_per_cell: int = 100
    max_page_text_chars: int = 2_000_000  # all text on the page together
    max_image_chars: int = 32_000_000  # all images on the page together


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


# ------------------------------------------------------------------------------------ bounding
def _text(value: object) -> str:
    """A notebook string field, whatever arrived (nbformat allows a list of lines)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return ""


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit:,} more characters not shown]"


class _Budget:
    """Characters left on the page, by kind."""

    def __init__(self, bounds: Bounds) -> None:
        self.rich = bounds.max_rich_chars
        self.text = bounds.max_page_text_chars
        self.images = bounds.max_image_chars

    def take_text(self, text: str) -> str:
        kept = text[: max(self.text, 0)]
        self.text -= len(kept)
        if len(kept) < len(text):
            kept += "\n[... the page's text budget is spent; the rest is not shown]"
        return kept


def _as_text_cell(source: str, note: str, bounds: Bounds, budget: _Budget):
    cell = nbformat.v4.new_markdown_cell(budget.take_text(_cut(source, bounds.max_source_chars)))
    cell.metadata = {"kit_feedback": {"as_text": True, "note": note}}
    return cell


def _markdown_cell(cell: dict, bounds: Bounds, budget: _Budget):
    source = _text(cell.get("source"))
    if cell.get("cell_type") == "raw":
        return _as_text_cell(source, "A raw cell, shown as plain text.", bounds, budget)
    if len(source) > bounds.max_markdown_chars or len(source) > budget.rich:
        note = (
            f"This markdown cell has {len(source):,} characters, more than a feedback page "
            "renders, so it is shown as plain text."
        )
        return _as_text_cell(source, note, bounds, budget)
    attachments = {}
    raw_attachments = cell.get("attachments")
    if isinstance(raw_attachments, dict):
        for name, bundle in raw_attachments.items():
            if not isinstance(bundle, dict):
                continue
            kept = {
                mimetype: value
                for mimetype, value in bundle.items()
                if mimetype in _ATTACHMENT_TYPES and isinstance(value, str)
            }
            if kept and isinstance(name, str) and all(map(_BASE64.fullmatch, kept.values())):
                attachments[name] = kept
    # nbconvert fails the whole page on a missing attachment: show such a cell as text instead.
    if any(name not in attachments for name in _ATTACHMENT.findall(source)):
        return _as_text_cell(source, "This cell refers to a missing attachment.", bounds, budget)
    budget.rich -= len(source)
    new = nbformat.v4.new_markdown_cell(source)
    if attachments:
        new.attachments = attachments
    return new


def _note(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=f"[{text}]\n")


def _size_metadata(metadata: object, mimetype: str) -> dict:
    """Only an image's numeric width and height (nbconvert writes them as unquoted attributes)."""
    found = metadata.get(mimetype) if isinstance(metadata, dict) else None
    if not isinstance(found, dict):
        return {}
    size = {
        key: int(value)
        for key, value in found.items()
        if key in ("width", "height") and isinstance(value, (int, float)) and 0 < value < 100_000
    }
    return {mimetype: size} if size else {}


def _display(out: dict, bounds: Bounds, budget: _Budget) -> list:
    """One display_data or execute_result output, reduced to what a page shows (plus notes)."""
    data = out.get("data") if isinstance(out.get("data"), dict) else {}
    data = {k: v for k, v in data.items() if k != RECORD_MIMETYPE}  # the kit's bookkeeping
    kept: dict[str, str] = {}
    metadata: dict = {}
    notes: list[str] = []
    for mimetype, value in data.items():
        if mimetype in ("image/png", "image/jpeg"):
            if isinstance(value, str) and len(value) <= budget.images and _BASE64.fullmatch(value):
                kept[mimetype] = re.sub(r"\s", "", value)
                budget.images -= len(value)
                metadata.update(_size_metadata(out.get("metadata"), mimetype))
            else:
                notes.append(f"An {mimetype} image is not shown: it is malformed or the page's "
                             "image budget is spent.")  # fmt: skip
        elif mimetype in _RICH and isinstance(value, (str, list)):
            text = _text(value)
            if len(text) <= bounds.max_markdown_chars and len(text) <= budget.rich:
                kept[mimetype] = text
                budget.rich -= len(text)
            else:
                notes.append(f"A {mimetype} output of {len(text):,} characters, more than a "
                             "feedback page renders, shown as plain text:")  # fmt: skip
                kept["text/plain"] = _cut(text, bounds.max_text_chars)
        elif mimetype == "text/plain":
            kept.setdefault("text/plain", _cut(_text(value), bounds.max_text_chars))
        elif mimetype == "image/svg+xml":
            notes.append("An SVG image is not run in feedback pages (they show PNG and JPEG "
                         "images only). Its source, as text:")  # fmt: skip
            kept["text/plain"] = _cut(_text(value), bounds.max_text_chars)
        else:
            notes.append(f"An output of type {str(mimetype)[:80]} is not run in feedback pages.")
    if any(m in kept for m in ("text/html", "text/markdown", "image/png", "image/jpeg")):
        # nbconvert shows the richest type only; plain text would be hidden anyway.
        kept.pop("text/plain", None)
    shown = []
    if notes:
        shown.append(_note(" ".join(notes)))
    if kept:
        if "text/plain" in kept:
            kept["text/plain"] = budget.take_text(kept["text/plain"])
        new = nbformat.v4.new_output("display_data", data=kept, metadata=metadata)
        shown.append(new)
    return shown


def _outputs(outputs: object, bounds: Bounds, budget: _Budget) -> list:
    if not isinstance(outputs, list):
        return []
    shown = []
    for out in outputs[: bounds.max_outputs_per_cell]:
        kind = out.get("output_type") if isinstance(out, dict) else None
        if kind == "stream":
            name = out.get("name") if out.get("name") in ("stdout", "stderr") else "stdout"
            text = budget.take_text(_cut(_text(out.get("text")), bounds.max_text_chars))
            shown.append(nbformat.v4.new_output("stream", name=name, text=text))
        elif kind == "error":
            lines = out.get("traceback") if isinstance(out.get("traceback"), list) else []
            text = "\n".join(line for line in lines if isinstance(line, str))
            text = budget.take_text(_cut(text, bounds.max_text_chars))
            shown.append(nbformat.v4.new_output(
                "error", ename=_cut(_text(out.get("ename")), 200),
                evalue=_cut(_text(out.get("evalue")), 2_000), traceback=[text],
            ))  # fmt: skip
        elif kind in ("display_data", "execute_result"):
            shown += _display(out, bounds, budget)
    if len(outputs) > bounds.max_outputs_per_cell:
        more = len(outputs) - bounds.max_outputs_per_cell
        shown.append(_note(f"{more:,} more outputs of this cell are not shown."))
    return shown


def bound_notebook(nb: dict, bounds: Bounds = Bounds()) -> nbformat.NotebookNode:
    """A fresh notebook holding what a feedback page may show of ``nb`` (see the module's
    docstring); ``nb`` is not changed. Linear in the cells kept, whatever ``nb`` holds.

    >>> nb = {"cells": [{"cell_type": "markdown", "source": f"{i}"} for i in range(5)]}
    >>> small = bound_notebook(nb, Bounds(max_cells=2))
    >>> len(small.cells), small.cells[-1].source
    (3, '3 more cells are not shown: a feedback page shows the first 2. All were graded.')
    """
    budget = _Budget(bounds)
    cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
    kept = []
    for index, cell in enumerate(cells[: bounds.max_cells]):
        kind = cell.get("cell_type") if isinstance(cell, dict) else None
        if kind in ("markdown", "raw"):
            new = _markdown_cell(cell, bounds, budget)
        elif kind == "code":
            source = budget.take_text(_cut(_text(cell.get("source")), bounds.max_source_chars))
            count = cell.get("execution_count")
            new = nbformat.v4.new_code_cell(
                source, outputs=_outputs(cell.get("outputs"), bounds, budget),
                execution_count=count if isinstance(count, int) else None,
            )  # fmt: skip
            grade_id = kit_grade_id(cell)
            if isinstance(grade_id, str):
                new.metadata[KIT_KEY] = {"grade_id": grade_id}  # for hide_hidden_tests
        else:
            continue
        new.id = f"cell-{index}"  # the student's ids end up in attributes: never keep them
        kept.append(new)
    if len(cells) > bounds.max_cells:
        more = len(cells) - bounds.max_cells
        kept.append(nbformat.v4.new_markdown_cell(
            f"{more:,} more cells are not shown: a feedback page shows the first "
            f"{bounds.max_cells:,}. All were graded."
        ))  # fmt: skip
        kept[-1].metadata = {"kit_feedback": {"as_text": True, "note": "Notebook cut."}}
    return nbformat.v4.new_notebook(
        cells=kept,
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"},
                  "language_info": {"name": "python"}},
    )  # fmt: skip


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
    bounds: Bounds = Bounds(),
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


# ------------------------------------------------------------------------------------- render
#: bleach's allow-list for HTML outputs, markdown and highlighted code. Tags that are not listed
#: are shown as escaped text (bleach's strip=False), so a student sees what was not rendered.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li",
    "ol", "p", "pre", "s", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
})  # fmt: skip
_PLAIN_ATTRIBUTES = frozenset({"class", "id", "title", "alt", "colspan", "rowspan", "align"})
_IMAGE_DATA_URL = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=]*", re.IGNORECASE)


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    """bleach's attribute filter: no handlers, links to the web or the page, images inline."""
    if tag in MATHML_TAGS:  # the maths rendered at render time (see maths_to_mathml)
        return name in MATHML_ATTRIBUTES
    if name in _PLAIN_ATTRIBUTES:
        return True
    if tag == "a" and name == "href":
        return value.strip().lower().startswith(("http://", "https://", "mailto:", "#"))
    if tag == "img" and name == "src":
        return _IMAGE_DATA_URL.fullmatch(value.strip()) is not None
    return tag == "img" and name in ("width", "height") and value.strip().isdigit()


_cleaners: dict[bool, object] = {}


def sanitise_html(fragment: str, *, maths: bool = False) -> str:
    """``fragment`` with every tag and attribute outside the allow-list escaped or dropped.

    ``maths=True`` also lets the MathML of :func:`maths_to_mathml` through; it is used only
    where every ``<math>`` of the student's own has already been escaped by a first pass
    without it (markdown is cleaned, then its ``$...$`` converted, then cleaned again), so a
    student's hand-written MathML never reaches the page.

    >>> sanitise_html('<b onclick="x()">hi</b><script>alert(1)</script>')
    '<b>hi</b>&lt;script&gt;alert(1)&lt;/script&gt;'
    >>> sanitise_html('<math><mi>x</mi></math>')
    '&lt;math&gt;&lt;mi&gt;x&lt;/mi&gt;&lt;/math&gt;'
    """
    if maths not in _cleaners:
        import bleach  # nbconvert's own sanitiser (its SanitizeHTML and clean_html use it)

        tags = ALLOWED_TAGS | MATHML_TAGS if maths else ALLOWED_TAGS
        _cleaners[maths] = bleach.Cleaner(
            tags=tags, attributes=_allowed_attribute,
            protocols={"http", "https", "mailto", "data"}, strip=False, strip_comments=True,
        )  # fmt: skip
    return _cleaners[maths].clean(str(fragment))


# --------------------------------------------------------------------------------------- maths
#: The MathML elements latex2mathml writes. Kept apart from ALLOWED_TAGS: only maths uses them.
MATHML_TAGS = frozenset({
    "math", "menclose", "mfrac", "mi", "mn", "mo", "mover", "mpadded", "mphantom", "mroot",
    "mrow", "mspace", "msqrt", "mstyle", "msub", "msubsup", "msup", "mtable", "mtd", "mtext",
    "mtr", "munder", "munderover",
})  # fmt: skip
#: Their presentation attributes; not ``href`` (a link on any MathML element in Firefox) nor
#: ``style``, which latex2mathml writes for a few commands only (e.g. ``\href``, ``\color``).
MATHML_ATTRIBUTES = frozenset({
    "accent", "columnalign", "columnlines", "columnspacing", "depth", "display", "displaystyle",
    "fence", "form", "height", "largeop", "linethickness", "lspace", "mathbackground",
    "mathcolor", "mathsize", "mathvariant", "maxsize", "minsize", "movablelimits", "notation",
    "rowlines", "rowspacing", "rspace", "scriptlevel", "separator", "stretchy", "voffset",
    "width",
})  # fmt: skip
MAX_FORMULA_CHARS = 2_000
#: Formulas one page renders (about 1 ms each with the page around them: 100,000 took 50 s);
#: the rest stay as written. a1's source notebook, the kit's most mathematical, has 29.
MAX_FORMULAS_PER_PAGE = 2_000
#: ``$$...$$`` (display) or ``$...$`` (inline: no space just inside the dollars, no digit just
#: after the closing one, so "costs 5$ or 6$" stays text), as MathJax reads them in notebooks.
_MATHS = re.compile(
    r"\$\$(?P<display>[^$]+?)\$\$|(?<![\\$])\$(?P<inline>[^\s$](?:[^$]*?[^\s$\\])?)\$(?!\d)"
)
#: Markup that is not text to look for maths in: tags, and code (where "$" is code).
_NOT_TEXT = re.compile(r"<(pre|code)\b.*?</\1\s*>|<[^>]*>", re.DOTALL | re.IGNORECASE)


class _FormulaBudget:
    """Formulas a page may still render (one per call of ``take``)."""

    def __init__(self, left: int = MAX_FORMULAS_PER_PAGE) -> None:
        self.left = left

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _formula(match: re.Match, budget: _FormulaBudget) -> str:
    """One ``$...$`` or ``$$...$$`` as MathML, or as it was when latex2mathml cannot read it."""
    latex = match["display"] if match["display"] is not None else match["inline"]
    if len(latex) > MAX_FORMULA_CHARS or not budget.take():
        return match[0]
    try:
        from latex2mathml.converter import convert

        display = "block" if match["display"] is not None else "inline"
        return convert(html.unescape(latex), display=display)
    except Exception:  # hostile or unusual LaTeX (deep nesting, unknown commands): shown raw
        return match[0]


def maths_to_mathml(fragment: str, budget: _FormulaBudget | None = None) -> str:
    """HTML from nbconvert's markdown with its ``$...$`` maths turned into MathML, so that a
    page shows maths without MathJax (a script, and from a CDN: the page runs neither).

    The result still goes through :func:`sanitise_html` (latex2mathml copies ``\\text{...}``
    into the markup as it is).

    >>> maths_to_mathml("<p>$x^2$ and <code>$y$</code></p>")  # doctest: +ELLIPSIS
    '<p><math ...><mrow><msup><mi>x</mi><mn>2</mn></msup></mrow></math> and <code>$y$</code></p>'
    """
    budget = budget or _FormulaBudget()

    def formula(match: re.Match) -> str:
        return _formula(match, budget)

    pieces, start = [], 0
    for markup in _NOT_TEXT.finditer(fragment):
        pieces.append(_MATHS.sub(formula, fragment[start : markup.start()]))
        pieces.append(markup[0])
        start = markup.end()
    pieces.append(_MATHS.sub(formula, fragment[start:]))
    return "".join(pieces)


TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head -%}
<meta http-equiv="Content-Security-Policy" content="{{ resources.kit_csp }}">
{{ super() }}
{%- endblock html_head -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block markdowncell scoped -%}
{%- if cell.metadata.kit_feedback -%}
<div class="cell border-box-sizing text_cell rendered"><div class="inner_cell">
<div class="text_cell_render border-box-sizing rendered_html">
<p><em>{{ cell.metadata.kit_feedback.note | escape_html }}</em></p>
<pre>{{ cell.source | escape_html }}</pre>
</div></div></div>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock markdowncell -%}
{%- block body_header -%}
{{ super() }}
{%- if nb.metadata.kit_results -%}
<style>
.kit-results { border-collapse: collapse; margin: 1em 0 2em 0; }
.kit-results th, .kit-results td { border: 1px solid #ccc; padding: 4px 8px; text-align: left;
  vertical-align: top; }
.kit-passed { background: #e6f4ea; } .kit-partial { background: #fff4d6; }
.kit-failed { background: #fde7e7; }
.kit-result { margin: 4px 0 12px 0; padding: 6px 10px; border-left: 4px solid #888; }
.kit-results td:nth-child(2), .kit-results th { white-space: nowrap; }
.kit-results pre, .kit-result pre { white-space: pre-wrap; word-break: normal;
  overflow-wrap: break-word; margin: 4px 0 0 0; }
</style>
<h2>Results</h2>
<table class="kit-results">
<tr><th>Test</th><th>Points</th><th>Result</th><th>Message</th></tr>
{%- for row in nb.metadata.kit_results.rows %}
<tr class="kit-{{ row.status }}"><td>{{ row.name | escape_html }}</td>
<td>{{ row.score }} / {{ row.max_score }}</td><td>{{ row.status }}</td>
<td><pre>{{ row.message | escape_html }}</pre></td></tr>
{%- endfor %}
{%- set totals = nb.metadata.kit_results -%}
<tr><th>Total</th><th>{{ totals.total }} / {{ totals.possible }}</th><th></th><th></th></tr>
</table>
<p>Each test's result is also shown below the cell it belongs to.</p>
{%- endif -%}
{%- endblock body_header -%}
{%- block codecell scoped -%}
{{ super() }}
{%- for row in cell.metadata.kit_result %}
<div class="kit-result kit-{{ row.status }}">
<strong>{{ row.name | escape_html }}: {{ row.status }},
{{- " " ~ row.score }} of {{ row.max_score }} points</strong>
<pre>{{ row.message | escape_html }}</pre></div>
{%- endfor %}
{%- endblock codecell -%}
{%- block data_html scoped -%}
<div class="output_html rendered_html output_subarea {{ extra_class }}">
{{ output.data['text/html'] | clean_output_html }}
</div>
{%- endblock data_html -%}
"""


def render_page(nb: nbformat.NotebookNode, title: str = "Feedback") -> str:
    """``nb`` (from ``feedback_notebook``) as one self-contained HTML page without scripts.

    Run it on a bounded notebook only: its cost grows with the text it is given.
    """
    import jinja2
    from nbconvert import HTMLExporter

    formulas = _FormulaBudget()

    class _Exporter(HTMLExporter):
        @jinja2.pass_context
        def markdown2html(self, context, source):
            # The student's own markup is cleaned first (no MathML allowed), then the maths is
            # converted; nbconvert's clean_html then lets only that MathML through.
            plain = sanitise_html(super().markdown2html(context, source))
            return maths_to_mathml(plain, formulas)

    exporter = _Exporter(
        template_name="classic",
        template_file="kit_feedback.html.j2",
        extra_loaders=[jinja2.DictLoader({"kit_feedback.html.j2": TEMPLATE})],
        sanitize_html=True,
        filters={
            "clean_html": lambda fragment: sanitise_html(fragment, maths=True),
            "clean_output_html": sanitise_html,
            # nbconvert's version rewrites 'files/' links with a regex that is quadratic in the
            # number of '[' (400 kB of markdown: minutes); a page has no 'files/' links to fix.
            "strip_files_prefix": lambda text: text,
        },
    )  # fmt: skip
    resources = {"metadata": {"name": title}, "kit_csp": CONTENT_SECURITY_POLICY}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


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


def _why(returncode: int, stderr: str, limits: RenderLimits) -> str:
    tail = stderr.strip().splitlines()[-1:] if stderr else []
    if "MemoryError" in stderr or returncode == -9:
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
