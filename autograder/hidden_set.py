"""The bundle's private inputs: the pool of grading-input draws and the hidden test set.

One job: at ``build`` time, write ``draws/<k>/inputs/`` (the assignment's ``grading_inputs.py``
run on a seed drawn from the bundle's secret, told apart per draw) and ``hidden/`` (the hidden
test set, clean, with ``redraw.json`` naming the transform each run's copy gets; see
:func:`autograder.workfolder.hidden_inputs_for_run`).

Private settings live in ``assignments/<a>/private.toml``, which git ignores and which only the
instructor has::

    [hidden_data]
    seed = 8734512                      # the hidden set's shuffle and subset
    generate_seed = 5117960381260728011  # the synthetic tree of ``[hidden_data] generate``

Why a file and not only :mod:`secrets`: a course that rebuilds its bundle (a fix to a test, a
new Gradescope upload) keeps the same hidden images, so grades of the term stay comparable, and
the committed ``assignment.toml`` still holds nothing secret. Without the file, build draws the
seeds from :mod:`secrets`, writes them nowhere and says so: right for a local try, wrong for a
term (every build is another hidden set).

``$KIT_PRIVATE_DIR`` moves the file out of the kit: ``$KIT_PRIVATE_DIR/<a>/private.toml`` is
read instead (a course whose kit is a public repository keeps its seeds with its other secrets;
the test suite pins the hidden trees it scores the references on).
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import tempfile
import tomllib
from pathlib import Path

import numpy as np

from autograder.config import Assignment, ConfigError

__all__ = [
    "MIN_GENERATE_SEED",
    "PRIVATE_DIR_ENV",
    "PRIVATE_FILE",
    "REDRAW_FILE",
    "SECRET_BYTES",
    "draw_grading_inputs",
    "prepare_hidden_data",
    "private_settings_path",
    "read_private_settings",
]

#: In the bundle's ``hidden/``: which transform each run's copy of the inputs gets.
REDRAW_FILE = "redraw.json"
SECRET_BYTES = 32
#: The instructor-only settings file in ``assignments/<a>/`` (git-ignored).
PRIVATE_FILE = "private.toml"
#: A folder laid out like ``assignments/`` whose ``<a>/private.toml`` is read instead.
PRIVATE_DIR_ENV = "KIT_PRIVATE_DIR"
#: The smallest ``generate_seed`` accepted. Every scene depends only on (seed, number) and the
#: kernel sees the hidden JPEGs byte for byte, so a small seed can be found by rendering one
#: image per candidate (6.8 ms each: a 6-digit seed in about an hour on one core) and the tree
#: with its labels rebuilt inside the kernel. 2**40 candidates take centuries; draw 63 bits.
MIN_GENERATE_SEED = 2**40


def _draw_seed(secret: bytes, draw: int) -> np.random.SeedSequence:
    """Draw ``draw``'s seed: the bundle's secret, told apart per draw by NumPy's spawn key."""
    return np.random.SeedSequence(int.from_bytes(secret, "big"), spawn_key=(draw,))


def draw_grading_inputs(assignment: Assignment, secret: bytes, draws: Path) -> list[dict]:
    """Write ``draws/<k>/inputs/`` for every draw of the pool; returns each draw's inputs."""
    pool: list[dict] = []
    module = None
    if assignment.grading_inputs:
        path = assignment.config_dir / assignment.grading_inputs
        spec = importlib.util.spec_from_file_location(f"_kit_inputs_{assignment.name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    for draw in range(assignment.input_pool):
        target = draws / str(draw) / "inputs"
        target.mkdir(parents=True)
        inputs = {}
        if module is not None:
            rng = np.random.default_rng(_draw_seed(secret, draw))
            inputs = {k: np.asarray(v) for k, v in module.make_inputs(rng).items()}
        for name, value in inputs.items():
            np.save(target / f"{name}.npy", value, allow_pickle=False)
        pool.append(inputs)
    return pool


def private_settings_path(assignment: Assignment) -> Path:
    """Where ``assignment``'s private settings are read: ``$KIT_PRIVATE_DIR/<a>/private.toml``
    when that variable is set, else ``assignments/<a>/private.toml``.

    Raises:
        ConfigError: ``$KIT_PRIVATE_DIR`` is not an absolute path.
    """
    folder = os.environ.get(PRIVATE_DIR_ENV)
    if folder:
        if not Path(folder).is_absolute():
            # build and grade may run from different folders: a relative one would name two.
            raise ConfigError(
                f"{PRIVATE_DIR_ENV}={folder!r} is a relative path; give the folder's absolute "
                f"path, e.g. {PRIVATE_DIR_ENV}={Path(folder).absolute()}."
            )
        return Path(folder) / assignment.config_dir.name / PRIVATE_FILE
    return assignment.config_dir / PRIVATE_FILE


def read_private_settings(assignment: Assignment) -> dict:
    """The ``[hidden_data]`` table of :func:`private_settings_path`; ``{}`` without the file.

    Raises:
        ConfigError: the file is not valid TOML, or holds other keys or types than
            ``seed`` and ``generate_seed`` (integers).
    """
    path = private_settings_path(assignment)
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}.") from error
    table = data.get("hidden_data", {})
    unknown = set(data) - {"hidden_data"} | set(table) - {"seed", "generate_seed"}
    if unknown or not all(type(v) is int for v in table.values()):
        raise ConfigError(
            f"{path}: expected only [hidden_data] with integer seed and generate_seed; "
            f"found {sorted(unknown) or table}."
        )
    return table


def _readable_by_others(path: Path) -> bool:
    """Whether every user of the machine may read ``path`` (the kernel's user among them)."""
    return bool(path.stat().st_mode & 0o004)


def _throwaway_seed(assignment: Assignment, key: str, notes: list[str]) -> int:
    notes.append(
        f"{private_settings_path(assignment)} has no [hidden_data] {key}: this build drew a "
        "throwaway one, so the next build makes another hidden set. Fine for a try; for a term "
        f"put e.g. `{key} = {secrets.randbits(63)}` there (the file is git-ignored)."
    )
    return secrets.randbits(63)


def prepare_hidden_data(assignment: Assignment, target: Path) -> list[str]:
    """Write the bundle's hidden set into ``target``: ``inputs/`` untransformed, ``labels/``,
    and ``redraw.json`` naming the transform that every run's copy gets (``_run_in``).

    With ``generate = { test = N, size = S }`` (synthetic scenes), first writes a tree of N
    images of S x S pixels from the private ``generate_seed`` into a temporary folder, which goes
    once the hidden set is written.

    Returns:
        Notices for the instructor (a private seed that was missing), one sentence each.
    """
    notes: list[str] = []
    if not assignment.hidden_data:
        return notes
    from helpers.data.hidden import prepare_hidden_split

    private = read_private_settings(assignment)
    if private and _readable_by_others(private_settings_path(assignment)):
        notes.append(
            f"{private_settings_path(assignment)} can be read by other users of this machine, "
            "and a notebook graded here runs as another user: with the seed it could draw the "
            "hidden set and its labels. `chmod 600` it (and keep it out of shared folders)."
        )
    spec = dict(assignment.hidden_data)
    dataset = spec.pop("dataset")
    generate = spec.pop("generate", None)
    # The private seed wins over a committed one. A seed neither gives is drawn from secrets and
    # written nowhere, so the subset (limit) cannot be reproduced from public files.
    if "seed" in private:
        spec["seed"] = private["seed"]
    spec.setdefault("seed", secrets.randbits(64))
    limit = spec.pop("limit", 0) or None
    if "root" in spec:  # relative to the kit's root, like every other path in the config
        spec["root"] = assignment.root / spec["root"]
    # The bundle keeps the images clean: each run noises its own copy from them (noise added
    # to noised images would pile up). transform_seed no longer applies: every run draws one.
    transform = spec.pop("transform", "none")
    spec.pop("transform_seed", None)
    with tempfile.TemporaryDirectory(prefix="kit-hidden-tree-") as scratch:
        if generate is not None:
            from helpers.data.synthetic import make_synthetic_voc

            tree_seed = private.get("generate_seed")
            if tree_seed is None:
                tree_seed = _throwaway_seed(assignment, "generate_seed", notes)
            elif not MIN_GENERATE_SEED <= tree_seed < 2**63:
                raise ConfigError(
                    f"{private_settings_path(assignment)}: generate_seed = {tree_seed} can be "
                    "guessed: a notebook could try seeds until one renders a hidden image and then "
                    "draw the whole tree with its labels. Use a random one of 63 bits, e.g. "
                    f"generate_seed = {secrets.randbits(63)} (python -c 'import secrets; "
                    "print(secrets.randbits(63))')."
                )
            size = generate.get("size", 128)
            spec["root"] = make_synthetic_voc(
                Path(scratch) / "tree", seed=tree_seed, train=0, val=0,
                test=generate["test"], size=size,
            )  # fmt: skip
            spec["split"] = "test"
        prepare_hidden_split(dataset, target / "inputs", target / "labels", limit=limit, **spec)
    (target / REDRAW_FILE).write_text(json.dumps({"transform": transform}))
    return notes
