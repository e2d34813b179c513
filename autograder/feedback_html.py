"""Step 3 of a feedback page: ``render_page``, a bounded notebook as HTML that runs nothing.

One job: turn the notebook :mod:`autograder.feedback_bounds` made into HTML with nbconvert's
``HTMLExporter`` and its ``sanitize_html`` mode, with a template that adds no script of its own,
a bleach allow-list for HTML and markdown (``sanitise_html``: no event handlers, no
``javascript:``, images from ``data:`` only), LaTeX turned into MathML in the page itself
(``maths_to_mathml``, bounded per formula and per page), and a strict Content-Security-Policy as
a second line of defence. It runs in the child process ``autograder.feedback`` starts.
"""

from __future__ import annotations

import html
import re

import nbformat

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "MAX_FORMULAS_PER_PAGE",
    "maths_to_mathml",
    "render_page",
    "sanitise_html",
]

#: No scripts, frames, fonts or network at all; images only from ``data:`` URLs (the plots are
#: embedded); inline styles for the notebook's own CSS. Delivered in a <meta> tag because pages
#: are opened as files, where no HTTP header can carry it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


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
