"""nbgrader's settings for the kit: `nbgrader generate_assignment <a>` from the repository root
turns source/<a>/ into release/<a>/ (solutions and hidden tests removed, outputs cleared)."""

c = get_config()  # noqa: F821 - injected by nbgrader's config loader

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
# The kit grades with its own autograder; nbgrader's gradebook is only its working state.
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# The same as `--no-db`: no gradebook entry and no saved cells (which would need alembic on PATH).
c.GenerateAssignment.no_database = True
c.SaveCells.enabled = False
# Releases are regenerated and compared with the committed copy: overwrite without asking.
c.GenerateAssignment.force = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
