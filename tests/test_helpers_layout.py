"""helpers.plots and helpers.train: packages cut by job, with the public names they always had."""

import ast
import importlib
import json
import re
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["helpers.plots", "helpers.train"]

#: The project's rule: no module above about 400 lines (without a reason stated at its top).
MAX_LINES = 400


def kit_texts() -> dict[str, str]:
    """Every text of the kit that may name helpers.plots/train: Python files, notebook code
    cells, and the guides' code blocks."""
    texts = {}
    for folder in ("helpers", "autograder", "assignments", "bench", "tests"):
        for path in sorted((ROOT / folder).glob("**/*.py")):
            texts[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    for path in sorted([*ROOT.glob("source/*/*.ipynb"), *ROOT.glob("release/*/*.ipynb")]):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        texts[str(path.relative_to(ROOT))] = "\n".join(code)
    for path in [ROOT / "README.md", *ROOT.glob("assignments/*/*.md"), *ROOT.glob("docs/*.md")]:
        texts[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    return texts


def names_used(package: str, text: str) -> set[str]:
    """Names ``text`` takes from ``package``: those of ``from <package> import ...`` (also in
    parentheses over several lines), of ``<package>.<name>``, and of ``<short>.<name>`` where
    the text imports the package by its short name from helpers."""
    escaped = re.escape(package)
    found = set()
    for group in re.findall(rf"from {escaped} import (\([^)]*\)|[^\n]*)", text):
        for item in re.sub(r"#[^\n]*", "", group).strip("()").split(","):
            if item.strip():
                found.add(item.split(" as ")[0].strip())
    found |= set(re.findall(rf"\b{escaped}\.(\w+)", text))
    short = package.rsplit(".", 1)[1]
    if re.search(rf"from helpers import [^\n]*\b{short}\b", text):
        found |= set(re.findall(rf"(?<![\w.]){short}\.(\w+)", text))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_the_kit_uses_is_still_public(package):
    """Does every name that notebooks, guides, helpers.demo and Python files take from the
    package still come from `<package>` itself (or name one of its modules)?"""
    module = importlib.import_module(package)
    submodules = {p.stem for p in Path(module.__file__).parent.glob("*.py")} - {"__init__"}
    used = {
        (name, where)
        for where, text in kit_texts().items()
        if not where.startswith(package.replace(".", "/") + "/")
        for name in names_used(package, text)
    }
    assert {"fit", "plot_history"} & {name for name, _ in used}, "found no importer: check paths"
    for name, where in sorted(used):
        if name in submodules:
            continue
        assert name in module.__all__, f"{where} uses {package}.{name}, not in __all__"
    for name in module.__all__:
        # a module named like a function (train/fit.py) would shadow it: `helpers.train.fit`
        # must stay the function notebooks call
        value = getattr(module, name)
        assert not isinstance(value, types.ModuleType), f"{package}.{name} is a module"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_has_one_stated_job_and_stays_short(package):
    """Is the package cut into modules that each say their job and stay under ~400 lines?"""
    init = Path(importlib.import_module(package).__file__)
    assert init.name == "__init__.py", f"{package} is still one module: {init}"
    modules = sorted(init.parent.glob("*.py"))
    assert len(modules) > 2
    for path in modules:
        source = path.read_text(encoding="utf-8")
        lines = source.count("\n")
        assert lines <= MAX_LINES, f"{path.name} has {lines} lines (most: {MAX_LINES})"
        assert ast.get_docstring(ast.parse(source)), f"{path.name} has no module docstring"
