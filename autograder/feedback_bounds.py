"""Step 1 of a feedback page: ``bound_notebook``, a small, data-only copy of what a page may show.

One job: copy from the executed notebook (everything in it is the student's) what a page may
show, in time linear in the notebook: at most ``Bounds.max_cells`` cells, sources and outputs
cut, output metadata reduced to an image's numeric size, only the :data:`SHOWN_MIMETYPES` kept;
every other type becomes a line of text saying it is not run. A markdown cell over
``Bounds.max_markdown_chars`` (or past the page's budget) is shown as escaped text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import nbformat

from autograder.contract import KIT_KEY, RECORD_MIMETYPE, kit_grade_id

__all__ = ["SHOWN_MIMETYPES", "Bounds", "bound_notebook"]

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
