"""Python builtins whose cost depends on their arguments' values answer quickly, as Python."""

import time

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
