"""A program's warnings do not depend on what the worker ran before (no 1-bit leak)."""

import json
import subprocess
import sys
from pathlib import Path

from app.contract.schemas import GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate

# `x.T` of a 3-d tensor warns once per process in PyTorch (TORCH_WARN_ONCE).
WARNS_ONCE = (
    "import torch\nx = torch.ones(2, 3, 4, requires_grad=True)\ny = x.T\nz = (y * 2).sum()\n"
)
OTHER = "import torch\nw = torch.ones(3, requires_grad=True)\nv = (w * w.T).sum()\n"
ROOT = Path(__file__).resolve().parents[2]


def warnings_of(code: str) -> list[str]:
    return evaluate(GraphRequest(code=code), Limits()).warnings


def test_same_program_same_warnings_whatever_ran_before() -> None:
    first = warnings_of(WARNS_ONCE)
    warnings_of(OTHER)
    again = warnings_of(WARNS_ONCE)
    assert first == again
    assert any("x.T" in warning for warning in first)


def test_warnings_are_those_of_a_fresh_process() -> None:
    warnings_of(WARNS_ONCE)
    script = (
        "import json, sys\n"
        "from app.worker.evaluate import evaluate\n"
        "from app.contract.schemas import GraphRequest\n"
        "from app.contract.settings import Limits\n"
        "print(json.dumps(evaluate(GraphRequest(code=sys.argv[1]), Limits()).warnings))\n"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", script, WARNS_ONCE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(fresh.stdout.splitlines()[-1]) == warnings_of(WARNS_ONCE)
