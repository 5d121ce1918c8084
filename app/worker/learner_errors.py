"""PyTorch's error messages, explained in plain words for a learner.

PyTorch's messages are precise but assume one knows how autograd works. For the mistakes
the seed notebook's lessons invite, a sentence of explanation follows PyTorch's own words.
"""

import ast
import re

from app.contract.errors import ProgramError

EXPLANATIONS: tuple[tuple[str, str], ...] = (
    (
        "Trying to backward through the graph a second time",
        "In plain words: backward() frees the values the graph saved for it (the saved "
        "tensors) once it has run, to save memory, so the same graph cannot be walked twice. "
        "Compute the forward pass again before the next backward(), as a training loop does "
        "each step, or pass retain_graph=True to the first backward() to keep them.",
    ),
    (
        "does not require grad and does not have a grad_fn",
        "In plain words: this tensor is not connected to any tensor with requires_grad=True, "
        "so there is no graph to go back through. Create the inputs with requires_grad=True, "
        "and check that torch.no_grad(), .detach() or requires_grad_(False) did not cut them off.",
    ),
    (
        "grad can be implicitly created only for scalar outputs",
        "In plain words: backward() without an argument starts from a single number, such as "
        "a loss. Reduce the tensor first (y.sum().backward()) or pass a gradient of its shape "
        "(y.backward(torch.ones_like(y))).",
    ),
    (
        "a leaf Variable that requires grad is being used in an in-place operation",
        "In plain words: a tensor you created with requires_grad=True was changed in place "
        "(e.g. w -= lr * w.grad) while autograd was recording. Do such updates inside "
        "'with torch.no_grad():'.",
    ),
    (
        "modified by an inplace operation",
        "In plain words: backward needs a value that was changed in place after it was used. "
        "Write the operation out of place (x = x * 2 instead of x *= 2).",
    ),
    (
        "appears to not have been used in the graph",
        "In plain words: autograd.grad was asked for the gradient with respect to a tensor "
        "the output does not depend on. Pass allow_unused=True to get None for it.",
    ),
)


MATMUL_SHAPES = re.compile(
    r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)"
)


def explain(message: str, operands: tuple[str, str] | None = None) -> str:
    """The message, followed by an explanation when one is known. `operands`: the source text
    of a failing matrix product's two sides, when known, to name them."""
    if "In plain words" in message:
        return message
    shapes = MATMUL_SHAPES.search(message)
    if shapes:
        rows, inner, other_rows, columns = shapes.groups()
        left, right = operands or ("the left matrix", "the right matrix")
        return (
            f"{message} In plain words: {left} is {rows}x{inner}, {right} is "
            f"{other_rows}x{columns}: the inner sizes {inner} and {other_rows} differ. A matrix "
            "product needs as many columns on the left as rows on the right; transpose one "
            "(.T) or check which one goes first."
        )
    for fragment, explanation in EXPLANATIONS:
        if fragment in message and explanation not in message:
            return f"{message} {explanation}"
    return message


def explained(error: ProgramError, code: str | None = None) -> ProgramError:
    """The same error with its detail explained; `code` (the program) names the operands of a
    failing matrix product where the error points."""
    operands = _matmul_operands(code, error.line, error.column) if code else None
    error.detail = explain(error.detail, operands)
    return error


def _matmul_operands(code: str, line: int | None, column: int | None) -> tuple[str, str] | None:
    """The two sides' source text of the `a @ b`, `torch.mm(a, b)` or `torch.matmul(a, b)` at
    the position (or on the line) an error points at."""
    if line is None:
        return None
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    found: list[tuple[int, ast.expr, ast.expr]] = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) != line:
            continue
        sides: tuple[ast.expr, ast.expr] | None = None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            sides = (node.left, node.right)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"mm", "matmul"}
            and len(node.args) == 2
        ):
            sides = (node.args[0], node.args[1])
        if sides and isinstance(node, ast.expr):
            distance = abs(node.col_offset + 1 - (column or 1))
            found.append((distance, *sides))
    if not found:
        return None
    _, left, right = min(found, key=lambda item: item[0])
    texts = (ast.get_source_segment(code, left), ast.get_source_segment(code, right))
    return (texts[0], texts[1]) if texts[0] and texts[1] else None
