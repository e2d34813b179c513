"""Keep hidden-test text out of everything a student sees: results.json outputs, notices, feedback.

Hidden test code runs in the student's kernel, so student code can read it (``In``, ``_ih``, the
history database, an input transformer that raises with the cell's text) and print it. That
gives nothing away (hidden tests hold no secret: the expected values stay in the grader), but
the hidden tests are the course's to publish, so the grader removes their text from what it
hands back.

:class:`Redactor` knows the **hidden-test lines**: the lines inside ``### BEGIN HIDDEN TESTS`` /
``### END HIDDEN TESTS`` of the source notebook that do not appear in the release (the markers
included). It replaces every line of a text that *is* one of them, after normalising both:

- whitespace collapsed (indentation and trailing spaces do not hide a line);
- ANSI colour codes removed (tracebacks);
- a traceback's line-number gutter (``----> 3 ``, ``      2 ``) removed;
- a ``repr`` (``print(In)``) split at its ``\\n`` escapes and between its strings (``', '``),
  ``\\'`` unescaped;
- HTML tags removed and entities decoded (``text/html`` outputs).

Matching is a few set lookups per segment of text, so the cost is linear in the size of the
text, whatever the number of hidden lines (a regex per hidden line would be their product).
Text that quotes only *part* of a hidden line, or encodes it, is not found; that is acceptable
because the text holds no secret, and the common leaks (a whole cell printed, a traceback
showing the cell) are covered.

Usage (once per notebook, where the executed notebook is produced)::

    redactor = Redactor.from_notebooks(source, release)
    redactor.notebook(executed)        # in place: every output of every cell
    clean = redactor.text(message)     # a notice, an error message
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import nbformat

from autograder.contract import HIDDEN_END, HIDDEN_MARK, strip_ansi

__all__ = ["HIDDEN_BEGIN", "HIDDEN_END", "REPLACEMENT", "Redactor", "hidden_test_lines"]

HIDDEN_BEGIN = HIDDEN_MARK
REPLACEMENT = "[hidden test line removed by the grader]"
#: Lines shorter than this (normalised) are not looked for: "else:" or ")" give nothing away,
#: and removing them would cut ordinary output.
MIN_CHARS = 5
_REPR_EDGE = 3

# IPython's traceback gutter: "----> 3 code", "      2 code", "--> 12 code".
#: Between two strings of a repr on one line: a closing quote, list or tuple punctuation with a
#: comma (and the numbers of a history tuple), an opening quote.
_JUNCTION = re.compile(r"""(['"][\s)\]]*,[\s,()\[\]\d]*['"])""")
_TAG = re.compile(r"<[^<>]*>")
_GUTTER = re.compile(r"^\s*-*>?\s*\d+\s")
# Text and structured outputs that can carry hidden text (images are left alone).
_TEXT_MIME = re.compile(r"^(text/.*|application/(json|javascript|x-latex))$")


def _normalise(text: str) -> str:
    return " ".join(text.split())


def hidden_test_lines(source: nbformat.NotebookNode, release: nbformat.NotebookNode) -> set[str]:
    """The normalised hidden-test lines of ``source`` that ``release`` does not show.

    >>> from nbformat.v4 import new_code_cell, new_notebook
    >>> src = new_notebook(cells=[new_code_cell(
    ...     "x = 1\\n### BEGIN HIDDEN TESTS\\nrecord('r', f(grading_input('a')))\\n"
    ...     "### END HIDDEN TESTS")])
    >>> sorted(hidden_test_lines(src, new_notebook(cells=[new_code_cell("x = 1")])))
    ['### BEGIN HIDDEN TESTS', '### END HIDDEN TESTS', "record('r', f(grading_input('a')))"]
    """
    public = {
        _normalise(line) for cell in release.cells for line in cell.get("source", "").splitlines()
    }
    found: set[str] = set()
    for cell in source.cells:
        inside = False
        for line in cell.get("source", "").splitlines():
            key = _normalise(line)
            if HIDDEN_BEGIN in line:
                inside = True
                found.add(key)
            elif HIDDEN_END in line:
                inside = False
                found.add(key)
            elif inside and len(key) >= MIN_CHARS and key not in public:
                found.add(key)
    return found


class Redactor:
    """Removes hidden-test lines from texts and from an executed notebook's outputs."""

    def __init__(self, hidden_lines: Iterable[str]) -> None:
        self.hidden = {_normalise(line) for line in hidden_lines if _normalise(line)}
        self._lengths = {len(line) for line in self.hidden}
        self._longest = max(self._lengths, default=0)

    @classmethod
    def from_notebooks(
        cls, source: nbformat.NotebookNode, release: nbformat.NotebookNode
    ) -> Redactor:
        return cls(hidden_test_lines(source, release))

    def _key_hidden(self, text: str) -> bool:
        """Is ``text``, normalised, a hidden line, give or take a few characters at its edges?"""
        key = _normalise(text)
        n = len(key)
        # In a repr, a line may carry a few characters of the list around it: the quote that
        # opens or closes its string, a bracket, a comma (``['x = 1``, ``y = 2']``).
        for i in range(min(_REPR_EDGE, n) + 1):
            for j in range(min(_REPR_EDGE, n - i) + 1):
                if n - i - j in self._lengths and key[i : n - j] in self.hidden:
                    return True
        return False

    def _is_hidden(self, segment: str) -> bool:
        plain = strip_ansi(segment) if "\x1b" in segment else segment
        variants = [plain]
        if "<" in plain:  # HTML output: the words between the tags
            variants.append(_TAG.sub("", plain))
        if "&" in plain:
            variants += [html.unescape(v) for v in list(variants)]
        if "\\" in plain:
            variants += [v.replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\")
                         for v in list(variants)]  # fmt: skip
        if _GUTTER.match(plain):
            variants.append(_GUTTER.sub("", plain))
        return any(self._key_hidden(v) for v in variants)

    def _segment(self, segment: str) -> str:
        if self._is_hidden(segment):
            return REPLACEMENT
        # One string of a repr ending (or starting) on this line next to another one:
        # "### END HIDDEN TESTS'), (0, 6, 'x = 1" or a printed list of lines. Cut at the
        # junctions and look at each piece. (A hidden line that itself holds such a junction,
        # as in f('a', 'b'), is found only when it stands alone on its line.)
        parts = _JUNCTION.split(segment)
        if len(parts) == 1:
            return segment
        hidden = [i for i in range(0, len(parts), 2) if self._is_hidden(parts[i])]
        for i in hidden:
            parts[i] = REPLACEMENT
        return "".join(parts) if hidden else segment

    def _line(self, line: str) -> str:
        if "\\n" not in line:
            return self._segment(line)
        return "\\n".join(self._segment(s) for s in line.split("\\n"))

    def text(self, text: str) -> str:
        """``text`` with every hidden-test line replaced by :data:`REPLACEMENT`.

        >>> r = Redactor(["record('r', f(grading_input('a')))"])
        >>> r.text("ok\\n    record('r', f(grading_input('a')))  \\nend")
        'ok\\n[hidden test line removed by the grader]\\nend'
        >>> print(r.text(repr(["", "x = 1\\nrecord('r', f(grading_input('a')))"])))
        ['', "x = 1\\n[hidden test line removed by the grader]
        """
        if not self.hidden or not text:
            return text
        out = []
        for line in text.splitlines(keepends=True):
            body = line.rstrip("\r\n")
            out.append(self._line(body) + line[len(body) :])
        return "".join(out)

    def _value(self, value):
        """A text output's value: a string, a list of strings (nbformat's multiline), or JSON."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self._value(v) for v in value]
        if isinstance(value, dict):
            return {k: self._value(v) for k, v in value.items()}
        return value

    def notebook(self, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        """Redact every output of every cell of ``nb``, in place; returns ``nb``."""
        if not self.hidden:
            return nb
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                kind = output.get("output_type")
                if kind == "stream":
                    output["text"] = self._value(output.get("text", ""))
                elif kind == "error":
                    output["ename"] = self.text(str(output.get("ename", "")))
                    output["evalue"] = self.text(str(output.get("evalue", "")))
                    output["traceback"] = [self.text(t) for t in output.get("traceback", [])]
                elif kind in ("display_data", "execute_result"):
                    data = output.get("data", {})
                    for mime in list(data):
                        if _TEXT_MIME.match(mime):
                            data[mime] = self._value(data[mime])
        return nb
