"""Library answers withheld while a hidden test runs a student's function.

An exercise such as "write average precision" has a one-line answer in the kit itself
(``helpers.metrics.average_precision``) and in scikit-learn. A hidden test therefore calls the
student's function inside :func:`withheld`::

    with withheld("average precision"):
        value = average_precision_one_class(scores, targets)

and every library function that computes that answer raises a plain ``RuntimeError`` for the
duration of the block, wherever the student's code reached it from.

How: each withheld function keeps its identity but has its ``__code__`` swapped for code that
raises, and back afterwards. Swapping the code, rather than rebinding names in the notebook's
globals and in loaded modules, also catches every alias the student made (``ap =
average_precision``, a default argument, a closure, ``functools.partial``, a list) without
searching for it. ``__wrapped__`` chains (scikit-learn's parameter validation) are followed.

The limit, plainly: this is a guard against wrappers, not a sandbox. Code that copies the
library's source into its cell, loads a fresh copy of the library's module (``importlib.reload``
of it and of the modules it imports from, or a new import after deleting it from
``sys.modules``), or keeps a function's code object and puts it back inside the block, still
runs the library's algorithm; such code is in the submitted notebook, where the TA sees it.

This module is part of the student wheel and never imports :mod:`autograder`.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType, FunctionType

__all__ = ["WITHHELD_ANSWERS", "withheld", "withheld_functions"]

# answer -> (module, pattern of function names): the functions that compute that answer; a
# method of a class the module defines is named ``Class.method``.
# Third-party modules are withheld when they are installed (a course machine may lack them).
WITHHELD_ANSWERS: dict[str, tuple[tuple[str, str], ...]] = {
    "average precision": (
        ("helpers.metrics.ranking", r"average_precision|mean_average_precision"),
        ("helpers.metrics.ranking_numpy", r"_average_precision_compute|_voc07_average_precision_"
                                          r"compute|mean_average_precision_of_arrays|_rank"),
        ("helpers.metrics.segmentation_numpy", r"average_precision_from_histograms"),
        ("sklearn.metrics", r"average_precision_score|precision_recall_curve"),
        ("sklearn.metrics._ranking", r"_binary_clf_curve"),
        ("torchmetrics.functional.classification.average_precision", r".*average_precision.*"),
        ("torchmetrics.functional.classification.precision_recall_curve",
         r".*precision_recall_curve.*"),
    ),
    "confusion matrix": (
        ("helpers.metrics.classification",  # the last one counts for SegmentationEvaluator
         r"confusion_matrix|iou_from_confusion_matrix|_confusion_matrix_update"),
        ("helpers.metrics.segmentation_numpy",  # the grader's NumPy counts, a method included
         r"iou_from_confusion_matrix_of_arrays|QuantisedSegmentationCounts\.update"),
        ("sklearn.metrics", r"confusion_matrix|jaccard_score|multilabel_confusion_matrix"),
        ("torchmetrics.functional.classification.confusion_matrix", r".*confusion_matrix.*"),
        ("torchmetrics.functional.classification.jaccard", r".*jaccard.*"),
    ),
}  # fmt: skip


def _installed(module: str) -> bool:
    """Whether ``module`` is loaded or could be (a missing top-level package is not an error)."""
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def withheld_functions(answer: str) -> list[FunctionType]:
    """The Python functions that compute ``answer`` (a key of :data:`WITHHELD_ANSWERS`).

    Modules that are installed but not loaded are imported here, once per process (scikit-learn
    about 0.6 s, torchmetrics about 1.5 s): a student's function that imported one only when
    called would otherwise get fresh, unguarded functions.
    """
    if answer not in WITHHELD_ANSWERS:
        raise KeyError(f"no withheld answer {answer!r}; known: {sorted(WITHHELD_ANSWERS)}")
    found: dict[int, FunctionType] = {}
    for module_name, pattern in WITHHELD_ANSWERS[answer]:
        if not _installed(module_name):
            continue
        module = importlib.import_module(module_name)
        named = dict(vars(module))
        for owner in list(named.values()):
            if isinstance(owner, type) and owner.__module__ == module_name:
                named.update({f"{owner.__name__}.{k}": v for k, v in vars(owner).items()})
        for name, value in named.items():
            while isinstance(value, FunctionType) and re.fullmatch(pattern, name):
                found[id(value)] = value
                value = getattr(value, "__wrapped__", None)  # the function a decorator wraps
    return list(found.values())


def _raising_code(function: FunctionType, message: str) -> CodeType:
    """Code that raises ``RuntimeError(message)`` and fits ``function``'s closure.

    A function's ``__code__`` can only be replaced by code with as many free variables as its
    closure has cells, so the raising function is compiled inside one that defines the same
    names (their values are never read).
    """
    free = function.__code__.co_freevars
    names = "".join(f"{n}, " for n in free)
    source = (
        "def _outer():\n"
        + (f"    {names}= (None,) * {len(free)}\n" if free else "")
        + "    def withheld(*args, **kwargs):\n"
        + f"        raise RuntimeError({message!r})\n"
        + (f"        ({names})\n" if free else "")  # makes the names free variables here
        + "    return withheld\n"
    )
    namespace: dict = {}
    exec(compile(source, f"<withheld {function.__qualname__}>", "exec"), namespace)
    code = namespace["_outer"]().__code__
    return code.replace(co_name=function.__code__.co_name)


@contextmanager
def withheld(answer: str) -> Iterator[None]:
    """Inside the block, every library function that computes ``answer`` raises.

    Args:
        answer: a key of :data:`WITHHELD_ANSWERS` ("average precision", "confusion matrix").

    The message names the function and says what to do instead. The functions are restored on
    leaving the block, also when it raises.
    """
    functions = withheld_functions(answer)
    saved = [(f, f.__code__) for f in functions]
    try:
        for function in functions:
            where = f"{function.__module__}.{function.__qualname__}"
            function.__code__ = _raising_code(
                function,
                f"This exercise asks you to compute the {answer} yourself: the library's "
                f"{where} is not available inside this test (it raises here). Write it with "
                "NumPy or torch operations, as the exercise's hints describe; you can do it!",
            )
        yield
    finally:
        for function, code in saved:
            function.__code__ = code
