"""Read an LMS export zip into one folder per submission, safely.

Supported layouts (read from the zip's member names, never from a file the export carries code in):

- **Gradescope** "Download Submissions" (Review Grades page): an optional top folder
  (``assignment_<id>_export/``) holding ``submission_metadata.yml`` and one folder per submission,
  ``submission_<id>/``, with the files as the student uploaded them. The YAML maps each folder
  name to ``:submitters`` (a list of ``:name``, ``:sid``, ``:email``) and ``:created_at``; it is
  read with ``yaml.safe_load`` (plain data, no objects).
- **Canvas** "Download Submissions": flat files named
  ``<student>_<user id>_<submission id>_<original name>`` (``<student>_late_<user id>_...`` for a
  late one; Canvas may add ``-1``, ``-2`` to the original name of a re-upload). All files of one
  user id make one submission.
- **Moodle** "Download all submissions": ``<Full Name>_<participant id>_assignsubmission_file_``
  either as a folder holding the original files or as a prefix of each flat file name.

Anything else (a zip of plain folders or notebooks) is read as "one top-level folder or notebook
per submission".

Safety: no member may be absolute, contain ``..`` or a drive, or be a link (the Unix mode in
``external_attr``); at most ``MAX_MEMBERS`` members, ``MAX_FILE_BYTES`` per file and
``MAX_TOTAL_BYTES`` in all, counted while decompressing (a zip's declared sizes can lie); names
become safe folder names. Files are written by this process only, with ``O_EXCL`` and without
following links, into a folder it has just created.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

__all__ = ["ExportError", "Unpacked", "safe_name", "unpack_export"]

MAX_MEMBERS = 20_000
MAX_FILE_BYTES = 512 * 2**20  # one file (trained weights can be large)
MAX_TOTAL_BYTES = 8 * 2**30  # the whole export, decompressed
MAX_METADATA_BYTES = 16 * 2**20
_CHUNK = 1 << 20

CANVAS = re.compile(r"^(?P<student>[^_/]+)_(?:late_|LATE_)?(?P<uid>\d+)_(?P<sub>\d+)_(?P<name>.+)$")
MOODLE = re.compile(r"^(?P<student>[^/]+?)_(?P<pid>\d+)_assignsubmission_[a-z]+_(?P<name>.*)$")
GRADESCOPE_FOLDER = re.compile(r"^submission_\d+$")


class ExportError(ValueError):
    """The export zip is unreadable, unsafe or too large."""


@dataclass
class Unpacked:
    """What an export held: ``folders`` maps a submission's name to its folder, ``students``
    the same name to who submitted it (names as the export gives them), ``layout`` says which
    layout was read, ``skipped`` the members left out and why."""

    layout: str
    folders: dict[str, Path] = field(default_factory=dict)
    students: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def safe_name(text: str, limit: int = 80) -> str:
    """A folder name made of ``text``: letters, digits, ``.-_`` only, never ``.``/``..``.

    >>> safe_name("Doe, Jane/../x"), safe_name(".."), safe_name("submission_123")
    ('Doe_Jane_.._x', '_', 'submission_123')
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:limit] or "_"
    return "_" if set(name) <= {"."} else name


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath:
    """The member's path, checked: relative, no ``..``, no drive, not a link."""
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name) or "\0" in name:
        raise ExportError(
            f"The zip member {info.filename!r} points outside the export (absolute path or '..'). "
            "Download the export again from the LMS; do not repack it by hand."
        )
    mode = info.external_attr >> 16
    if mode and stat.S_ISLNK(mode):
        raise ExportError(
            f"The zip member {info.filename!r} is a symbolic link; exports never hold links. "
            "Download the export again from the LMS."
        )
    return path


def _members(archive: zipfile.ZipFile) -> list[tuple[PurePosixPath, zipfile.ZipInfo]]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ExportError(
            f"The export holds {len(infos):,} files; at most {MAX_MEMBERS:,} are read."
        )
    files = []
    for info in infos:
        path = _member_path(info)
        if info.is_dir() or path.name == "" or path.parts[0] == "__MACOSX":
            continue
        if path.name.startswith("._") or path.name == ".DS_Store":
            continue
        files.append((path, info))
    return files


class _Budget:
    """Bytes left to decompress, over the whole export (a zip bomb stops here)."""

    def __init__(self) -> None:
        self.left = MAX_TOTAL_BYTES

    def take(self, n: int, member: str) -> None:
        self.left -= n
        if self.left < 0:
            raise ExportError(
                f"The export decompresses to more than {MAX_TOTAL_BYTES / 2**30:g} GiB "
                f"(stopped at {member!r}); grade it in parts or raise MAX_TOTAL_BYTES."
            )


def _extract(archive, info, folder: Path, inner: tuple[str, ...], budget: _Budget) -> None:
    """Copy one member into ``folder/<inner>`` (a new regular file), counting real bytes.

    Sub-folders are kept (a submission may keep its weights in one); every part is made a safe
    name, and only folders this function creates are entered, so no link can be followed.
    """
    *parents, name = (safe_name(part, limit=200) for part in inner)
    for part in parents:
        folder = folder / part
        folder.mkdir(exist_ok=True)
        if folder.is_symlink() or not folder.is_dir():
            raise ExportError(f"The zip member {info.filename!r} clashes with another member.")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        fd = os.open(name, flags, 0o644, dir_fd=dir_fd)
    except FileExistsError:
        os.close(dir_fd)
        return  # the same name twice in one submission: the first one is kept
    os.close(dir_fd)
    written = 0
    with os.fdopen(fd, "wb") as out, archive.open(info) as src:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            budget.take(len(chunk), info.filename)
            if written > MAX_FILE_BYTES:
                raise ExportError(
                    f"The zip member {info.filename!r} is larger than "
                    f"{MAX_FILE_BYTES / 2**20:g} MiB; a submission file should not be."
                )
            out.write(chunk)


def _new_folder(dest: Path, name: str, taken: dict[str, Path]) -> tuple[str, Path]:
    base, n = safe_name(name), 1
    key = base
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    folder = dest / key
    folder.mkdir(parents=True, exist_ok=False)
    taken[key] = folder
    return key, folder


def _strip_common_top(files):
    """Drop one top folder that every member shares (``assignment_123_export/``)."""
    tops = {p.parts[0] for p, _ in files if len(p.parts) > 1}
    if len(tops) == 1 and (GRADESCOPE_FOLDER.match(top := next(iter(tops))) or MOODLE.match(top)):
        return files  # an export of one submission: its folder is the submission
    if len(tops) == 1 and all(len(p.parts) > 1 for p, _ in files):
        return [(PurePosixPath(*p.parts[1:]), i) for p, i in files]
    return files


def _gradescope_students(archive, files) -> dict[str, str]:
    meta = [(p, i) for p, i in files if p.parts == ("submission_metadata.yml",)]
    if not meta:
        return {}
    _, info = meta[0]
    if info.file_size > MAX_METADATA_BYTES:
        raise ExportError("submission_metadata.yml is larger than 16 MiB; it cannot be right.")
    with archive.open(info) as f:
        text = f.read(MAX_METADATA_BYTES + 1)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ExportError(f"submission_metadata.yml is not valid YAML: {error}") from None
    students = {}
    for folder, entry in data.items() if isinstance(data, dict) else ():
        submitters = entry.get(":submitters", []) if isinstance(entry, dict) else []
        names = [
            str(s.get(":name") or s.get(":sid") or s.get(":email") or "")
            for s in submitters
            if isinstance(s, dict)
        ]
        students[str(folder)] = "; ".join(n for n in names if n)
    return students


Member = tuple[str, tuple[str, ...], str | None]  # (submission key, path inside it, student)


def _gradescope_member(path: PurePosixPath) -> Member | None:
    return (path.parts[0], path.parts[1:], None) if len(path.parts) > 1 else None


def _moodle_member(path: PurePosixPath) -> Member | None:
    match = MOODLE.match(path.parts[0])
    if not match:
        return None
    return (
        f"{match['student']}_{match['pid']}",
        path.parts[1:] or (match["name"],),
        match["student"],
    )


def _canvas_member(path: PurePosixPath) -> Member | None:
    match = CANVAS.match(path.name) if len(path.parts) == 1 else None
    if not match:
        return None
    return f"{match['student']}_{match['uid']}", (match["name"],), match["student"]


def _folders_member(path: PurePosixPath) -> Member | None:
    if len(path.parts) > 1:
        return path.parts[0], path.parts[1:], None
    return (path.stem, (path.name,), None) if path.name.endswith(".ipynb") else None


def _is_gradescope(names: list[PurePosixPath]) -> bool:
    if any(p.parts == ("submission_metadata.yml",) for p in names):
        return True
    nested = [p for p in names if len(p.parts) > 1]
    return bool(nested) and all(GRADESCOPE_FOLDER.match(p.parts[0]) for p in nested)


#: The layouts, tried in this order: (name, does the export look like it, member -> submission).
LAYOUTS = (
    ("gradescope", _is_gradescope, _gradescope_member),
    ("moodle", lambda names: any(MOODLE.match(p.parts[0]) for p in names), _moodle_member),
    ("canvas", lambda names: any(_canvas_member(p) for p in names), _canvas_member),
    ("folders", lambda names: True, _folders_member),
)


def unpack_export(zip_path: Path, dest: Path) -> Unpacked:
    """Unpack the export ``zip_path`` into ``dest/<submission>/`` (``dest`` must not exist).

    Raises :class:`ExportError` with what was wrong and what to do when the zip is unreadable,
    unsafe or too large; ``dest`` may then hold part of the export (the caller removes it).
    """
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ExportError(
            f"{zip_path} is not a readable zip ({error}). Download the export again."
        ) from None
    with archive:
        files = _strip_common_top(_members(archive))
        names = [p for p, _ in files]
        layout, _, to_submission = next(entry for entry in LAYOUTS if entry[1](names))
        result = Unpacked(layout)
        students = _gradescope_students(archive, files) if layout == "gradescope" else {}
        groups: dict[str, list[tuple[tuple[str, ...], zipfile.ZipInfo]]] = {}
        for path, info in files:
            if path.parts == ("submission_metadata.yml",):
                continue
            member = to_submission(path)
            if member is None:
                result.skipped.append(f"{path} (not a {layout} submission file)")
                continue
            key, inner, student = member
            groups.setdefault(key, []).append((inner, info))
            if student:
                students[key] = student
        Path(dest).mkdir(parents=True, exist_ok=False)
        budget, taken = _Budget(), {}
        for key in sorted(groups):
            name, folder = _new_folder(Path(dest), key, taken)
            result.folders[name] = folder
            result.students[name] = students.get(key, "")
            for inner, info in groups[key]:
                _extract(archive, info, folder, inner, budget)
    return result
