"""The bundle's manifest: what ``build`` found out about an assignment, typed, in one file.

One job: write and read ``<bundle>/expected.json``. ``build`` writes a :class:`BundleManifest`;
``grade`` (the pool size and every test's expected records), ``package`` and ``guard`` (the
tests' points and visibility, for results files written without grading) read it back through
:func:`read_manifest`, never as a raw dict. The file's format is unchanged from the untyped dict
it replaces (same keys, ``indent=1``), so bundles built before still read.

``expected.json``::

    {"assignment": "a1",
     "tests": {"<grade_id>": {"notebook": "a1.ipynb", "points": 2.0, "hidden": true,
                              "records": [{"name": "scale.out", "rtol": 1e-06, "atol": 0.0}]}},
     "performance": {"<band>": {"value": 0.91, "points": 10.0, "max_score": 10.0,
                                "output": "..."}},
     "input_pool": 8}

A bundle is written by the grader and readable by root only, so it is trusted; a missing key is
read as its default (a hand-made test bundle, or a bundle from an older kit: ``input_pool`` None).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autograder.contract import write_atomic_text

__all__ = [
    "MANIFEST_FILE",
    "BundleManifest",
    "Expected",
    "PerformanceEntry",
    "TestEntry",
    "read_manifest",
    "write_manifest",
]

MANIFEST_FILE = "expected.json"


@dataclass(frozen=True)
class Expected:
    """One expected record of a test cell, as the source solution made it at build time."""

    name: str
    rtol: float
    atol: float


@dataclass(frozen=True)
class TestEntry:
    """One autograded test cell: its notebook, points, whether it holds hidden tests, and the
    records it makes (names and tolerances, in the order the source made them)."""

    notebook: str = ""
    points: float = 0.0
    hidden: bool = False
    records: tuple[Expected, ...] = ()
    #: Partial credit: the cell's points split over its records (``metadata.kit.record_points``);
    #: None: all or nothing.
    record_points: dict[str, float] | None = None


@dataclass(frozen=True)
class PerformanceEntry:
    """What the source solution scored on one ``[[performance]]`` band, on the first draw."""

    value: float | None = None
    points: float = 0.0
    max_score: float = 0.0
    output: str = ""


@dataclass
class BundleManifest:
    """The whole manifest. ``input_pool``: draws of grading inputs; None for an older bundle."""

    assignment: str = ""
    tests: dict[str, TestEntry] = field(default_factory=dict)
    performance: dict[str, PerformanceEntry] = field(default_factory=dict)
    input_pool: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the dict ``build`` returns and writes).

        >>> test = TestEntry("a.ipynb", 2.0, False, (Expected("r", 0.0, 0.0),))
        >>> m = BundleManifest("a", {"q1": test}, input_pool=2)
        >>> m.to_dict()["tests"]["q1"]["records"]
        [{'name': 'r', 'rtol': 0.0, 'atol': 0.0}]
        >>> BundleManifest.from_dict(m.to_dict()) == m
        True
        """
        data: dict[str, Any] = {
            "assignment": self.assignment,
            "tests": {gid: asdict(t) for gid, t in self.tests.items()},
            "performance": {name: asdict(p) for name, p in self.performance.items()},
        }
        if self.input_pool is not None:
            data["input_pool"] = self.input_pool
        for test in data["tests"].values():
            test["records"] = list(test["records"])
            if test["record_points"] is None:
                del test["record_points"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleManifest:
        """The manifest of a parsed ``expected.json``; raises KeyError/TypeError on a broken one."""
        tests = {
            gid: TestEntry(
                notebook=entry.get("notebook", ""),
                points=float(entry.get("points", 0)),
                hidden=bool(entry.get("hidden")),
                records=tuple(Expected(**r) for r in entry.get("records", [])),
                record_points=entry.get("record_points"),
            )
            for gid, entry in data["tests"].items()
        }
        performance = {
            name: PerformanceEntry(**entry) for name, entry in data.get("performance", {}).items()
        }
        return cls(data.get("assignment", ""), tests, performance, data.get("input_pool"))


def write_manifest(bundle: Path, manifest: BundleManifest) -> None:
    """Write ``<bundle>/expected.json`` (atomically: a crash leaves no half-written manifest)."""
    write_atomic_text(bundle / MANIFEST_FILE, json.dumps(manifest.to_dict(), indent=1))


def read_manifest(bundle: Path) -> BundleManifest:
    """Read ``<bundle>/expected.json``.

    Raises:
        OSError: no manifest (the bundle was not built).
        ValueError, KeyError, TypeError: a manifest that is not one.
    """
    return BundleManifest.from_dict(json.loads((bundle / MANIFEST_FILE).read_text()))
