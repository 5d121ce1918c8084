"""torchviz 0.0.3 on the same programs, in this process: the graph walk and `dot -Tsvg`."""

import contextlib
import io
import time
import warnings
from typing import Any

import torch
from torchviz import make_dot

from bench.programs import Program


def torchviz_seconds(program: Program) -> float:
    """Time to draw the program's graph the torchviz way (forward and backward not counted)."""
    namespace: dict[str, Any] = {}
    # The lessons print, and one reads a non-leaf's .grad on purpose: keep the table clean.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(program.code, namespace)  # our own benchmark programs, never user input
    root = namespace[program.output]
    assert isinstance(root, torch.Tensor)
    start = time.perf_counter()
    make_dot(root).pipe(format="svg")
    return time.perf_counter() - start
