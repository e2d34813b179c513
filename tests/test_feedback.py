"""Feedback pages: inert whatever the student's notebook holds, and cheap to render.

Every page is parsed with ``html.parser`` and checked for anything a browser would run: a
``<script>``, an ``on*`` handler, a ``javascript:`` URL, or an element that embeds another
document (iframe, object, embed).
"""

from __future__ import annotations

import time
from html.parser import HTMLParser

import nbformat
import pytest
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
)

from autograder import feedback

EMBEDDING = {"iframe", "object", "embed", "frame", "frameset", "applet", "base", "form"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc", "poster"}


class _Active(HTMLParser):
    """Collects every executable or embedding construct of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.tags: list[str] = []
        self.csp: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "script":
            self.found.append("<script>")
        if tag in EMBEDDING:
            self.found.append(f"<{tag}>")
        if tag == "meta" and ("http-equiv", "Content-Security-Policy") in attrs:
            self.csp.append(dict(attrs)["content"])
        for name, value in attrs:
            value = (value or "").strip().lower().replace("\t", "").replace("\n", "")
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in URL_ATTRIBUTES and value.startswith(("javascript:", "vbscript:")):
                self.found.append(f"<{tag} {name}={value[:30]}>")
            if (
                name in URL_ATTRIBUTES
                and value.startswith("data:")
                and not value.startswith(("data:image/png", "data:image/jpeg", "data:image/gif"))
            ):
                self.found.append(f"<{tag} {name}={value[:30]}>")
            if name == "http-equiv" and value == "refresh":
                self.found.append("<meta refresh>")


def active_content(page: str) -> list[str]:
    parser = _Active()
    parser.feed(page)
    parser.close()
    return parser.found


def render(nb: nbformat.NotebookNode) -> str:
    return feedback.render_page(feedback.bound_notebook(nb))


def display(data: dict, metadata: dict | None = None, output_type: str = "display_data"):
    out = new_output(output_type, data=data, metadata=metadata or {})
    if output_type == "execute_result":
        out.execution_count = 1
    return out


def notebook_with(*cells) -> nbformat.NotebookNode:
    return new_notebook(
        cells=list(cells),
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}},
    )  # fmt: skip


def code_with(*outputs, source: str = "x = 1") -> nbformat.NotebookNode:
    cell = new_code_cell(source, outputs=list(outputs), execution_count=1)
    return cell


HOSTILE_OUTPUTS = {
    "script-in-html-output": display({"text/html": "<b>hi</b><script>alert(1)</script>"}),
    "img-onerror": display({"text/html": '<img src=x onerror="alert(1)">'}),
    "javascript-output": display({"application/javascript": "alert(1)", "text/plain": "<JS>"}),
    "iframe-srcdoc": display({"text/html": '<iframe srcdoc="<script>alert(1)</script>"></iframe>'}),
    "javascript-link": display({"text/html": '<a href="javascript:alert(1)">click</a>'}),
    "javascript-link-entities": display(
        {"text/html": '<a href="jav&#x09;ascript:alert(1)">click</a>'}
    ),
    "svg-onload": display(
        {"image/svg+xml": '<svg onload="alert(1)"><script>alert(2)</script></svg>'}
    ),
    "markdown-output-script": display({"text/markdown": "# T\n\n<script>alert(1)</script>"}),
    "html-isolated-iframe": display(
        {"text/html": "<p>x</p>"}, metadata={"text/html": {"isolated": True}}
    ),
    "widget-view": display(
        {
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2},
            "text/plain": "IntSlider()",
        }
    ),
    "png-width-handler": display(
        {"image/png": "iVBORw0KGgo="},
        metadata={"image/png": {"width": "1 onerror=alert(1)", "height": "2 onload=alert(2)"}},
    ),
    "png-filename-javascript": display(
        {"image/png": "iVBORw0KGgo="}, metadata={"filenames": {"image/png": "javascript:alert(1)"}}
    ),
    "latex-with-html": display({"text/latex": "<script>alert(1)</script>"}),
    "object-embed": display({"text/html": '<object data="x.swf"></object><embed src="x.swf">'}),
    "meta-refresh": display(
        {"text/html": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'}
    ),
    "execute-result-html": display(
        {"text/html": "<svg><animate onbegin=alert(1) attributeName=x /></svg>"},
        output_type="execute_result",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_OUTPUTS))
def test_hostile_output_is_inert(case):
    """Does an output of the student's code render without anything a browser would run?"""
    page = render(notebook_with(code_with(HOSTILE_OUTPUTS[case])))
    assert active_content(page) == []


HOSTILE_MARKDOWN = {
    "script": "# Title\n\n<script>alert(1)</script>",
    "img-onerror": '<img src=x onerror="alert(1)">',
    "javascript-link": "[click](javascript:alert(1))",
    "iframe": '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "svg-onload": '<svg onload="alert(1)"></svg>',
    "style-breakout": "<style>body{background:url(javascript:alert(1))}</style>",
    "data-html-link": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
}


@pytest.mark.parametrize("case", sorted(HOSTILE_MARKDOWN))
def test_hostile_markdown_cell_is_inert(case):
    page = render(notebook_with(new_markdown_cell(HOSTILE_MARKDOWN[case])))
    assert active_content(page) == []


def test_hostile_cell_metadata_and_raw_cells_are_inert():
    """Can tags, cell ids, attachments or a raw cell carry a handler or a script?"""
    md = new_markdown_cell("![a](attachment:evil.html)")
    md.attachments = {"evil.html": {"text/html": "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="}}
    code = code_with(display({"text/plain": "ok"}))
    code.metadata["tags"] = ['x" onmouseover="alert(1)']
    raw = nbformat.v4.new_raw_cell("<script>alert(1)</script>")
    raw.metadata["raw_mimetype"] = "text/html"
    nb = notebook_with(md, code, raw)
    nb.cells[1].id = 'y" onclick="alert(1)'  # invalid, as a hand-edited notebook can be
    nb.metadata["title"] = "</title><script>alert(1)</script>"
    assert active_content(render(nb)) == []


def test_page_has_no_scripts_and_a_strict_content_security_policy():
    """Is the page itself script-free, with a CSP that forbids scripts and remote images?"""
    page = render(notebook_with(new_markdown_cell("# Hello"), code_with(source="print(1)")))
    assert "<script" not in page.lower()
    parser = _Active()
    parser.feed(page)
    assert parser.csp == [feedback.CONTENT_SECURITY_POLICY]
    csp = parser.csp[0]
    assert "default-src 'none'" in csp and "img-src data:" in csp and "script-src" not in csp
    assert parser.tags.index("meta") < parser.tags.index("style")  # before any content


def test_what_students_need_still_shows():
    """Do plots, printed text, tables, headings and tracebacks survive sanitising?"""
    png = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
        "RU5ErkJggg=="
    )
    nb = notebook_with(
        new_markdown_cell("# Part 1\n\nSome *emphasis* and a [link](https://example.org)."),
        code_with(
            new_output("stream", name="stdout", text="epoch 1: loss 0.52\n"),
            display(
                {"image/png": png, "text/plain": "<Figure>"}, metadata={"image/png": {"width": 400}}
            ),
            display(
                {
                    "text/html": "<table><thead><tr><th>a</th></tr></thead>"
                    "<tbody><tr><td>1</td></tr></tbody></table>"
                }
            ),
            new_output(
                "error",
                ename="ValueError",
                evalue="bad <shape>",
                traceback=["ValueError: bad <shape>"],
            ),
            source="train()",
        ),
    )
    page = render(nb)
    assert f'src="data:image/png;base64,{png}" width="400"' in page
    assert "epoch 1: loss 0.52" in page
    assert "<th>a</th>" in page and "<td>1</td>" in page
    assert "<h1" in page and "<em>emphasis</em>" in page
    assert 'href="https://example.org"' in page
    assert "bad &lt;shape&gt;" in page


def test_unsafe_outputs_say_why_they_are_not_shown():
    page = render(notebook_with(code_with(HOSTILE_OUTPUTS["javascript-output"],
                                          HOSTILE_OUTPUTS["svg-onload"])))  # fmt: skip
    assert "not run in feedback pages" in page
    assert "&lt;svg onload" in page  # the SVG's source, as text


def test_a_400_kb_markdown_cell_renders_in_seconds():
    """Does one huge markdown cell render fast, shown as text and cut with a note?"""
    nb = notebook_with(new_markdown_cell("[" * 400_000), new_markdown_cell("# After"))
    started = time.perf_counter()
    page = render(nb)
    assert time.perf_counter() - started < 30
    assert "shown as plain text" in page
    assert "After" in page
    assert len(page) < 2_000_000


def test_300_000_tiny_cells_render_in_seconds():
    """Does a notebook of 300,000 cells render fast, the rest summarised in a note?"""
    nb = notebook_with()  # built as plain JSON: nbformat's helpers validate every cell
    nb.cells = [{"cell_type": "markdown", "metadata": {}, "source": f"cell {i}"}
                for i in range(300_000)]  # fmt: skip
    started = time.perf_counter()
    page = render(nb)
    assert time.perf_counter() - started < 30
    assert f"{300_000 - feedback.Bounds().max_cells:,} more cells are not shown" in page
    assert "cell 299999" not in page


def test_huge_outputs_and_sources_are_cut():
    nb = notebook_with(
        code_with(display({"text/html": "<p>" + "x" * 3_000_000 + "</p>"}),
                  new_output("stream", name="stdout", text="y" * 3_000_000),
                  source="z" * 3_000_000),
    )  # fmt: skip
    started = time.perf_counter()
    page = render(nb)
    assert time.perf_counter() - started < 30
    assert len(page) < 2_000_000


def test_render_in_a_child_process_writes_the_page(tmp_path):
    nb = notebook_with(new_markdown_cell("# Hello from the child"))
    page = feedback.write_feedback_page(
        feedback.bound_notebook(nb), tmp_path / "page.html", work_dir=tmp_path
    )
    assert page.rendered, page.reason
    assert "Hello from the child" in (tmp_path / "page.html").read_text()


@pytest.mark.parametrize(
    "bounds, reason",
    [
        (feedback.RenderLimits(time_s=0.01, memory_mb=2048), "took longer than"),
        (feedback.RenderLimits(time_s=60, memory_mb=50), "more memory than"),
    ],
)
def test_a_page_that_cannot_be_rendered_is_replaced_by_a_short_one(tmp_path, bounds, reason):
    """Does a render that runs out of time or memory leave a short page saying so?"""
    nb = notebook_with(new_markdown_cell("# Hello"))
    outcome = feedback.write_feedback_page(
        feedback.bound_notebook(nb), tmp_path / "page.html", work_dir=tmp_path, limits=bounds
    )
    assert not outcome.rendered
    text = (tmp_path / "page.html").read_text()
    assert reason in text and "results.json" in text, outcome.reason
    assert active_content(text) == []
    assert [p.name for p in tmp_path.iterdir() if p.name != "page.html"] == []


@pytest.mark.parametrize(
    "returncode, stderr, reason",
    [
        (1, "Traceback ...\nMemoryError", "needed more memory than its 50 MB limit"),
        # seen in CI: an import inside render_page failing to allocate at 50 MB
        (1, 'File "<frozen importlib._bootstrap>"\nSystemError: error return without exception set',
         "needed more memory than its 50 MB limit"),
        (-11, "", "needed more memory than its 50 MB limit"),
        (1, "Traceback ...\nKeyError: 'cells'", "failed (KeyError: 'cells')"),
        (-15, "", "was stopped by signal 15"),
    ],
)  # fmt: skip
def test_a_failed_render_is_told_apart_from_running_out_of_memory(returncode, stderr, reason):
    """Does the short page blame memory only for the signs of running out of it?"""
    limits = feedback.RenderLimits(time_s=60, memory_mb=50)
    assert feedback._why(returncode, stderr, limits) == reason


# ---------------------------------------------------------------------- per-test results
def _results(*tests) -> dict:
    """A results.json object with ``tests`` given as (name, score, max_score, output)."""
    from autograder.report import results_json
    from autograder.score import TestOutcome

    outcomes = [TestOutcome(n, s, m, s >= m, o) for n, s, m, o in tests]
    return results_json(outcomes, notices=[], execution_time=1.0)


PERFORMANCE_LINE = (
    "accuracy = 0.8123 on 10000 hidden images: 5.615 of 10 points (0 at 0.7, full at 0.9)."
)

Q2_MESSAGE = "The cell raised AssertionError: 1234567890123"


def test_the_cli_summary_reads_partial_credit_as_partial_and_cuts_no_number():
    """Does a partly earned item read 'part', and is no message cut in the middle of a number?"""
    from autograder.report import summary_table

    table = summary_table(
        _results(
            ("q1_tests", 2, 2, "Passed."),
            ("Improved network: accuracy on the hidden test set", 5.615, 10, PERFORMANCE_LINE),
            ("q2_tests", 0, 3, Q2_MESSAGE),
        )
    )
    lines = table.splitlines()
    assert lines[0].startswith("ok ")
    assert lines[1].startswith("part")
    assert lines[2].startswith("FAIL")
    # A message is shown whole or cut between words (so never in the middle of a number).
    for line, message in ((lines[1], PERFORMANCE_LINE), (lines[2], Q2_MESSAGE)):
        shown = line[line.index(message[:20]) :].removesuffix(" …")
        assert message.startswith(shown), line
        assert shown == message or message[len(shown)] == " ", line


def _outcome(name, score, max_score, output, visibility="visible"):
    from autograder.score import TestOutcome

    return TestOutcome(name, score, max_score, score >= max_score, output, visibility)


def _graded_notebook():
    test = new_code_cell("assert add(1, 2) == 3", execution_count=2)
    test.metadata["kit"] = {"grade_id": "q1_tests"}
    predict = new_code_cell('save_predictions(OUTPUT_DIR + "/p.csv", ids, labels)')
    return notebook_with(new_code_cell("def add(a, b):\n    return a + b"), test, predict)


def test_the_page_has_a_summary_table_and_each_result_at_its_cell():
    """Does the page say per test what happened: at the top, and below the test's cell?"""
    results = [
        _outcome("q1_tests", 2, 2, "Passed."),
        _outcome("Accuracy", 5.615, 10, PERFORMANCE_LINE),
        _outcome("q2_tests", 0, 3, "The cell raised ValueError: <script>alert(1)</script>"),
        _outcome("secret_tests", 0, 1, "not for students", visibility="hidden"),
    ]
    nb = feedback.feedback_notebook(_graded_notebook(), {}, set(), results=results,
                                    anchors={"Accuracy": "p.csv"})  # fmt: skip
    page = feedback.render_page(nb)
    assert active_content(page) == []
    table = page[page.index("<table") : page.index("</table>")]
    assert "q1_tests" in table and "2 / 2" in table and ">passed<" in table
    assert "5.615 / 10" in table and ">partial<" in table  # partial credit is not "failed"
    assert "q2_tests" in table and "&lt;script&gt;" in table
    assert "secret_tests" not in page
    # Each result follows its own cell's source: the test's after the assert, the performance
    # item's after the cell that writes p.csv.
    assert page.index("assert") < page.index("q1_tests: passed, 2 of 2 points")
    assert page.index("p.csv") < page.index("Accuracy: partial, 5.615 of 10 points")
    assert page.index("q1_tests: passed") < page.index("p.csv")


def test_the_page_shows_no_grader_folder():
    """Does the injected parameters cell (and any output) name OUTPUT_DIR instead of its path?"""
    work = "/tmp/kit-work-abc123/work"
    params = new_code_cell(
        f'GRADING = True\nOUTPUT_DIR = "{work}/outputs"\nDATA_DIR = "{work}/data"'
    )
    printed = code_with(new_output("stream", name="stdout", text=f"Wrote {work}/outputs/p.csv\n"))
    nb = feedback.feedback_notebook(
        notebook_with(params, printed), {}, set(),
        grader_paths={f"{work}/outputs": "<OUTPUT_DIR>", f"{work}/data": "<DATA_DIR>",
                      work: "<grading folder>"},
    )  # fmt: skip
    page = feedback.render_page(nb)
    assert "kit-work-" not in page
    assert "&lt;OUTPUT_DIR&gt;/p.csv" in page


def test_maths_is_rendered_as_mathml_without_a_network():
    """Is $...$ maths rendered at render time (MathML), not left raw for a CDN's MathJax?"""
    nb = notebook_with(
        new_markdown_cell(r"The loss $L = \frac{1}{N}\sum_i \ell_i$ and $$a < b$$; costs 5$."),
        code_with(display({"text/markdown": r"Accuracy $\approx 0.9$"})),
    )
    page = render(nb)
    assert active_content(page) == []
    assert page.count("<math") == 3
    assert "<mfrac>" in page and "$L =" not in page and "$$" not in page
    assert "costs 5$." in page  # a lone dollar is no maths


@pytest.mark.parametrize(
    "latex",
    [
        r"\text{<script>alert(1)</script>}",
        r"\href{javascript:alert(1)}{click}",
        r"\text{<img src=x onerror=alert(1)>}",
        r"{" * 5000 + "x" + "}" * 5000,
        r"\frac{",
    ],
    ids=["script-in-text", "href", "img-onerror", "deep-nesting", "unbalanced"],
)
def test_hostile_maths_is_inert(latex):
    page = render(notebook_with(new_markdown_cell(f"before ${latex}$ after")))
    assert active_content(page) == []
    assert "before" in page and "after" in page


def test_a_page_of_100_000_formulas_renders_in_seconds():
    """Is the maths a page renders bounded (100,000 formulas took 50 s before the cap)?"""
    nb = notebook_with(*[new_markdown_cell("$x$ " * 5_000) for _ in range(20)])
    started = time.monotonic()
    page = render(nb)
    assert time.monotonic() - started < 15
    assert page.count("<math") == feedback.MAX_FORMULAS_PER_PAGE
