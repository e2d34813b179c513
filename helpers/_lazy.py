"""Lazy package exports (PEP 562): a package's public names, imported on first use.

``from helpers.data import fashion_mnist`` works as before, but ``import helpers.data.hidden``
no longer runs every sibling module: the grader reads hidden labels and scores predictions
without importing torch (about 400 MB of a Gradescope container's 768 MB). Written by hand:
scientific-python's ``lazy_loader`` does the same in more lines and is not among the pins.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(
    package: str, table: dict[str, list[str]]
) -> tuple[list[str], Callable[[str], object], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for ``package``, whose public names live in modules.

    Args:
        package: the package's ``__name__``.
        table: ``{submodule: [names it exports]}``; a submodule is imported when one of its
            names is first read, and the name is then an ordinary attribute of the package.

    >>> __all__, get, _ = lazy_exports("json", {"decoder": ["JSONDecodeError"]})
    >>> get("JSONDecodeError").__name__, __all__
    ('JSONDecodeError', ['JSONDecodeError'])
    """
    where = {name: module for module, names in table.items() for name in names}
    exported = sorted(where)

    def __getattr__(name: str) -> object:  # noqa: N807 (the PEP 562 hook's name)
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        setattr(importlib.import_module(package), name, value)  # next reads skip this call
        return value

    def __dir__() -> list[str]:  # noqa: N807 (the PEP 562 hook's name)
        return sorted(set(exported) | set(vars(importlib.import_module(package))))

    return exported, __getattr__, __dir__
