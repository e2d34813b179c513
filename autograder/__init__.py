"""The autograder: assemble, execute (papermill), score, report, package, batch.

Entry point: ``python -m autograder --help``.
"""

__version__ = "0.1.0"
