"""Errors a program can cause, each pointing at the code where it can."""

import ast
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProgramError(Exception):
    """The program is refused or failed; `detail` is written for a learner."""

    title: str
    detail: str
    line: int | None = None
    column: int | None = None
    # The problem type's last segment (/problems/<slug>): what the API answers with.
    slug: str = "program-error"
    # The exception a program raised itself (`raise ValueError(...)`), for `except ... as e`.
    raised: Any = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line else ""
        return f"{self.title}: {self.detail}{where}"

    def at(self, node: ast.AST | None) -> "ProgramError":
        """Attach the position of `node` unless a more precise one is known."""
        if self.line is None and node is not None and hasattr(node, "lineno"):
            self.line = node.lineno
            self.column = getattr(node, "col_offset", 0) + 1
        return self


def refused(detail: str, node: ast.AST | None = None) -> ProgramError:
    """A construct outside what the sandbox allows."""
    return ProgramError("Not allowed", detail, slug="not-allowed").at(node)


def too_big(detail: str, node: ast.AST | None = None) -> ProgramError:
    """A resource limit was reached."""
    return ProgramError("Limit reached", detail, slug="limit").at(node)
