"""Hiding paths by file permissions, counted across every grader on the machine.

Where namespaces are refused, a hidden path is protected by taking its "other" permission bits
away (:func:`hide_by_permissions`) and given its mode back by the last run that holds it
(:func:`release_hidden_path`). The holds live in one root-only record per machine, guarded by
``flock`` (:func:`_hidden_paths_record`), so batch workers in other processes share it, and
holds of graders that died are dropped on every read.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from autograder.sandbox.isolation import IsolationUnavailableError
from autograder.sandbox.paths import _private_root_dir

log = logging.getLogger(__name__)

#: Root's record of the paths hidden by file permissions (in :func:`_private_root_dir`), shared
#: by every grader on the machine, and the lock file that guards it.
HIDDEN_STATE_FILE = "hidden.json"
HIDDEN_STATE_LOCK = "hidden.lock"


def _process_start(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/PID/stat`` field 22);
    None when it is gone. With the pid it names one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The name (field 2) may hold spaces and parentheses: count fields after its last ")".
    fields = data[data.rfind(b")") + 2 :].split()
    return int(fields[19]) if len(fields) > 19 else None


def _holder_alive(holder: object) -> bool:
    """Is the grader that recorded ``holder`` ([pid, start time, token]) still running?"""
    if not isinstance(holder, list) or len(holder) != 3 or not isinstance(holder[0], int):
        return False
    return _process_start(holder[0]) == holder[1]


@contextlib.contextmanager
def _hidden_paths_record() -> Iterator[dict]:
    """The machine's record of paths hidden by permissions, locked for the ``with`` block.

    ``{path: {"mode": original mode, "holders": [[pid, start, token], ...]}}``, in a root-only
    file guarded by ``flock`` (graders in other processes: batch workers). Holds of graders that
    died are released on every read: once none is left, the path gets its mode back. Written
    back (atomically) only when the block ends without an exception.
    """
    folder = _private_root_dir()
    lock = os.open(
        folder / HIDDEN_STATE_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / HIDDEN_STATE_FILE
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            record = {}
        except (OSError, ValueError) as exc:
            log.error("the record of hidden paths %s is unreadable (%s): starts afresh", path, exc)
            record = {}
        if not isinstance(record, dict):
            record = {}
        for name in list(record):
            entry = record[name]
            if not isinstance(entry, dict) or not isinstance(entry.get("mode"), int):
                log.error("dropped a malformed entry for %s in %s", name, path)
                del record[name]
                continue
            holders = entry.get("holders")
            holders = holders if isinstance(holders, list) else []
            entry["holders"] = [h for h in holders if _holder_alive(h)]
            if not entry["holders"]:  # every grader that hid it died: give its mode back
                _give_mode_back(Path(name), entry["mode"])
                del record[name]
        yield record
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".hidden-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(temporary, path)
    finally:
        os.close(lock)


def _give_mode_back(path: Path, mode: int) -> None:
    try:
        os.chmod(path, mode)
    except FileNotFoundError:
        pass  # removed meanwhile: nothing left to open
    except OSError as exc:
        log.error("could not give %s its mode %o back: %s", path, mode, exc)


def hide_by_permissions(path: Path, uid: int, gid: int, holder: list) -> bool:
    """Take the "other" bits from ``path`` for the run ``holder`` ([pid, start time, token]);
    False when ``path`` does not exist.

    Counted across graders: the first to hide a path records its mode, later ones add their
    hold; the mode closed is always the recorded one less the "other" bits (never a mode another
    run already closed). Raises :class:`IsolationUnavailableError` for a path of the kernel user
    (``uid``/``gid``), which permissions cannot keep from it.
    """
    with _hidden_paths_record() as record:
        if not path.exists():
            return False
        info = path.stat()
        if info.st_uid == uid or info.st_gid == gid:
            raise IsolationUnavailableError(
                f"Cannot hide {path}: it belongs to the kernel user, and without a mount "
                "namespace only file permissions protect it."
            )
        entry = record.setdefault(str(path), {"mode": stat.S_IMODE(info.st_mode), "holders": []})
        entry["holders"].append(holder)
        os.chmod(path, entry["mode"] & ~0o007)
    return True


def release_hidden_path(path: Path, holder: list) -> None:
    """Drop ``holder``'s hold on ``path``; the last hold's release gives ``path`` its mode."""
    with _hidden_paths_record() as record:
        entry = record.get(str(path))
        if entry is None or holder not in entry["holders"]:
            log.error("%s was not recorded as hidden by this run; its mode is left as it is", path)
            return
        entry["holders"].remove(holder)
        if not entry["holders"]:
            _give_mode_back(path, entry["mode"])
            del record[str(path)]
