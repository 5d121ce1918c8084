"""Python's `random` as a program may import it: a generator of the program's own.

Each program gets a fresh generator, seeded with a fixed number, so that no program sees or
moves another's state and an unseeded run is reproducible. Functions whose work grows with an
argument (choices(k=...), sample(..., k)) are sized against the budget first; seeding from
the clock (random.seed()) is refused, as torch.seed() is.
"""

import random
from collections.abc import Callable
from typing import Any

from app.contract.errors import ProgramError
from app.worker.sandbox.allowlist import Namespace
from app.worker.sandbox.guard import Budget
from app.worker.sandbox.pyvalues import PythonValues
from app.worker.sandbox.values import Builtin

# The seed of an unseeded program (torch's generator is seeded likewise, see app.worker.evaluate).
INITIAL_SEED = 0


class ProgramRandom:
    """The functions of `random` a program may call, on its own generator."""

    def __init__(self, budget: Budget, python: PythonValues) -> None:
        self._budget = budget
        self._python = python
        self._generator = random.Random(INITIAL_SEED)  # noqa: S311 (a learner's numbers)

    def namespace(self) -> Namespace:
        functions: dict[str, Callable[..., Any]] = {
            "seed": self.seed,
            "random": self._generator.random,
            "uniform": self._generator.uniform,
            "gauss": self._generator.gauss,
            "randint": self._generator.randint,
            "randrange": self._generator.randrange,
            "choice": self._generator.choice,
            "shuffle": self.shuffle,
            "choices": self.choices,
            "sample": self.sample,
        }
        return Namespace("random", {name: Builtin(name, f) for name, f in functions.items()})

    def seed(self, a: Any = None) -> None:
        if a is None or not isinstance(a, int | float | str):
            raise ProgramError(
                "TypeError",
                "random.seed() takes a number or a string here (seeding from the clock is "
                "not available)",
            )
        self._generator.seed(a)

    def shuffle(self, x: Any) -> None:
        if not isinstance(x, list):
            raise ProgramError("TypeError", "random.shuffle() takes a list")
        self._budget.step(len(x) // 64)
        self._generator.shuffle(x)

    def choices(
        self,
        population: Any,
        weights: Any = None,
        *,
        cum_weights: Any = None,
        k: int = 1,
    ) -> list[Any]:
        self._budget.sequence(k, "random.choices")
        items = self._python.items(population)
        return self._generator.choices(
            items,
            None if weights is None else self._python.items(weights),
            cum_weights=None if cum_weights is None else self._python.items(cum_weights),
            k=k,
        )

    def sample(self, population: Any, k: int) -> list[Any]:
        self._budget.sequence(k, "random.sample")
        if not isinstance(population, range):  # a range is sampled without listing it
            population = self._python.items(population)
        return self._generator.sample(population, k)
