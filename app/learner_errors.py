"""PyTorch's error messages, explained in plain words for a learner.

PyTorch's messages are precise but assume one knows how autograd works. For the mistakes
the seed notebook's lessons invite, a sentence of explanation follows PyTorch's own words.
"""

from app.sandbox.errors import ProgramError

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


def explain(message: str) -> str:
    """The message, followed by an explanation when one is known."""
    for fragment, explanation in EXPLANATIONS:
        if fragment in message and explanation not in message:
            return f"{message} {explanation}"
    return message


def explained(error: ProgramError) -> ProgramError:
    """The same error with its detail explained."""
    error.detail = explain(error.detail)
    return error
