"""``python -m autograder lint <a>``: what a generator script used to enforce, checked on the
notebook an instructor edits in JupyterLab. Seconds, no kernel.

Each check is one function ``(Context) -> list[Finding]``; every finding names the file and cell
and says how to fix it. The checks, in the order they run:

1. **clean**: the source notebooks carry no outputs or execution counts (reviewable diffs), and
   every cell has an id, unique in its notebook (stable ids, nbformat 4.5+);
2. **parameters**: the first code cell is papermill's ``parameters`` cell, locked, with grade id
   ``parameters``, assigning every name the grader injects (:data:`PARAMETERS`);
3. **grade ids**: every nbgrader cell has one, well-formed (nbgrader's rule) and unique;
4. **roles**: no cell with contradictory roles (a locked answer, an autograded answer, a task that
   is graded, an unlocked test cell, points without ``grade``), and no solution or hidden-test
   markers where nbgrader would leave them in the release;
5. **records**: every autograded test cell has points and a hidden part that ``record()``s; no
   ``record`` or ``grading_input`` outside a hidden part (students' runs cannot call it);
6. **grading inputs**: every ``grading_input`` name is made by ``grading_inputs.py`` (drawn with
   the public ``[grading] seed``), and every name it makes is read;
7. **points**: the handout's ``## Grading`` table adds up to the notebook's points and the bands;
   **written answers**: each hand-graded answer has a rubric adding up to its points, shown in
   the question above it, and the report template does not ask the notebook's questions again;
8. **files**: each file of ``[assignment] files`` and each ``[[performance]] predictions`` is
   named by a code cell of the source (the notebook writes it);
9. **release**: ``release/<a>/`` has the source's cells, roles and public text (what
   ``nbgrader generate_assignment`` makes; ``verify`` also runs nbgrader itself).

Why over ~400 lines: one job (lint an assignment), like nbgrader's validator: a table of
independent ``_check_*`` functions (``CHECKS``) that share ``Context``, ``Finding`` and a few
one-line cell predicates. A cut exists (the per-cell notebook checks / the checks of the whole
assignment: points against the handout, files, release in sync) and is left for a follow-up:
the shared base has to move to a third module first, or the two halves import each other.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import nbformat

from autograder.config import Assignment
from autograder.contract import MARKERS, NBGRADER_KEY, PARAMETERS, PARAMETERS_TAG, grade_id
from autograder.record import public_draw

__all__ = ["PARAMETERS", "Finding", "lint"]

#: nbgrader's rule for grade ids ("alphanumeric characters, dashes, and underscores").
GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
#: What nbgrader puts where a solution was (nbgrader_config.py: ClearSolutions stubs).
STUBS = ("# YOUR CODE HERE", "raise NotImplementedError()", "YOUR ANSWER HERE")
# A literal or f-string first argument of grading_input(...); anything else cannot be checked.
CALL = re.compile(r"\bgrading_input\(\s*(f?)(['\"])([^'\"\n]*)\2\s*\)|\bgrading_input\(([^)]*)\)")
RECORD_CALL = re.compile(r"(?<![\w.])record\(")
CLEAR_OUTPUTS = "jupyter nbconvert --clear-output --inplace {path}"


@dataclass(frozen=True)
class Finding:
    """One problem: where (file, cell), what is wrong, and how to fix it."""

    where: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem} Fix: {self.fix}"


@dataclass
class Context:
    """What every check reads: the assignment and its parsed notebooks."""

    assignment: Assignment
    sources: dict[str, nbformat.NotebookNode] = field(default_factory=dict)
    releases: dict[str, nbformat.NotebookNode | None] = field(default_factory=dict)
    raw: dict[str, dict] = field(default_factory=dict)  # each source as JSON, unrepaired

    def cells(self):
        """Every (notebook name, 1-based cell number, cell) of the source notebooks."""
        for name, nb in self.sources.items():
            for number, cell in enumerate(nb.cells, 1):
                yield name, number, cell


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get(NBGRADER_KEY, {})


def _where(notebook: str, number: int, cell) -> str:
    label = grade_id(cell) or cell.get("id") or "?"
    return f"source/{notebook} cell {number} ('{label}')"


def _is_test(cell) -> bool:
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _split(source: str, kind: str) -> tuple[list[str], list[str]]:
    """Lines of ``source`` inside ``kind``'s markers, and those outside (markers left out)."""
    begin, end = MARKERS[kind]
    inside, outside, within = [], [], False
    for line in source.splitlines():
        if begin in line:
            within = True
        elif end in line:
            within = False
        else:
            (inside if within else outside).append(line)
    return inside, outside


def _check_clean(ctx: Context) -> list[Finding]:
    found = []
    for name, nb in ctx.sources.items():
        path = ctx.assignment.root / "source" / name
        dirty = [
            number
            for number, c in enumerate(nb.cells, 1)
            if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
        ]
        if dirty:
            found.append(
                Finding(
                    f"source/{name}",
                    f"cells {', '.join(map(str, dirty[:8]))}"
                    f"{' ...' if len(dirty) > 8 else ''} carry outputs or execution counts, which "
                    "make diffs unreadable (and can hold hidden-test results).",
                    "Clear them before committing: in JupyterLab Edit > Clear Outputs of All "
                    f"Cells and save, or `{CLEAR_OUTPUTS.format(path=path)}`.",
                )
            )
        # The file as saved: nbformat.read adds missing ids and renames duplicates in memory.
        raw = ctx.raw[name]
        version = (raw.get("nbformat", 0), raw.get("nbformat_minor", 0))
        if version < (4, 5):
            found.append(
                Finding(
                    f"source/{name}",
                    f"is nbformat {version[0]}.{version[1]}, without "
                    "cell ids, so every save renumbers the diff.",
                    "Open and save it in JupyterLab 3+ (it upgrades to 4.5 and adds ids).",
                )
            )
            continue
        seen: dict[str, int] = {}
        for number, (cell, saved) in enumerate(
            zip(nb.cells, raw.get("cells", []), strict=False), 1
        ):
            cid = saved.get("id")
            if not cid:
                found.append(
                    Finding(
                        _where(name, number, cell),
                        "has no cell id.",
                        "Save the notebook from JupyterLab, which adds one.",
                    )
                )
            elif cid in seen:
                found.append(
                    Finding(
                        _where(name, number, cell),
                        f"has the id {cid!r} of cell {seen[cid]}.",
                        "Give one of them a new id (delete and re-create the cell in JupyterLab).",
                    )
                )
            else:
                seen[cid] = number
    return found


def _assigned_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    }


def _check_parameters(ctx: Context) -> list[Finding]:
    found = []
    for name, nb in ctx.sources.items():
        code = [(n, c) for n, c in enumerate(nb.cells, 1) if c.cell_type == "code"]
        if not code:
            found.append(
                Finding(
                    f"source/{name}",
                    "has no code cell.",
                    "Start it with the parameters cell (docs/authoring.md).",
                )
            )
            continue
        number, first = code[0]
        where, meta = _where(name, number, first), _nbgrader(first)
        if PARAMETERS_TAG not in first.metadata.get("tags", []):
            found.append(
                Finding(
                    where,
                    "is the first code cell but is not tagged 'parameters', so the grader's "
                    "values (GRADING = True, ...) would not override the defaults.",
                    "Make the parameters cell the first code cell and add the tag 'parameters' "
                    "(JupyterLab: Property Inspector > Cell Tags).",
                )
            )
        if meta.get("grade_id") != PARAMETERS_TAG or not meta.get("locked"):
            found.append(
                Finding(
                    where,
                    "must be locked with grade id 'parameters', so a student's edit is "
                    "restored at grading.",
                    "nbgrader toolbar: 'Read-only', ID 'parameters'.",
                )
            )
        missing = [p for p in PARAMETERS if p not in _assigned_names(first.source)]
        if missing:
            found.append(
                Finding(
                    where,
                    f"does not assign {', '.join(missing)}.",
                    f"Give every grader parameter a default: {', '.join(PARAMETERS)} "
                    "(e.g. `GRADING = False`).",
                )
            )
        for n, c in code[1:]:
            if PARAMETERS_TAG in c.metadata.get("tags", []):
                found.append(
                    Finding(
                        _where(name, n, c),
                        "is tagged 'parameters' too.",
                        "Keep one parameters cell, the first code cell.",
                    )
                )
    return found


def _check_grade_ids(ctx: Context) -> list[Finding]:
    found, seen = [], {}
    for name, number, cell in ctx.cells():
        if NBGRADER_KEY not in cell.get("metadata", {}):
            continue
        gid = grade_id(cell)
        where = _where(name, number, cell)
        if not gid:
            found.append(
                Finding(
                    where,
                    "has nbgrader metadata but no grade id.",
                    "Give it an ID in the nbgrader toolbar.",
                )
            )
        elif not GRADE_ID.match(str(gid)):
            found.append(
                Finding(
                    where,
                    f"has grade id {gid!r}; nbgrader allows letters, digits, '-' and '_'.",
                    "Rename it, e.g. 'test_affine'.",
                )
            )
        elif gid in seen:
            found.append(
                Finding(
                    where,
                    f"has the grade id {gid!r} of {seen[gid]}.",
                    "Grade ids match cells at grading: make each unique.",
                )
            )
        else:
            seen[gid] = where
    return found


def _check_roles(ctx: Context) -> list[Finding]:
    found = []
    for name, number, cell in ctx.cells():
        meta, where = _nbgrader(cell), _where(name, number, cell)
        solution, grade, locked = meta.get("solution"), meta.get("grade"), meta.get("locked")
        problems = []
        if solution and locked:
            problems.append(
                (
                    "is an answer cell that is also locked: the student could not answer.",
                    "Make it either 'Manually graded answer'/'Autograded "
                    "answer' or 'Read-only', not both.",
                )
            )
        if solution and grade and cell.cell_type == "code":
            problems.append(
                (
                    "is an autograded answer (solution and points): the kit scores code "
                    "only through test cells that record.",
                    "Make it an answer cell "
                    "without points and move the points to a test cell below it.",
                )
            )
        if meta.get("task") and (solution or grade):
            problems.append(
                (
                    "is a task that is also an answer or graded.",
                    "Choose one cell type in the nbgrader toolbar.",
                )
            )
        if _is_test(cell) and not locked:
            problems.append(
                (
                    "is a test cell that is not locked.",
                    "Make it 'Autograder tests' in the nbgrader toolbar (locked).",
                )
            )
        if not grade and meta.get("points"):
            problems.append(
                (
                    f"has {meta['points']} points but is not graded, so they count nowhere.",
                    "Remove the points or make the cell a test cell.",
                )
            )
        if grade and not (isinstance(meta.get("points"), int | float) and meta["points"] > 0):
            problems.append(
                (
                    f"is graded with points {meta.get('points')!r}.",
                    "Give it a positive number of points.",
                )
            )
        begin_sol, begin_hid = MARKERS["solution"][0], MARKERS["hidden"][0]
        if begin_sol in cell.source and not solution:
            problems.append(
                (
                    f"has '{begin_sol}' but is no answer cell: nbgrader would leave "
                    "the solution in the release.",
                    "Make it an answer cell, or remove the markers.",
                )
            )
        if begin_hid in cell.source and not _is_test(cell):
            problems.append(
                (
                    f"has '{begin_hid}' but is no autograded test cell: nbgrader "
                    "would leave the hidden test in the release.",
                    "Make it 'Autograder tests', or remove the markers.",
                )
            )
        for kind, (begin, end) in MARKERS.items():
            if cell.source.count(begin) != cell.source.count(end):
                problems.append(
                    (
                        f"has unbalanced {kind} markers ('{begin}' / '{end}').",
                        "Close every BEGIN with its END.",
                    )
                )
        found += [Finding(where, p, f) for p, f in problems]
    return found


def _check_records(ctx: Context) -> list[Finding]:
    found = []
    for name, number, cell in ctx.cells():
        if cell.cell_type != "code":
            continue
        where = _where(name, number, cell)
        hidden, visible = _split(cell.source, "hidden")
        visible_text = "\n".join(visible)
        if _is_test(cell) and not any(RECORD_CALL.search(line) for line in hidden):
            found.append(
                Finding(
                    where,
                    "is an autograded test cell whose hidden part records nothing, so the "
                    "grader has no evidence to score it by.",
                    "Between '### BEGIN HIDDEN TESTS' and '### END HIDDEN TESTS', call the "
                    'student\'s code on grading_input(...) and record("name", output).',
                )
            )
        if RECORD_CALL.search(visible_text) and not re.search(
            r"import[^\n]*\brecord\b", visible_text
        ):
            found.append(
                Finding(
                    where,
                    "calls record() outside a hidden test part: the record counts for no "
                    "test (or is released to students).",
                    "Move it into the hidden part of the test cell it belongs to.",
                )
            )
        if "grading_input(" in visible_text:
            found.append(
                Finding(
                    where,
                    "calls grading_input() outside a hidden test part: students' own runs "
                    "have no grading inputs.",
                    "Move the call into the hidden part of a test cell.",
                )
            )
    return found


def _check_grading_inputs(ctx: Context) -> list[Finding]:
    found, literal, patterns = [], {}, []
    for name, number, cell in ctx.cells():
        if cell.cell_type != "code":
            continue  # prose may mention grading_input("x") without reading it
        for match in CALL.finditer(cell.source):
            where = _where(name, number, cell)
            if match.group(4) is not None:
                found.append(
                    Finding(
                        where,
                        f"calls grading_input({match.group(4)}) with a name lint cannot read.",
                        'Pass a string literal (or an f-string), e.g. grading_input("x").',
                    )
                )
            elif match.group(1):  # an f-string: each {...} stands for any text
                parts = re.split(r"\{[^}]*\}", match.group(3))
                patterns.append(
                    (re.compile(".+".join(map(re.escape, parts))), match.group(3), where)
                )
            else:
                literal.setdefault(match.group(3), where)
    if not literal and not patterns:
        return found
    assignment = ctx.assignment
    inputs_file = f"assignments/{assignment.name}/{assignment.grading_inputs}"
    if not assignment.grading_inputs:
        first = next(iter({**literal, **{p[1]: p[2] for p in patterns}}.values()))
        return [
            *found,
            Finding(
                first,
                "calls grading_input() but assignment.toml names no grading_inputs file.",
                "Add `grading_inputs = "
                '"grading_inputs.py"` under [assignment] and write '
                "make_inputs(rng) there.",
            ),
        ]
    try:
        inputs = public_draw(assignment.config_dir / assignment.grading_inputs, assignment.seed)
    except Exception as error:  # the instructor's code: any error is a finding, not a crash
        return [
            *found,
            Finding(
                inputs_file,
                f"make_inputs(rng) failed: {type(error).__name__}: {error}.",
                "Run it in Python and fix it.",
            ),
        ]
    for key, value in inputs.items():
        if value.dtype == object:
            found.append(
                Finding(
                    inputs_file,
                    f"make_inputs gives {key!r} as an object array, "
                    "which cannot be saved without pickle.",
                    "Return numbers, strings or NumPy arrays of them.",
                )
            )
    for input_name, where in literal.items():
        if input_name not in inputs:
            close = difflib.get_close_matches(input_name, list(inputs), n=3)
            found.append(
                Finding(
                    where,
                    f"reads grading_input({input_name!r}), which {inputs_file} does not make"
                    + (f" (it makes {', '.join(map(repr, close))})." if close else "."),
                    f"Add {input_name!r} to make_inputs, or correct the name.",
                )
            )
    for pattern, text, where in patterns:
        if not any(pattern.fullmatch(k) for k in inputs):
            found.append(
                Finding(
                    where,
                    f"reads grading_input(f{text!r}), which matches no name {inputs_file} makes.",
                    "Add the names to make_inputs.",
                )
            )
    for key in sorted(inputs):
        if key not in literal and not any(p.fullmatch(key) for p, _, _ in patterns):
            found.append(
                Finding(
                    inputs_file,
                    f"make_inputs makes {key!r}, which no cell reads.",
                    f"Use it in a hidden test (grading_input({key!r})) or remove it.",
                )
            )
    return found


def _handout_rows(text: str) -> list[tuple[str, str]]:
    """The (label, points) rows of the table under the handout's ``## Grading`` heading."""
    section = re.search(r"^##\s+Grading\s*$(.*?)(?=^##\s|\Z)", text, re.M | re.S)
    if not section:
        return []
    rows = []
    for line in section.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and len(cells) >= 2 and not set(cells[0]) <= set("-: "):
            rows.append((cells[0], cells[-1]))
    return rows[1:]  # the header row


def _check_points(ctx: Context) -> list[Finding]:
    assignment = ctx.assignment
    handout = assignment.config_dir / "handout.md"
    where = f"assignments/{assignment.name}/handout.md"
    tests = sum(
        _nbgrader(c)["points"]
        for _, _, c in ctx.cells()
        if _is_test(c) and isinstance(_nbgrader(c).get("points"), int | float)
    )
    manual = sum(
        _nbgrader(c).get("points", 0)
        for _, _, c in ctx.cells()
        if _nbgrader(c).get("grade") and c.cell_type == "markdown"
    )
    bands = sum(p.max_score for p in assignment.performance)
    if not handout.is_file():
        return [
            Finding(
                where,
                "is missing.",
                "Write the students' handout with a '## Grading' "
                "table (python -m autograder new shows one).",
            )
        ]
    rows = _handout_rows(handout.read_text(encoding="utf-8"))
    if not rows:
        return [
            Finding(
                where,
                "has no '## Grading' table.",
                f"Add one: | part | points |, with a row 'autograded tests ... | {tests:g}'.",
            )
        ]
    wanted = {
        "autograded": (tests, "the points of the autograded test cells"),
        "performance": (bands, "the max_score of the [[performance]] bands"),
        "written": (manual, "the points of the graded markdown answers"),
    }
    found, said = [], {}
    for label, points in rows:
        key = next((k for k in wanted if label.lower().startswith(k)), None)
        number = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*", points)
        if key and number:
            said[key] = said.get(key, 0) + float(number.group(1))
    for key, (total, what) in wanted.items():
        if key in said and abs(said[key] - total) > 1e-9:
            found.append(
                Finding(
                    where,
                    f"gives {said[key]:g} points for '{key} ...' but {what} add up to {total:g}.",
                    "Make the table and the notebook agree.",
                )
            )
        elif key not in said and total:
            found.append(
                Finding(
                    where,
                    f"has no '{key} ...' row with a number, but {what} add up to {total:g}.",
                    f"Add the row '| {key} ... | {total:g} |'.",
                )
            )
    return found


def _check_written_answers(ctx: Context) -> list[Finding]:
    """Each hand-graded answer has a rubric that fits its points and is shown in its question;
    answers have one place: when the notebook holds them, the report template asks none."""
    from autograder.rubric import rubric_problems, written_answers

    found, answered = [], []
    for label, nb in ctx.sources.items():
        for answer in written_answers(nb, label):
            answered.append(answer.grade_id)
            found += [Finding(f"source/{label}", p, "See autograder/rubric.py for the format.")
                      for p in rubric_problems(answer)]  # fmt: skip
    template = ctx.assignment.config_dir / "report_template.md"
    if answered and template.is_file():
        text = template.read_text(encoding="utf-8")
        asked = re.findall(r"^(?:\*\*|#+\s*)Question \d+", text, re.M)
        if asked:
            found.append(Finding(
                f"assignments/{ctx.assignment.name}/report_template.md",
                f"asks {len(asked)} questions ('Question N' as a heading or in bold) that the "
                f"notebook's written answers ({', '.join(answered)}) already ask: students "
                "would answer twice.",
                "Keep each question in one place: point the report to the notebook's answers.",
            ))  # fmt: skip
    return found


def _check_files(ctx: Context) -> list[Finding]:
    code = "\n".join(c.source for _, _, c in ctx.cells() if c.cell_type == "code")
    named = [(f, "[assignment] files") for f in ctx.assignment.files]
    named += [(p.predictions, "[[performance]] predictions") for p in ctx.assignment.performance]
    return [
        Finding(
            f"assignments/{ctx.assignment.name}/assignment.toml",
            f"{key} names {name!r}, which no code cell of the source writes (or names).",
            f"Write {name!r} from the notebook, or correct the name.",
        )
        for name, key in named
        if name not in code
    ]


def _public_lines(cell, *, released: bool = False) -> list[str]:
    """The cell's lines a student sees: solution and hidden regions and stubs left out."""
    source = cell.source
    if not released and _nbgrader(cell).get("solution") and MARKERS["solution"][0] not in source:
        return []  # nbgrader replaces a whole answer cell without markers by the stub
    for kind in MARKERS:
        source = "\n".join(_split(source, kind)[1])
    return [
        line.rstrip() for line in source.splitlines() if line.strip() and line.strip() not in STUBS
    ]


def _roles(cell) -> tuple:
    meta = _nbgrader(cell)
    return tuple(meta.get(k) for k in ("grade_id", "grade", "solution", "locked", "points"))


def _check_release(ctx: Context) -> list[Finding]:
    found = []
    regenerate = (
        f"Run `nbgrader generate_assignment {ctx.assignment.name}` from the kit's root and "
        "commit release/."
    )
    for name, source in ctx.sources.items():
        release = ctx.releases.get(name)
        where = f"release/{name}"
        if release is None:
            found.append(Finding(where, "is missing.", regenerate))
            continue
        if len(release.cells) != len(source.cells):
            found.append(
                Finding(
                    where,
                    f"has {len(release.cells)} cells, the source {len(source.cells)}.",
                    regenerate,
                )
            )
            continue
        for number, (s, r) in enumerate(zip(source.cells, release.cells, strict=True), 1):
            same = s.cell_type == r.cell_type and _roles(s) == _roles(r)
            if not (same and _public_lines(s) == _public_lines(r, released=True)):
                found.append(
                    Finding(
                        f"{where} cell {number} ('{_nbgrader(s).get('grade_id') or s.get('id')}')",
                        "differs from the source's.",
                        regenerate,
                    )
                )
                break  # one is enough to say the release is stale
    return found


CHECKS: tuple[Callable[[Context], list[Finding]], ...] = (
    _check_clean,
    _check_parameters,
    _check_grade_ids,
    _check_roles,
    _check_records,
    _check_grading_inputs,
    _check_points,
    _check_written_answers,
    _check_files,
    _check_release,
)


def lint(assignment: Assignment) -> list[Finding]:
    """Every finding of every check on ``assignment``'s source, release and config (none: clean)."""
    ctx, found = Context(assignment), []
    for name in assignment.notebooks:
        label = f"{assignment.name}/{name}"  # as findings name it: source/<label>
        path = assignment.source_dir / name
        try:
            ctx.raw[label] = json.loads(path.read_text(encoding="utf-8"))
            with warnings.catch_warnings():  # a duplicate id is a finding of its own
                warnings.simplefilter("ignore")
                ctx.sources[label] = nbformat.reads(json.dumps(ctx.raw[label]), as_version=4)
        except (OSError, ValueError) as error:  # missing, not JSON, not a notebook
            found.append(
                Finding(
                    f"source/{label}",
                    f"cannot be read: {error}",
                    "Create it (python -m autograder new shows the layout).",
                )
            )
            continue
        release = assignment.release_dir / name
        ctx.releases[label] = nbformat.read(release, as_version=4) if release.is_file() else None
    for check in CHECKS:
        found += check(ctx)
    return found
