"""The allowlist: what is refused, with a message and a position a learner can use."""

import pytest

from app.contract.errors import ProgramError
from app.contract.schemas import GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate
from app.worker.sandbox.checker import check_program


def refusal(code: str) -> ProgramError:
    with pytest.raises(ProgramError) as caught:
        evaluate(GraphRequest(code=code), Limits())
    return caught.value


def test_import_of_os_points_at_the_module_name() -> None:
    error = refusal("import os")
    assert error.detail.startswith("import of 'os' is not allowed")
    assert (error.line, error.column) == (1, 8)


def test_from_import_points_at_the_module_name() -> None:
    error = refusal("x = 1\nfrom subprocess import run")
    assert "'subprocess'" in error.detail
    assert (error.line, error.column) == (2, 6)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("x = ().__class__.__bases__", "'__bases__'"),
        ("().__class__ = int", "'__class__'"),
        ("def f(a, /):\n    return a", "positional-only"),
        ("class A:\n    def __del__(self):\n        pass", "__del__"),
        ("try:\n    pass\nexcept* Exception:\n    pass", "try/except*"),
        ("eval('1')", "'eval'"),
        ("getattr(1, 'real')", "'getattr'"),
        ("global x", "global"),
        ("(y := 2)", "walrus"),
        ("def g():\n    yield 1", "yield"),
        ("import torch\ntorch.load('x')", "unpickles"),
        ("import torch\ntorch.empty(3)", "uninitialised"),
        ("import torch\nx = torch.ones(2)\nx.data_ptr()", "'data_ptr'"),
        ("import torch\nx = torch.ones(2, requires_grad=True)\nx.register_hook(3)", "function"),
        ("import torch\ntorch.zeros(2, device='cuda')", "cpu"),
        ("s = '{0.__class__}'.format(1)", "attributes or items"),
        ("'%999s' % 3", "more than 100"),
        ("x = input()", "'input'"),
    ],
)
def test_refused_with_a_clear_message(code: str, words: str) -> None:
    error = refusal(code)
    assert words in error.detail
    assert error.line is not None


def test_syntax_error_has_position() -> None:
    error = refusal("x = (1 +\n")
    assert error.title == "Syntax error"
    assert error.line == 1


def test_runtime_error_points_at_the_expression() -> None:
    error = refusal("import torch\na = torch.ones(2)\nb = torch.ones(3)\nc = a + b")
    assert error.title == "RuntimeError"
    assert "size" in error.detail
    assert (error.line, error.column) == (4, 5)


def test_deep_nesting_is_a_limit_not_a_crash() -> None:
    with pytest.raises(ProgramError) as caught:
        check_program("x = " + "[" * 100 + "]" * 100, Limits())
    assert caught.value.slug == "limit"
    with pytest.raises(ProgramError):  # CPython's own parser limit: a syntax error, not a crash
        check_program("x = " + "(" * 5000 + ")" * 5000, Limits())
    with pytest.raises(ProgramError) as caught:
        check_program("x = 1" + " + 1" * 30_000, Limits())
    assert caught.value.slug == "limit"


def test_endless_loop_stops_at_the_step_budget() -> None:
    error = refusal("while True:\n    pass")
    assert error.slug == "limit"


def test_big_integers_are_refused_before_computing() -> None:
    assert refusal("x = 9 ** 9 ** 9").slug == "limit"
    assert refusal("x = 'a' * 10 ** 10").slug == "limit"


def test_huge_tensor_is_refused_before_allocating() -> None:
    assert refusal("import torch\nx = torch.ones(10**5, 10**5)").slug == "limit"
    assert refusal("import torch\nx = torch.ones(10**4, 1).expand(10**4, 10**4).sum()").slug == (
        "limit"
    )
