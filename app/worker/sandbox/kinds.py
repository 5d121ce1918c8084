"""The kinds of value a program may hold, and what each allows: one table.

Every decision the sandbox makes by a value's type reads the value's `Kind` here: which
attributes and methods a program may reach (and through which reader), whether the value
may be looped over, indexed, hashed, repeated, tested for truth or handed to torch, how it
prints, what the tape walks for tensors, and what `type(x)` shows. A value whose type no
kind covers may do none of these things. Adding a kind of value (a new torch object, a new
value of the sandbox's own) is adding one entry to `KINDS`.

Types are matched exactly first (one dict lookup by `type(value)`, cached); a type not
listed takes the first kind in `KINDS` that covers a base class of it, in order, as
`isinstance` would (`nn.Linear` is a torch module, a program's class of module is the
program's module). A subclass of a Python builtin keeps that builtin's capabilities except
the ones tied to the exact type: its methods, its brackets and its name as a builtin.
"""

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from app.worker.sandbox.allowlist import (
    GENERATOR_METHODS,
    MODULE_ATTRIBUTES,
    MODULE_METHODS,
    MODULE_REGISTRATION,
    NODE_ATTRIBUTES,
    OPTIMIZER_ATTRIBUTES,
    OPTIMIZER_METHODS,
    SCHEDULER_ATTRIBUTES,
    SCHEDULER_METHODS,
    TENSOR_ATTRIBUTES,
    TENSOR_METHODS,
    TENSOR_SETTABLE,
    Namespace,
    SafeFunction,
)
from app.worker.sandbox.classes import (
    CONTEXT_ATTRIBUTES,
    CONTEXT_METHODS,
    BaseClass,
    BoundUserMethod,
    HookHandle,
    ProgramContext,
    PropertyValue,
    SuperBuiltin,
    SuperProxy,
    TypeProxy,
    UserClass,
    UserModule,
    UserObject,
)
from app.worker.sandbox.exceptions import EXCEPTION_ATTRIBUTES, ExceptionClass, ExceptionValue
from app.worker.sandbox.values import (
    TYPE_BUILTINS,
    BoundMethod,
    Builtin,
    DictView,
    ListIterator,
    UserFunction,
)

# The policies are names in plain classes, not enum members: they are compared on every
# operation a program makes, and CPython 3.11 reads an enum member from its class several
# times slower than a plain class attribute.


class Access:
    """Which reader answers `value.name` and `value.name(...)`; each reads the kind's
    `attributes` and `methods`."""

    NONE = "none"  # nothing: the refusal names the value's type
    NAMESPACE = "namespace"  # a module as a table of names
    TENSOR = "tensor"  # the tensor allowlists; computed attributes are reported as calls
    CLASS = "class"  # a class of the program: its own table (`Function.apply` bound)
    OBJECT = "object"  # an object of the program's class: its class's table
    SUPER = "super"  # super(): the parent's table; `__init__` calls
    MODULE = "module"  # a torch module: parameters, buffers, submodules, then the lists
    PROGRAM_MODULE = "program module"  # a module of the program: its names and class table first
    TORCH_OBJECT = "torch object"  # `attributes` read through the guard, `methods` run by it
    HANDLE = "handle"  # a hook's handle: `remove()`
    EXCEPTION = "exception"  # a caught exception: its `args`
    CONTEXT = "context"  # an autograd Function's ctx
    FIELDS = "fields"  # a named tuple torch returns: its fields as they are
    PYTHON = "python"  # a Python value: `methods` run by PythonValues, growth sized


class Calling:
    """What `value(...)` does."""

    NONE = "none"  # a TypeError
    FUNCTION = "function"  # the program's function, interpreted
    BOUND = "bound"  # the program's method with its receiver, interpreted
    BUILTIN = "builtin"  # a Python builtin of the sandbox's, its arguments checked
    TORCH_FUNCTION = "torch function"  # a torch function from the allowlist, through the guard
    METHOD = "method"  # an allowlisted method bound by `get_attribute`
    CLASS = "class"  # the program's class: a new object, module or Function
    OBJECT = "object"  # the program's object: its __call__
    SUPER = "super"  # super()
    EXCEPTION_CLASS = "exception class"  # a builtin exception: a new exception value
    BASE_CLASS = "base class"  # nn.Module, autograd.Function: refused, they are bases only
    TYPE = "type"  # a type stand-in: torch.Tensor(...) constructs, others refuse
    PROGRAM_MODULE = "program module"  # the program's module: torch calls its forward back
    MODULE = "module"  # a torch module, through the guard


# What the program may hand torch to call back (a hook, a function given to apply): the
# program's functions and builtins, run by the interpreter inside a wrapper of ours.
FUNCTIONS = frozenset({Calling.FUNCTION, Calling.BOUND, Calling.BUILTIN})


class Iteration:
    """What a `for` loop (and list(), sorted(), unpacking...) over the value does."""

    NONE = "none"  # a TypeError
    SIZED = "sized"  # len() items, counted first
    RANGE = "range"  # a range's length, computed without listing it
    TENSOR = "tensor"  # its rows (a 0-d tensor refuses)
    ITERATOR = "iterator"  # what iter() took and next() has not handed out yet
    VIEW = "view"  # the items d.keys()/values()/items() took
    OBJECT = "object"  # the program's __iter__ or __getitem__


class Indexing:
    """What `value[index]` and `value[index] = item` do."""

    NONE = "none"  # a TypeError
    TENSOR = "tensor"  # through the guard, sized by a dry run, recorded
    KEY = "key"  # the index is hashed (its nesting bounded) first; assignable
    OBJECT = "object"  # the program's __getitem__ and __setitem__
    DIRECT = "direct"  # Python's own indexing: bounded by the value's own size
    LIST = "list"  # as DIRECT, and assignable (a slice is sized as list(...) is)


class Operators:
    """Who applies `+`, `*`, `==`... when the value is an operand."""

    PYTHON = "python"  # Python, with big integers and repetition sized first
    TENSOR = "tensor"  # torch, through the guard (sized by a dry run, recorded)
    PROGRAM = "program"  # the program's special methods (__add__, __radd__...)


class Passing:
    """What the guard does with the value given to or returned by torch."""

    REFUSED = "refused"  # never crosses (functions, classes, namespaces of the program)
    LEAF = "leaf"  # crosses as it is
    RANGE = "range"  # crosses, its length charged (torch walks every number)
    TENSOR = "tensor"  # crosses when dense and on the cpu
    SEQUENCE = "sequence"  # its items are checked, one nesting level deeper
    MAPPING = "mapping"  # its keys and values are checked, one nesting level deeper


class Structure:
    """The items a walk for tensors (the tape, sizes of nested data) looks into."""

    NONE = "none"
    SEQUENCE = "sequence"  # its items
    MAPPING = "mapping"  # its values


class DryRunKey:
    """What of the value, given to torch, keys the guard's remembered dry-run sizes."""

    NONE = "none"  # nothing: a call given it is dry-run every time
    TENSOR = "tensor"  # its shape and dtype, not its numbers
    VALUE = "value"  # itself, with its type (1, 1.0 and True size apart)
    SLICE = "slice"  # its start, stop and step
    GENERATOR = "generator"  # any generator alike: which one does not change sizes
    SIZE = "size"  # its numbers
    SEQUENCE = "sequence"  # its items' keys, with its type
    MAPPING = "mapping"  # its keys' and values' keys


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of value a program may hold, with what it allows."""

    name: str
    types: tuple[type, ...]
    access: str = Access.NONE  # one of Access's
    attributes: frozenset[str] = frozenset()  # readable `value.name`s
    methods: frozenset[str] = frozenset()  # callable `value.name(...)`s
    settable: frozenset[str] = frozenset()  # `value.name = x` of torch's values
    calling: str = Calling.NONE  # one of Calling's
    iteration: str = Iteration.NONE  # one of Iteration's
    indexing: str = Indexing.NONE  # one of Indexing's
    operators: str = Operators.PYTHON  # one of Operators's
    passing: str = Passing.REFUSED  # one of Passing's
    structure: str = Structure.NONE  # one of Structure's
    dry_run_key: str = DryRunKey.NONE  # one of DryRunKey's
    truth: bool = False  # bool(value) asks the value (else a value is simply true)
    hashed_items: bool = False  # hashing it hashes its items: their nesting is bounded first
    keyed: bool = False  # `x in value` hashes x
    repeats: bool = False  # `*` and `+` build one as long as the operands: sized first
    program_code: bool = False  # the program's: a builtin handed it may run the program
    builtin: bool = False  # type(x) is the Python builtin of `name` (int, list...)
    brackets: tuple[str, str] | None = None  # printed as its items between these
    shown_type: str | None = None  # type(x), when a stand-in with this name
    shown_name: str | None = None  # its type's name in messages, when not the real one
    printed_as_type: bool = False  # printed as <its type's name>, without an address
    grad_mode: bool = False  # `with value:` sets grad mode (the only `with` there is)
    exact: bool = False  # `methods`, `builtin` and `brackets` are of the exact type alone


def _like(template: Kind, name: str, *types: type, **changes: Any) -> Kind:
    """A kind that allows what `template` does, with `changes`."""
    return dataclasses.replace(template, name=name, types=types, **changes)


def _python(
    name: str, kind: type, methods: str, template: "Kind | None" = None, **changes: Any
) -> Kind:
    """A Python value: its exact type's methods on the allowlist (a subclass has none)."""
    return _like(
        template or PYTHON,
        name,
        kind,
        methods=frozenset(methods.split()),
        builtin=TYPE_BUILTINS.get(name) is kind,
        **changes,
    )


def _return_types() -> tuple[type, ...]:
    """The named tuples torch's functions return (torch.max's values and indices...)."""
    found = vars(torch.return_types).values()  # some under two names: listed once
    named = (t for t in found if isinstance(t, type) and t.__module__ == "torch.return_types")
    return tuple(dict.fromkeys(named))


# Fields of the named tuples torch returns that a program may read (`torch.max(x, 0).values`).
RETURN_TYPE_FIELDS = frozenset(
    {
        *("values", "indices", "mean", "std", "var", "sign", "logabsdet", "U", "S", "Vh"),
        *("eigenvalues", "eigenvectors", "Q", "R", "solution", "residuals", "rank"),
    }
)
DICT_METHODS = "keys values items get pop update setdefault copy clear"
MODULE_CALLS = MODULE_METHODS | {"register_forward_hook", "register_forward_pre_hook", "apply"}
# Torch containers a program may loop over and index (model[0], for layer in layers).
MODULE_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
# Context managers for grad mode: `with torch.no_grad():`; they cross torch as they are.
GRAD_MODES = (torch.no_grad, torch.enable_grad, torch.set_grad_enabled, torch.inference_mode)

# Templates: what kinds of one family allow alike.
PYTHON = Kind(
    "Python value",
    (),
    Access.PYTHON,
    passing=Passing.LEAF,
    dry_run_key=DryRunKey.VALUE,
    truth=True,
    exact=True,
)


def _container(name: str, indexing: str, mapping: bool, **more: Any) -> Kind:
    """A Python container: looped over by its length, true when it holds anything; torch,
    the tape and the dry-run memo walk its items, or a mapping's keys and values."""
    if mapping:
        walks = {"passing": Passing.MAPPING, "structure": Structure.MAPPING}
        key = DryRunKey.MAPPING
    else:
        walks = {"passing": Passing.SEQUENCE, "structure": Structure.SEQUENCE}
        key = DryRunKey.SEQUENCE
    changes = {"iteration": Iteration.SIZED, "indexing": indexing, **walks, **more}
    return _like(PYTHON, name, dry_run_key=key, **changes)


TUPLE = _container("tuple", Indexing.DIRECT, mapping=False, hashed_items=True, repeats=True)
MAPPING = _container("dict", Indexing.KEY, mapping=True, keyed=True)
TENSOR = Kind(
    "Tensor",
    (),
    Access.TENSOR,
    attributes=TENSOR_ATTRIBUTES,
    methods=TENSOR_METHODS | {"register_hook"},
    settable=TENSOR_SETTABLE,
    iteration=Iteration.TENSOR,
    indexing=Indexing.TENSOR,
    operators=Operators.TENSOR,
    passing=Passing.TENSOR,
    dry_run_key=DryRunKey.TENSOR,
    truth=True,
    shown_name="Tensor",
)
# A torch object: `attributes` read and `methods` run through the guard; crosses as it is.
TORCH_OBJECT = Kind("torch object", (), Access.TORCH_OBJECT, passing=Passing.LEAF)
MODULE = _like(
    TORCH_OBJECT,
    "Module",
    access=Access.MODULE,
    attributes=MODULE_ATTRIBUTES,
    methods=MODULE_CALLS,
    calling=Calling.MODULE,
)

# In order: a more specific kind before one covering a base of its type (bool before int,
# a parameter before a tensor, a program's module before torch's modules, named tuples
# before tuple), since a type not listed takes the first kind that covers a base of it.
KINDS: tuple[Kind, ...] = (
    _python("None", type(None), ""),
    _python("bool", bool, ""),
    _python("int", int, "bit_length"),
    _python("float", float, "is_integer"),
    _python("complex", complex, "", truth=False),
    _python(
        "str",
        str,
        "lower upper strip lstrip rstrip split join startswith endswith replace title "
        "capitalize isdigit isalpha count find format format_map",
        iteration=Iteration.SIZED,
        indexing=Indexing.DIRECT,
        repeats=True,
    ),
    _python("ellipsis", type(Ellipsis), "", truth=False),
    _python("slice", slice, "", truth=False, dry_run_key=DryRunKey.SLICE),
    _python(
        "range",
        range,
        "",
        iteration=Iteration.RANGE,
        indexing=Indexing.DIRECT,
        passing=Passing.RANGE,
        dry_run_key=DryRunKey.NONE,
    ),
    # torch.Size is a tuple that crosses torch as it is; named tuples before tuple.
    _python(
        "Size",
        torch.Size,
        "numel index count",
        TUPLE,
        passing=Passing.LEAF,
        dry_run_key=DryRunKey.SIZE,
    ),
    _like(
        TUPLE,
        "PackedSequence",
        PackedSequence,
        access=Access.FIELDS,
        attributes=frozenset(PackedSequence._fields),
        exact=False,
    ),
    _like(
        TUPLE,
        "named tuple of torch",
        *_return_types(),
        access=Access.FIELDS,
        attributes=RETURN_TYPE_FIELDS,
        exact=False,
    ),
    _python(
        "list",
        list,
        "append extend insert pop remove index count reverse sort copy clear",
        TUPLE,
        indexing=Indexing.LIST,
        hashed_items=False,
        brackets=("[", "]"),
    ),
    _python("tuple", tuple, "index count", TUPLE, brackets=("(", ")")),
    # A state_dict() is ordered: a dict's methods, printed as an OrderedDict.
    _python("OrderedDict", OrderedDict, DICT_METHODS, MAPPING),
    _python("dict", dict, DICT_METHODS, MAPPING, brackets=("{", "}")),
    _python(
        "set",
        set,
        "add discard remove pop update union intersection difference symmetric_difference "
        "issubset issuperset copy clear",
        iteration=Iteration.SIZED,
        passing=Passing.REFUSED,
        dry_run_key=DryRunKey.NONE,
        keyed=True,
        brackets=("{", "}"),
    ),
    _like(TENSOR, "Parameter", nn.Parameter, shown_type="torch.nn.parameter.Parameter"),
    _like(TENSOR, "Tensor", torch.Tensor, shown_type="torch.Tensor"),
    _like(TORCH_OBJECT, "dtype", torch.dtype, dry_run_key=DryRunKey.VALUE),
    _like(TORCH_OBJECT, "device", torch.device),
    # The program's own generator: the shared one never comes back (Guard.checked_result).
    _like(
        TORCH_OBJECT,
        "Generator",
        torch.Generator,
        methods=GENERATOR_METHODS,
        dry_run_key=DryRunKey.GENERATOR,
    ),
    _like(
        TORCH_OBJECT,
        "Optimizer",
        torch.optim.Optimizer,
        attributes=OPTIMIZER_ATTRIBUTES,
        methods=OPTIMIZER_METHODS,
    ),
    _like(
        TORCH_OBJECT,
        "LRScheduler",
        torch.optim.lr_scheduler.LRScheduler,
        attributes=SCHEDULER_ATTRIBUTES,
        methods=SCHEDULER_METHODS,
    ),
    # An autograd node: `name()` is a method, the other attributes are read.
    _like(
        TORCH_OBJECT,
        "autograd Node",
        torch.autograd.graph.Node,
        attributes=NODE_ATTRIBUTES - {"name"},
        methods=frozenset({"name"}),
        printed_as_type=True,
    ),
    *(_like(TORCH_OBJECT, mode.__name__, mode, grad_mode=True) for mode in GRAD_MODES),
    _like(
        MODULE,
        "module of the program",
        UserModule,
        access=Access.PROGRAM_MODULE,
        calling=Calling.PROGRAM_MODULE,
        methods=MODULE_CALLS | MODULE_REGISTRATION,
    ),
    *(
        _like(MODULE, kind.__name__, kind, iteration=Iteration.SIZED, indexing=Indexing.DIRECT)
        for kind in MODULE_CONTAINERS
    ),
    _like(MODULE, "Module", nn.Module),
    Kind("namespace", (Namespace,), Access.NAMESPACE),
    Kind(
        "class of the program",
        (UserClass,),
        Access.CLASS,
        calling=Calling.CLASS,
        program_code=True,
    ),
    Kind(
        "object of the program",
        (UserObject,),
        Access.OBJECT,
        iteration=Iteration.OBJECT,
        indexing=Indexing.OBJECT,
        operators=Operators.PROGRAM,
        calling=Calling.OBJECT,
        truth=True,
        program_code=True,
    ),
    Kind("super()", (SuperProxy,), Access.SUPER),
    Kind("method of the program", (BoundUserMethod,), calling=Calling.BOUND, program_code=True),
    Kind("hook handle", (HookHandle,), Access.HANDLE, methods=frozenset({"remove"})),
    Kind("exception", (ExceptionValue,), Access.EXCEPTION, attributes=EXCEPTION_ATTRIBUTES),
    Kind(
        "ctx",
        (ProgramContext,),
        Access.CONTEXT,
        attributes=CONTEXT_ATTRIBUTES,
        methods=CONTEXT_METHODS,
    ),
    Kind(
        "function of the program",
        (UserFunction,),
        calling=Calling.FUNCTION,
        program_code=True,
        shown_type="function",
    ),
    Kind("method", (BoundMethod,), calling=Calling.METHOD),
    Kind("builtin", (Builtin,), calling=Calling.BUILTIN),
    Kind("iterator", (ListIterator,), iteration=Iteration.ITERATOR, shown_type="list_iterator"),
    Kind("dict view", (DictView,), iteration=Iteration.VIEW),
    Kind("torch function", (SafeFunction,), calling=Calling.TORCH_FUNCTION),
    Kind("base class", (BaseClass,), calling=Calling.BASE_CLASS),
    Kind("exception class", (ExceptionClass,), calling=Calling.EXCEPTION_CLASS),
    Kind("type", (TypeProxy,), calling=Calling.TYPE),
    Kind("property", (PropertyValue,)),
    Kind("super", (SuperBuiltin,), calling=Calling.SUPER),
)
# Refused everything: a type no kind covers.
OTHER = Kind("other", ())
# Types met so far, with their kinds. Bounded: each class statement of a program makes a
# type, and a process that runs many programs (the tests) would otherwise keep them all.
MAX_CACHED_TYPES = 4096
_BY_TYPE: dict[type, Kind] = {kind_type: kind for kind in KINDS for kind_type in kind.types}


def kind_of(value: object) -> Kind:
    """The kind of `value`: one dict lookup by its exact type on every path but a type's
    first meeting."""
    try:
        return _BY_TYPE[type(value)]
    except KeyError:
        return _first_kind(type(value))


def kind_of_type(value_type: type) -> Kind:
    """The kind of a value of `value_type`."""
    try:
        return _BY_TYPE[value_type]
    except KeyError:
        return _first_kind(value_type)


def _first_kind(value_type: type) -> Kind:
    for kind in KINDS:
        if issubclass(value_type, kind.types):
            if kind.exact:  # a subclass of a Python builtin: not that builtin
                kind = dataclasses.replace(
                    kind, methods=frozenset(), builtin=False, brackets=None, exact=False
                )
            break
    else:
        kind = OTHER
    if len(_BY_TYPE) < MAX_CACHED_TYPES:
        _BY_TYPE[value_type] = kind
    return kind
