"""Python builtins whose cost depends on their arguments' values answer quickly, as Python."""

import keyword
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from app.contract.errors import ProgramError
from app.contract.schemas import GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate


def run_stdout(code: str) -> str:
    started = time.monotonic()
    graph = evaluate(GraphRequest(code=code), Limits())
    assert time.monotonic() - started < 2
    return graph.stdout


def test_round_to_far_negative_digits_is_zero_without_the_power_of_ten() -> None:
    code = (
        "import torch\n"
        "print(round(1, -10**9), round(-7, -10**9), round(10**30, -31), round(True, -10**6))\n"
        "print(round(1, torch.tensor(-10**9)), round(1.5, -10**9), round(1.5, 10**9))\n"
        "print(round(149, -2), round(150, -2), round(250, -2), round(2.675, 2), round(7.5))\n"
    )
    expected = (
        f"{round(1, -20)} {round(-7, -20)} {round(10**30, -31)} {round(True, -20)}\n"
        f"{round(1, -20)} {round(1.5, -400)} {round(1.5, 400)}\n"
        f"{round(149, -2)} {round(150, -2)} {round(250, -2)} {round(2.675, 2)} {round(7.5)}\n"
    )
    assert run_stdout(code) == expected


def test_slice_assignment_behaves_as_python() -> None:
    code = (
        "a = [1, 2, 3, 4, 5]\na[1:3] = (7, 8, 9)\na[::2] = 'xyz'\nb = a[:]\nb[1:] = []\n"
        "c = [0] * 4\nc[1:3] = range(5)\nprint(a, b, c)\n"
    )
    a: list[object] = [1, 2, 3, 4, 5]
    a[1:3] = (7, 8, 9)
    a[::2] = "xyz"
    b = a[:]
    b[1:] = []
    c: list[object] = [0] * 4
    c[1:3] = range(5)
    assert run_stdout(code) == f"{a} {b} {c}\n"


# Values of each kind a program holds, and names: the program's own, torch's, the sandbox's
# internals, dunders and junk. hasattr must say what reading the attribute would do.
HELD = (
    "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
    "class Box:\n    def __init__(self):\n        self.size = 3\n        self._secret = 1\n"
    "def f():\n    pass\n"
    "values = [torch.ones(2, requires_grad=True), nn.Linear(2, 2), nn.Linear, torch, F.relu,\n"
    "    Box(), f, [1], 'text', torch.ones(1).device, torch.float32, torch.optim.SGD(\n"
    "    nn.Linear(1, 1).parameters(), lr=0.1), nn.ReLU(), torch.nn, Box, print, 3]\n"
)
NAMES = st.one_of(
    st.sampled_from(
        [
            "grad",
            "weight",
            "size",
            "_secret",
            "data",
            "shape",
            "T",
            "_base",
            "_C",
            "load",
            "__class__",
            "__name__",
            "__dict__",
            "__globals__",
            "__init__",
            "__code__",
            "__module__",
            "data_ptr",
            "storage",
            "untyped_storage",
            "_parameters",
            "training",
            "ones",
            "append",
            "upper",
            "real",
            "__subclasses__",
            "relu",
            "linalg",
            "type",
        ]
    ),
    st.text(alphabet="_abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12),
)


def outcome(code: str) -> str | ProgramError:
    """The program's printed output, or the error it was refused or failed with."""
    try:
        return evaluate(GraphRequest(code=code), Limits()).stdout.strip()
    except ProgramError as error:
        return error


@settings(max_examples=200, deadline=None)
@given(index=st.integers(0, 16), name=NAMES)
def test_hasattr_says_what_reading_the_attribute_would_do(index: int, name: str) -> None:
    """hasattr(x, name) is True exactly when `x.name` is read (written out, as the program
    would); a dunder other than __name__ and __class__ is refused by both; nothing else
    raises."""
    said = outcome(HELD + f"value = values[{index}]\nprint(hasattr(value, {name!r}))\n")
    if isinstance(said, ProgramError):
        assert said.slug == "not-allowed", said
        assert name.startswith("__"), said
        return
    assert said in {"True", "False"}
    if not name.isidentifier() or keyword.iskeyword(name):
        return
    read = outcome(HELD + f"value = values[{index}]\nv = value.{name}\n")
    if isinstance(read, ProgramError):
        assert read.title == "AttributeError" or read.slug == "not-allowed", read
    assert said == str(not isinstance(read, ProgramError)), (index, name)
