"""Sandbox Python of ours that the interpreter runs for a program, as if the program had
written it: torch.utils.data (app/worker/sandbox/prelude_data.py)."""

import ast
import functools
from pathlib import Path

from app.contract.settings import Limits
from app.worker.sandbox.checker import CheckedProgram, check_program

DATA_SOURCE = Path(__file__).with_name("prelude_data.py")
# What a program may import from it (the rest are its helpers).
DATA_EXPORTED = (
    "Dataset",
    "TensorDataset",
    "Subset",
    "random_split",
    "default_collate",
    "DataLoader",
)
POSITIONS = ("lineno", "col_offset", "end_lineno", "end_col_offset")


@functools.cache
def data_prelude() -> CheckedProgram:
    """prelude_data.py, checked by the program's own rules, without positions: an error in
    it (a dataset's __getitem__ raising inside the loader) points at the program's line
    that called into it, never at a line of a file the learner has not seen."""
    program = check_program(DATA_SOURCE.read_text(encoding="utf-8"), Limits())
    for node in ast.walk(program.tree):
        for position in POSITIONS:
            if hasattr(node, position):
                delattr(node, position)
    return program
