"""Classes of the program that fight back: their special methods, properties and exception
classes run only inside the program, within its budgets, and an error inside one points at
the line that failed. (Refusals and limits with their messages: CLASSES in corpus.py.)"""

import time

import pytest

from app.contract.errors import ProgramError
from app.contract.schemas import GraphData, GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate


def run(code: str, gradcheck: bool = False) -> GraphData:
    started = time.monotonic()
    graph = evaluate(GraphRequest(code=code, include=["gradcheck"] if gradcheck else []), Limits())
    assert time.monotonic() - started < 10
    return graph


def failure(code: str) -> ProgramError:
    with pytest.raises(ProgramError) as caught:
        run(code)
    return caught.value


def test_an_error_inside_a_special_method_points_at_its_line() -> None:
    code = (
        "class V:\n"
        "    def __add__(self, other):\n"
        "        return self.missing + other\n"
        "total = V() + 1\n"
    )
    error = failure(code)
    assert (error.title, error.line, error.column) == ("AttributeError", 3, 16)
    assert "'V' object has no attribute 'missing'" in error.detail


@pytest.mark.parametrize(
    "mutation",
    [
        # __eq__ empties the dict it is being compared for; __hash__ grows the set it is
        # hashed for: CPython restarts or reports, and the answer comes back either way.
        "class K:\n    def __hash__(self):\n        return 1\n"
        "    def __eq__(self, o):\n        box.clear()\n        return False\n"
        "box = {}\nfor i in range(50):\n    box[K()] = i\nprint(len(box))",
        "class K:\n    def __hash__(self):\n        box.add(len(box) + 1000)\n        return 1\n"
        "    def __eq__(self, o):\n        box.discard(1000)\n        return False\n"
        "box = set()\nfor i in range(50):\n    box.add(K())\nprint(len(box))",
        "class K:\n    def __lt__(self, o):\n        items.append(K())\n        return True\n"
        "items = [K() for i in range(30)]\ntry:\n    items.sort()\nexcept ValueError as e:\n"
        "    print('ValueError', e)\nprint(len(items) > 30)",
    ],
)
def test_methods_that_mutate_what_python_is_walking_are_answered(mutation: str) -> None:
    assert run(mutation).stdout.strip()


def test_replaying_a_builtin_never_runs_the_program_again() -> None:
    """sum() over a tensor and an object whose __radd__ prints: the gradient check replays
    the operations inside, not the program's method."""
    code = (
        "import torch\n"
        "class Twice:\n"
        "    def __radd__(self, other):\n"
        "        print('radd')\n"
        "        return other * 2\n"
        "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "y = sum([x, Twice()], torch.zeros(2))\n"
        "loss = (y * y).sum()\n"
        "loss.backward()\n"
    )
    graph = run(code, gradcheck=True)
    assert graph.stdout == "radd\n"
    assert graph.gradcheck is not None
    assert graph.gradcheck["x"].ok is True


def test_objects_left_in_names_are_read_without_running_the_program() -> None:
    """After the program, the server may compare and print what it left behind: the program's
    __eq__, __hash__ and __repr__ no longer run."""
    code = (
        "class Loud:\n"
        "    def __repr__(self):\n"
        "        print('repr ran')\n"
        "        return 'Loud'\n"
        "    def __eq__(self, o):\n"
        "        print('eq ran')\n"
        "        return True\n"
        "    def __hash__(self):\n"
        "        return 1\n"
        "kept = Loud()\n"
        "print(kept)\n"
    )
    graph = run(code)
    assert graph.stdout == "repr ran\nLoud\n"


def test_a_program_module_beside_a_sized_layer_is_still_sized_before_it_runs() -> None:
    code = (
        "import torch\nfrom torch import nn\n"
        "class Grow(nn.Module):\n"
        "    def forward(self, x):\n"
        "        print('grow ran')\n"
        "        return x.repeat(1, 1, 4, 4)\n"
        "net = nn.Sequential(Grow(), nn.Conv2d(1, 8, 5))\n"
        "y = net(torch.ones(1, 1, 400, 400))\n"
    )
    error = failure(code)
    assert error.slug == "limit"
    assert error.line == 8


def test_a_limit_inside_a_property_is_never_caught() -> None:
    code = (
        "class V:\n"
        "    @property\n"
        "    def deep(self):\n"
        "        return self.deep\n"
        "try:\n"
        "    d = V().deep\n"
        "except Exception:\n"
        "    print('swallowed')\n"
    )
    error = failure(code)
    assert error.slug == "limit"
    assert error.line == 4
