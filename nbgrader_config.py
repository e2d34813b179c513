"""nbgrader's settings for the kit: `nbgrader generate_assignment <a>` from the repository root
turns source/<a>/ into release/<a>/ (solutions and hidden tests removed, outputs cleared), and
formgrader (JupyterLab's Nbgrader menu) manages the same course for manual grading."""

import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - injected by nbgrader's config loader

# Absolute, so nbgrader never warns "root '.' is not absolute" and works from any folder. The
# gradebook follows the root: <root>/gradebook.db (ignored by git), as nbgrader's default.
c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"

# nbgrader creates its gradebook by running the `alembic` command found on PATH; started as
# `.venv/bin/jupyter lab` (venv not activated), PATH lacks the venv's bin folder and formgrader
# never loads. Put the folder of the interpreter running nbgrader (which holds alembic) first.
_bin = str(Path(sys.executable).parent)
if shutil.which("alembic") is None and (Path(_bin) / "alembic").exists():
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

# Releases are regenerated and compared with the committed copy: overwrite without asking.
c.GenerateAssignment.force = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
