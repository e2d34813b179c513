"""Old name of :mod:`helpers.grading`, kept so that notebooks written with
``from autograder.record import grading_input, record`` still run.

Everything lives in :mod:`helpers.grading` (the student wheel's grading module, which never
imports ``autograder``); new notebooks import from there.
"""

from helpers.grading import (
    ASSIGNMENT_DIR_ENV,
    GRADING_ENV,
    INPUTS_DIR_ENV,
    NAME_PATTERN,
    RECORD_DIR_ENV,
    RECORD_MIMETYPE,
    RecordError,
    find_assignment_dir,
    grading_input,
    public_draw,
    read_hidden_inputs,
    record,
    save_predictions,
    to_recordable,
)

__all__ = [
    "ASSIGNMENT_DIR_ENV",
    "GRADING_ENV",
    "INPUTS_DIR_ENV",
    "NAME_PATTERN",
    "RECORD_DIR_ENV",
    "RECORD_MIMETYPE",
    "RecordError",
    "find_assignment_dir",
    "grading_input",
    "public_draw",
    "read_hidden_inputs",
    "record",
    "save_predictions",
    "to_recordable",
]
