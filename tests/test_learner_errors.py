"""Errors in a learner's words: a matrix product's shapes named by its operands, a typo in an
attribute answered as Python would, with the nearest name."""

import pytest

from app.contract.errors import ProgramError
from app.contract.schemas import GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate

SETUP = "import torch\nW = torch.ones(3, 4, requires_grad=True)\nx = torch.ones(3, 2)\n"


def error_of(code: str) -> ProgramError:
    with pytest.raises(ProgramError) as caught:
        evaluate(GraphRequest(code=code), Limits())
    return caught.value


@pytest.mark.parametrize("product", ["W @ x", "torch.mm(W, x)", "torch.relu(torch.matmul(W, x))"])
def test_matmul_shapes_in_plain_words(product: str) -> None:
    error = error_of(f"{SETUP}y = {product}\n")
    assert "shapes cannot be multiplied (3x4 and 3x2)" in error.detail  # PyTorch's words
    assert "W is 3x4, x is 3x2: the inner sizes 4 and 3 differ" in error.detail
    assert error.line == 4


def test_attribute_typo_says_what_python_would() -> None:
    error = error_of("import torch\nb = torch.ones(3, requires_grad=True)\nprint(b.gradd)\n")
    assert (error.title, error.detail) == (
        "AttributeError",
        "Tensor has no attribute 'gradd'; did you mean 'grad'?",
    )
    assert error.line == 3


def test_withheld_attribute_is_still_refused() -> None:
    error = error_of("import torch\nb = torch.ones(3)\nprint(b.data_ptr())\n")
    assert "not available in this sandbox" in error.detail
