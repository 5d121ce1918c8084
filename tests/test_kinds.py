"""The table of kinds (app/worker/sandbox/kinds.py) is the one place that says what a program's
value may do: every value the sandbox hands a program has a kind, the table's lists name
real attributes, more specific kinds come first, and a kind added to the table alone is
reached by every decision (attributes, calls, loops, indexing, torch's arguments)."""

import ast
import dataclasses
from typing import Any

import pytest
import torch

from app.contract.errors import ProgramError
from app.contract.schemas import GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate
from app.worker.sandbox import kinds
from app.worker.sandbox.allowlist import NAMESPACES, Defined, Namespace
from app.worker.sandbox.checker import check_program
from app.worker.sandbox.classes import UserModule
from app.worker.sandbox.exceptions import EXCEPTION_CLASSES
from app.worker.sandbox.guard import Budget, Guard
from app.worker.sandbox.interpreter import Interpreter
from app.worker.sandbox.kinds import KINDS, OTHER, Access, Iteration, Kind, Passing, kind_of
from app.worker.sandbox.values import BoundMethod
from tests.programs import PROGRAMS
from tests.test_interpreter_classes import SCALAR_ENGINE


def _members(namespace: Namespace, seen: set[int], interpreter: "Interpreter") -> list[Any]:
    """Every value a program can reach through `import`, namespaces within namespaces too;
    a namespace the interpreter defines for the program (torch.utils.data) as it hands it."""
    found: list[Any] = []
    for value in namespace.members.values():
        if isinstance(value, Defined):
            value = interpreter.namespace(value.qualname)
        found.append(value)
        if isinstance(value, Namespace) and id(value) not in seen:
            seen.add(id(value))
            found.extend(_members(value, seen, interpreter))
    return found


class _Quiet:
    """An observer that records nothing: the interpreter alone is under test."""

    def run_backward(self, kind: str, roots: Any, names: Any, call: Any) -> Any:
        return call()

    def produced(self, value: Any, call: Any = None) -> None:
        return None


def _interpreter() -> Interpreter:
    return Interpreter(check_program("x = 1", Limits()), Limits(), _Quiet())


def test_every_value_an_import_or_a_builtin_hands_a_program_has_a_kind() -> None:
    interpreter = _interpreter()
    values = [
        *(
            value
            for namespace in NAMESPACES.values()
            for value in _members(namespace, set(), interpreter)
        ),
        *NAMESPACES.values(),
        *interpreter.python.builtins.values(),
        *EXCEPTION_CLASSES.values(),
    ]
    missing = {type(value).__name__ for value in values if kind_of(value) is OTHER}
    assert not missing


def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Types met from here on are this test's alone (the cache is the process's)."""
    monkeypatch.setattr(kinds, "_BY_TYPE", {t: k for k in kinds.KINDS for t in k.types})


@pytest.mark.parametrize("name", [*sorted(PROGRAMS), "scalar engine"])
def test_every_value_met_running_a_program_has_a_kind(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Each kind_of the sandbox asks while it runs the programs the gradient tests check
    lands in the table: a type it meets and does not list is refused everything."""
    _fresh_cache(monkeypatch)
    evaluate(GraphRequest(code=PROGRAMS.get(name, SCALAR_ENGINE)), Limits())
    unlisted = {t.__qualname__ for t, kind in kinds._BY_TYPE.items() if kind is OTHER}
    assert not unlisted


def test_every_named_tuple_torch_returns_reads_as_one() -> None:
    named = kind_of(torch.max(torch.ones(2, 2), 0))
    assert named.access == Access.FIELDS
    for value_type in vars(torch.return_types).values():
        if isinstance(value_type, type) and value_type.__module__ == "torch.return_types":
            assert kinds._first_kind(value_type) is named


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_listed_methods_exist_on_the_kind_s_types(kind: Kind) -> None:
    """The table lists names the real types have (a typo would allow nothing, silently).
    A torch module's methods are those of one module or another (a ModuleList's append)."""
    if kind.access not in {Access.PYTHON, Access.TENSOR, Access.TORCH_OBJECT, Access.MODULE}:
        return
    family = [t for other in KINDS if other.access is kind.access for t in other.types]
    for value_type in kind.types:
        owners = family if kind.access == Access.MODULE else [value_type]
        absent = {name for name in kind.methods if not any(hasattr(t, name) for t in owners)}
        if kind.access == Access.TENSOR:
            absent -= {"register_hook"}  # the interpreter's own (torch's, wrapped)
        assert not absent, (kind.name, value_type)


POLICIES = {
    "access": kinds.Access,
    "calling": kinds.Calling,
    "iteration": kinds.Iteration,
    "indexing": kinds.Indexing,
    "operators": kinds.Operators,
    "passing": kinds.Passing,
    "structure": kinds.Structure,
    "dry_run_key": kinds.DryRunKey,
}


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_each_policy_is_one_its_readers_know(kind: Kind) -> None:
    """Policies are plain names: one misspelt in the table would match no reader's case."""
    for field, policy in POLICIES.items():
        known = {value for name, value in vars(policy).items() if name.isupper()}
        assert getattr(kind, field) in known, (kind.name, field)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_a_name_is_an_attribute_or_a_method_never_both(kind: Kind) -> None:
    """get_attribute looks at methods before attributes: the two lists must not meet, so
    that the order never decides."""
    assert not kind.attributes & kind.methods


def test_more_specific_kinds_come_first() -> None:
    """A type not listed takes the first kind covering a base of it: a kind listed after
    one of its bases' kinds would never be found for its subclasses."""
    for later, kind in enumerate(KINDS):
        for earlier in KINDS[:later]:
            for value_type in kind.types:
                assert not issubclass(value_type, earlier.types), (kind.name, earlier.name)


def test_each_type_has_one_kind() -> None:
    listed = [value_type for kind in KINDS for value_type in kind.types]
    assert len(listed) == len(set(listed))


def test_subclasses_take_their_base_s_kind() -> None:
    assert kind_of(torch.nn.Linear(2, 2)).access == Access.MODULE
    assert kind_of(torch.nn.Sequential()).iteration == Iteration.SIZED
    assert kind_of(torch.optim.SGD([torch.zeros(1, requires_grad=True)])).name == "Optimizer"

    class Flag(int):
        pass

    # A subclass of a Python builtin behaves as the builtin does, but is not that builtin
    # and has none of its exact type's methods.
    flag = kind_of(Flag(1))
    assert (flag.passing, flag.truth) == (Passing.LEAF, True)
    assert (flag.builtin, flag.methods) == (False, frozenset())


def test_the_cache_of_types_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A program makes a type per class statement; past the bound they are looked up each
    time, never kept (a process that runs many programs would keep them all)."""
    monkeypatch.setattr(kinds, "_BY_TYPE", dict(kinds._BY_TYPE))
    monkeypatch.setattr(kinds, "MAX_CACHED_TYPES", len(kinds._BY_TYPE))

    class Made(UserModule):
        pass

    assert kind_of(Made.__new__(Made)).access == Access.PROGRAM_MODULE
    assert Made not in kinds._BY_TYPE


class Gauge:
    """A new torch-like object, as a future version of torch might return."""

    def __init__(self) -> None:
        self.level = 3

    def read(self) -> int:
        return self.level

    def __len__(self) -> int:
        return 2

    def __iter__(self) -> Any:
        return iter([1, 2])


def _added(monkeypatch: pytest.MonkeyPatch, kind: Kind) -> None:
    """The table with `kind` in it, as a one-line change to KINDS would make it."""
    monkeypatch.setattr(kinds, "KINDS", (*KINDS, kind))
    _fresh_cache(monkeypatch)


def test_a_value_of_no_kind_is_refused_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    _fresh_cache(monkeypatch)
    interpreter = _interpreter()
    gauge = Gauge()
    with pytest.raises(ProgramError, match="not available"):
        interpreter.get_attribute(gauge, "read")
    with pytest.raises(ProgramError, match="cannot loop"):
        interpreter.python.items(gauge)
    with pytest.raises(ProgramError, match="cannot be indexed"):
        interpreter.get_item(gauge, 0)
    with pytest.raises(ProgramError, match="cannot be passed"):
        Guard(Budget(Limits())).check_arguments("torch.add", (gauge,), {})
    with pytest.raises(ProgramError, match="is not callable"):
        interpreter.call(gauge, (), {})


def test_adding_a_kind_is_one_entry_in_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every decision reads the entry: nothing else is taught about the new type."""
    _added(
        monkeypatch,
        Kind(
            "Gauge",
            (Gauge,),
            Access.TORCH_OBJECT,
            attributes=frozenset({"level"}),
            methods=frozenset({"read"}),
            iteration=Iteration.SIZED,
            passing=Passing.LEAF,
        ),
    )
    interpreter = _interpreter()
    gauge = Gauge()
    method = interpreter.get_attribute(gauge, "read")
    assert isinstance(method, BoundMethod)
    assert (method.receiver, method.name) == (gauge, "read")
    assert interpreter.call(method, (), {}) == 3
    assert interpreter.get_attribute(gauge, "level") == 3
    assert interpreter.python.items(gauge) == [1, 2]
    Guard(Budget(Limits())).check_arguments("torch.add", (gauge,), {})
    with pytest.raises(ProgramError, match="not available"):
        interpreter.get_attribute(gauge, "__init__")  # what the entry does not list


def test_a_kind_s_capabilities_are_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same type with a narrower entry allows only what the entry says."""
    _added(monkeypatch, dataclasses.replace(OTHER, name="Gauge", types=(Gauge,)))
    interpreter = _interpreter()
    with pytest.raises(ProgramError, match="not available"):
        interpreter.get_attribute(Gauge(), "read")


# Hostile edges of the table: values whose type is a subclass of one the table lists, and
# views of the sandbox's making, must not gain what their bases have.
HOSTILE = {
    "named tuple methods": (
        "import torch\nm = torch.max(torch.ones(2, 2), 0)\nm.index(0)\n",
        "not available",
    ),
    "state dict view to torch": (
        "import torch\nl = torch.nn.Linear(2, 2)\ntorch.tensor(l.state_dict().keys())\n",
        "cannot be passed",
    ),
    "iterator to torch": (
        "import torch\ntorch.tensor(iter([1.0, 2.0]))\n",
        "cannot be passed",
    ),
    "set to torch": ("import torch\ntorch.tensor({1.0, 2.0})\n", "cannot be passed"),
    "object's method to torch": (
        "import torch\nclass A:\n    def f(self):\n        return 1.0\ntorch.tensor([A().f])\n",
        "cannot be passed",
    ),
    "class as hook": (
        "import torch\nclass A:\n    pass\nx = torch.ones(1, requires_grad=True)\n"
        "x.register_hook(A)\n",
        "takes a function of the program",
    ),
    "torch function as hook": (
        "import torch\nx = torch.ones(1, requires_grad=True)\nx.register_hook(torch.relu)\n",
        "takes a function of the program",
    ),
    "set a module's parameter list": (
        "import torch\nopt = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1)\n"
        "opt.param_groups = []\n",
        "cannot set attribute",
    ),
    "delete from a tuple": ("t = (1, 2)\ndel t[0]\n", "only list and dict items"),
    "index a namespace": ("import torch\ntorch[0]\n", "cannot be indexed"),
    "call a dtype": ("import torch\ntorch.float32(1)\n", "is not callable"),
    "loop over a module": (
        "import torch\nfor p in torch.nn.Linear(2, 2):\n    pass\n",
        "cannot loop",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_edges_of_the_table_are_refused(name: str) -> None:
    code, message = HOSTILE[name]
    ast.parse(code)
    with pytest.raises(ProgramError, match=message):
        evaluate(GraphRequest(code=code), Limits())
