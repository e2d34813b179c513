"""The grading contract, as the grader sees it: a re-export of :mod:`helpers.contract`.

The contract lives in ``helpers`` because notebooks (and the student wheel) import only
``helpers``; grader modules import it from here or from there alike.
"""

from helpers.contract import *  # noqa: F403
from helpers.contract import __all__  # noqa: F401
