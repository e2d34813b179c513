"""Gradescope's side of the kit: the ``setup.sh`` and ``run_autograder`` templates that
:mod:`autograder.package` puts in the zip, and :mod:`autograder.gradescope.run`, the grading
run ``run_autograder`` starts."""
