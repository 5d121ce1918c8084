"""Stage 2: evaluate a checked program by walking its syntax tree.

User text is never given to `exec` or `eval`. Each node type has a handler; names resolve
through the program's own scopes, then Python builtins from `pyvalues`, and imports bind
`Namespace` tables from `allowlist`. Every call into torch goes through the `Guard`.
`backward()` and `torch.autograd.grad` are handed to a `BackwardObserver`, which walks and
hooks the graph before backward frees it.
"""

import ast
import contextlib
import difflib
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from app.contract.errors import ProgramError, refused, too_big
from app.contract.settings import Limits
from app.contract.text import without_addresses
from app.worker.sandbox.allowlist import (
    CLASSES,
    LAMBDA_SCHEDULERS,
    MODULE_REGISTRATION,
    NAMESPACES,
    REFUSED_NAMES,
    REFUSED_TENSOR_METHODS,
    TENSOR_METHODS_WITHOUT_DRY_RUN,
    Defined,
    Namespace,
    SafeFunction,
    is_cpu,
)
from app.worker.sandbox.checker import READABLE_DUNDERS, CheckedProgram
from app.worker.sandbox.classes import (
    CONTEXT_ATTRIBUTES,
    CONTEXT_METHODS,
    RESERVED_MODULE_NAMES,
    SANDBOX_PREFIX,
    SUPER,
    BaseClass,
    BoundUserMethod,
    FunctionRunner,
    HookHandle,
    ProgramContext,
    PropertyValue,
    SuperProxy,
    TypeProxy,
    UserClass,
    UserModule,
    UserObject,
    function_type,
    module_type,
    new_module,
    object_type,
)
from app.worker.sandbox.exceptions import (
    CATCHABLE_SLUGS,
    EXCEPTION_ATTRIBUTES,
    EXCEPTION_CLASSES,
    ExceptionClass,
    ExceptionValue,
    caught_value,
    exception_message,
)
from app.worker.sandbox.formatting import check_spec, format_text, percent_format
from app.worker.sandbox.guard import Budget, Guard, check_packed
from app.worker.sandbox.kinds import (
    FUNCTIONS,
    Access,
    Calling,
    Indexing,
    Operators,
    Structure,
    kind_of,
    kind_of_type,
)
from app.worker.sandbox.objects import ObjectProtocol, class_of, type_name
from app.worker.sandbox.preludes import DATA_EXPORTED, data_prelude
from app.worker.sandbox.pyrandom import ProgramRandom
from app.worker.sandbox.pyvalues import PythonValues, TextWriter, formatted, to_text
from app.worker.sandbox.tensors import (
    SHAPE_CHANGING_METHODS,
    assign_data,
    assign_grad,
    check_dense,
    read_data,
)
from app.worker.sandbox.values import (
    TYPE_BUILTINS,
    BoundMethod,
    Builtin,
    Scope,
    UserFunction,
)

BINARY: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.MatMult: ("@", operator.matmul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", operator.pow),
    ast.LShift: ("<<", operator.lshift),
    ast.RShift: (">>", operator.rshift),
    ast.BitOr: ("|", operator.or_),
    ast.BitXor: ("^", operator.xor),
    ast.BitAnd: ("&", operator.and_),
}
INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.iadd,
    "-": operator.isub,
    "*": operator.imul,
    "@": operator.imatmul,
    "/": operator.itruediv,
    "//": operator.ifloordiv,
    "%": operator.imod,
    "**": operator.ipow,
    "<<": operator.ilshift,
    ">>": operator.irshift,
    "|": operator.ior,
    "^": operator.ixor,
    "&": operator.iand,
}
COMPARE: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.Is: ("is", operator.is_),
    ast.IsNot: ("is not", operator.is_not),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
}
# Comparisons that C makes item by item when both sides are containers.
ORDERED_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
SYMBOLS: dict[str, Callable[..., Any]] = {
    **{symbol: fn for symbol, fn in BINARY.values()},
    **{symbol: fn for symbol, fn in COMPARE.values()},
    "abs": abs,
    "neg": operator.neg,
    "pos": operator.pos,
    "invert": operator.invert,
}
UNARY: dict[type[ast.unaryop], str] = {ast.USub: "neg", ast.UAdd: "pos", ast.Invert: "invert"}
# Special methods a class deriving from nn.Module or autograd.Function may not define:
# torch calls its own (`__call__` runs forward, `__repr__` prints the layers).
MODULE_SPECIAL_METHODS = frozenset({"__init__"})
# Tensor attributes that compute a new tensor in the graph (w.T): reported like calls.
COMPUTED_ATTRIBUTES = frozenset({"T", "mT", "real", "imag"})
# Torch functions the interpreter runs itself: backward walks and hooks the graph first.
AUTOGRAD_CALLS = frozenset({"torch.autograd.backward", "torch.autograd.grad"})
# Class statements one program may run (each module or Function class is a real type).
MAX_CLASSES = 1000
# Hooks a program may put on a module: its function runs as the module does (see
# Interpreter.register_module_hook).
MODULE_HOOKS = frozenset({"register_forward_hook", "register_forward_pre_hook"})


class BackwardObserver(Protocol):
    """Runs a backward call with the graph walked and hooked first (see app.worker.capture)."""

    def run_backward(
        self,
        started_by: str,
        roots: list[torch.Tensor],
        names: dict[str, Any],
        call: Callable[[], Any],
    ) -> Any: ...

    def produced(self, value: Any, call: "Call | None" = None) -> None: ...


@dataclass(frozen=True)
class Call:
    """How a torch value was computed, so that the observer can compute it again.

    `function(*args, **kwargs)` (a module for module calls) gave the value; the gradient
    check replays these calls with perturbed inputs (see app.worker.tape).
    """

    function: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class BreakSignal(BaseException):
    """`break`; a BaseException so that no handler for program errors catches it."""


class ContinueSignal(BaseException):
    """`continue`."""


@dataclass
class ReturnSignal(BaseException):
    """`return value`."""

    value: Any


@dataclass
class Evaluation:
    """What running a program leaves behind: its names, its output, its budget use."""

    names: dict[str, Any]
    stdout: str
    steps: int
    elements: int
    backward_calls: int = 0
    last_graph_name: str | None = None


class Interpreter(ObjectProtocol):
    """Runs one checked program. Not reusable: make one per program."""

    def __init__(self, program: CheckedProgram, limits: Limits, observer: BackwardObserver) -> None:
        self.program = program
        self.limits = limits
        self.observer = observer
        self.budget = Budget(limits)
        self.guard = Guard(self.budget)
        self.guard.part_ran = self.module_ran
        self.stdout = TextWriter(limits.max_stdout_chars)
        self.python = PythonValues(self.budget, self.stdout, self.binop, self.truth)
        self.globals = Scope({})
        self.call_depth = 0
        self.backward_calls = 0
        self.last_graph_name: str | None = None
        self._scope_stack: list[Scope] = []
        # (class that defined the running method, its instance), for super().
        self._methods: list[tuple[UserClass, Any]] = []
        # The program's modules run their forward only while the program runs: never when
        # the gradient check replays recorded calls afterwards.
        self.running = False
        # The server's own backward (capture.finish) may run the program's Function.backward.
        self.backward_allowed = False
        self.classes_defined = 0
        self.function_runner = _Runner(self)
        # A program's code runs inside torch's backward (Function.backward, a tensor hook):
        # a backward() there would re-enter the engine and the graph capture.
        self._in_function_backward = 0
        self._hooks: list[Any] = []  # handles of the program's hooks, removed at the end
        self._hooked: set[int] = set()  # ids of modules with forward hooks of the program
        # A program's Function.forward is running: its operations run without autograd by
        # design, and its output becomes the Function's; the tape must not take them for
        # tensors cut from the graph.
        self._in_function_forward = 0
        self._handling: ProgramError | None = None  # the error an except block handles
        # Builtins that call the program's functions (key=, map) or know its classes.
        for name, function in (
            ("type", self.builtin_type),
            ("isinstance", self.builtin_isinstance),
            ("hasattr", self.builtin_hasattr),
            ("map", self.builtin_map),
            ("filter", self.builtin_filter),
            ("sorted", self.builtin_sorted),
            ("min", self.builtin_min),
            ("max", self.builtin_max),
            ("len", self.builtin_len),
            ("hash", self.builtin_hash),
            ("iter", self.builtin_iter),
            ("next", self.builtin_next),
            ("float", self.builtin_float),
            ("int", self.builtin_int),
        ):
            self.python.builtins[name] = Builtin(name, function)
        self.python.iterate_object = self.object_items
        self.random_namespace = ProgramRandom(self.budget, self.python).namespace()
        self._data: Namespace | None = None  # torch.utils.data, once imported

    def run(self) -> Evaluation:
        self.running = True
        try:
            self.exec_block(self.program.tree.body, self.globals)
        except (BreakSignal, ContinueSignal):
            raise ProgramError("SyntaxError", "'break' or 'continue' outside a loop") from None
        except ReturnSignal:
            raise ProgramError("SyntaxError", "'return' outside a function") from None
        finally:
            self.running = False
            # The program's hooks run in its own backward calls, not in the server's.
            for handle in self._hooks:
                handle.remove()
        return Evaluation(
            names=dict(self.globals.names),
            stdout=self.stdout.getvalue(),
            steps=self.budget.steps,
            elements=self.budget.elements,
            backward_calls=self.backward_calls,
            last_graph_name=self.last_graph_name,
        )

    @contextlib.contextmanager
    def server_backward(self) -> Iterator[None]:
        """While the server backpropagates a root the program did not, a custom Function's
        backward on the way runs as in the program (same budgets); nothing else of the
        program does (its modules, hooks and functional functions stay refused)."""
        self.backward_allowed = True
        try:
            yield
        finally:
            self.backward_allowed = False

    # Statements ------------------------------------------------------------------------

    def exec_block(self, body: list[ast.stmt], scope: Scope) -> None:
        for statement in body:
            self.exec_statement(statement, scope)

    def exec_statement(self, node: ast.stmt, scope: Scope) -> None:
        self.budget.step()
        try:
            self._exec(node, scope)
        except ProgramError as error:
            raise error.at(node) from None
        except RecursionError:
            raise ProgramError(
                "Limit reached", "the program nests or recurses too deeply", slug="limit"
            ).at(node) from None
        except MemoryError:
            raise ProgramError("Limit reached", "the program ran out of memory", slug="limit").at(
                node
            ) from None
        except Exception as error:
            raise _program_error(error).at(node) from None

    def _exec(self, node: ast.stmt, scope: Scope) -> None:
        match node:
            case ast.Expr(value=value):
                self.eval(value, scope)
            case ast.Assign(targets=targets, value=value):
                result = self.eval(value, scope)
                for target in targets:
                    self.assign(target, result, scope)
            case ast.AnnAssign(target=target, value=value) if value is not None:
                self.assign(target, self.eval(value, scope), scope)
            case ast.AnnAssign():
                pass
            case ast.AugAssign(target=target, op=op, value=value):
                self.augmented_assign(target, BINARY[type(op)][0], self.eval(value, scope), scope)
            case ast.If(test=test, body=body, orelse=orelse):
                self.exec_block(body if self.truth(self.eval(test, scope)) else orelse, scope)
            case ast.For(target=target, iter=iterable, body=body, orelse=orelse):
                self.exec_for(target, self.eval(iterable, scope), body, orelse, scope)
            case ast.While(test=test, body=body, orelse=orelse):
                self.exec_while(test, body, orelse, scope)
            case ast.Break():
                raise BreakSignal
            case ast.Continue():
                raise ContinueSignal
            case ast.Pass():
                pass
            case ast.Return(value=value):
                raise ReturnSignal(None if value is None else self.eval(value, scope))
            case ast.FunctionDef(decorator_list=decorators):
                function = self.make_function(node, scope)
                for decorator in reversed(decorators):
                    function.grad_mode = self._grad_decorator(decorator, scope)
                scope.names[node.name] = function
            case ast.Try(body=body, handlers=handlers, orelse=orelse, finalbody=final):
                self.exec_try(body, handlers, orelse, final, scope)
            case ast.Raise(exc=exception):
                self.exec_raise(exception, scope)
            case ast.ClassDef():
                scope.names[node.name] = self.define_class(node, scope)
            case ast.With(items=items, body=body):
                self.exec_with(items, body, scope)
            case ast.Import(names=aliases):
                for alias in aliases:
                    if alias.asname:
                        scope.names[alias.asname] = self.namespace(alias.name)
                    else:
                        root = alias.name.split(".")[0]
                        scope.names[root] = self.namespace(root)
            case ast.ImportFrom(module=module, names=aliases):
                namespace = self.namespace(str(module))
                for alias in aliases:
                    scope.names[alias.asname or alias.name] = self.get_attribute(
                        namespace, alias.name
                    )
            case ast.Assert(test=test, msg=message):
                if not self.truth(self.eval(test, scope)):
                    detail = (
                        ""
                        if message is None
                        else to_text(self.eval(message, scope), self.limits.max_sequence_len)
                    )
                    raise ProgramError("AssertionError", detail or "assertion failed")
            case ast.Delete(targets=targets):
                for target in targets:
                    self.delete(target, scope)
            case _:
                raise refused(f"{type(node).__name__} is not supported", node)

    def exec_try(
        self,
        body: list[ast.stmt],
        handlers: list[ast.ExceptHandler],
        orelse: list[ast.stmt],
        final: list[ast.stmt],
        scope: Scope,
    ) -> None:
        """try/except/else/finally. Only the program's own errors are caught (see
        app.worker.sandbox.exceptions); a limit or a refusal ends the program without running
        `finally`, so no code of the program runs past a limit."""
        try:
            try:
                self.exec_block(body, scope)
            except ProgramError as error:
                if not self._handle(error, handlers, scope):
                    raise
            else:
                self.exec_block(orelse, scope)
        except ProgramError as error:
            if error.slug in {"program-error"}:
                self.exec_block(final, scope)
            raise
        except (BreakSignal, ContinueSignal, ReturnSignal):
            self.exec_block(final, scope)
            raise
        self.exec_block(final, scope)

    def _handle(self, error: ProgramError, handlers: list[ast.ExceptHandler], scope: Scope) -> bool:
        for handler in handlers:
            self.budget.step()
            caught = None if handler.type is None else self.eval(handler.type, scope)
            if not self.matches(error, caught):
                continue
            previous = self._handling
            self._handling = error
            try:
                if handler.name:
                    scope.names[handler.name] = caught_value(error)
                self.exec_block(handler.body, scope)
            finally:
                self._handling = previous
                if handler.name:
                    scope.names.pop(handler.name, None)
            return True
        return False

    def exec_raise(self, exception: ast.expr | None, scope: Scope) -> None:
        if exception is None:
            if self._handling is None:
                raise ProgramError("RuntimeError", "No active exception to reraise")
            raise self._handling
        value = self.eval(exception, scope)
        if isinstance(value, ExceptionClass):
            value = ExceptionValue(value.name, (), "")
        elif isinstance(value, UserClass) and value.category == "exception":
            value = self.instantiate(value, (), {})
        if isinstance(value, UserObject) and value.exception_args is not None:
            # The message is written now, under the program's budgets: its __str__ may fail
            # or run long, and nothing of the program runs once the error leaves it.
            try:
                message = to_text(value, 1000)
            except ProgramError as error:
                if error.slug not in CATCHABLE_SLUGS:
                    raise
                message = "<exception str() failed>"
            raise ProgramError(value.cls.name, message or value.cls.name, raised=value)
        if not isinstance(value, ExceptionValue):
            raise ProgramError("TypeError", "exceptions must derive from BaseException")
        raise ProgramError(value.name, value.message or value.name, raised=value)

    def matches(self, error: ProgramError, handler: Any) -> bool:
        """Whether `except handler:` catches `error` (handler: a class or a tuple of them;
        None for a bare except). Limits and refusals are never caught."""
        if error.slug not in CATCHABLE_SLUGS:
            return False
        raised = error.raised
        own_class = raised.cls if isinstance(raised, UserObject) else None
        builtin = own_class.exception_base if own_class else EXCEPTION_CLASSES.get(error.title)
        for cls in handler if isinstance(handler, tuple) else (handler,):
            if cls is None:
                return True
            if isinstance(cls, UserClass) and cls.category == "exception":
                if own_class is not None and own_class.is_subclass_of(cls):
                    return True
                continue
            if not isinstance(cls, ExceptionClass):
                raise ProgramError(
                    "TypeError",
                    "catching classes that do not inherit from BaseException is not allowed",
                )
            if cls.name in {"Exception", "BaseException"}:
                return True
            if builtin is not None and builtin.is_subclass_of(cls):
                return True
        return False

    def namespace(self, name: str) -> Namespace:
        if name == "random":
            return self.random_namespace
        if name == "torch.utils.data":
            return self.data_namespace()
        return NAMESPACES[name]

    def data_namespace(self) -> Namespace:
        """torch.utils.data: what app/worker/sandbox/prelude_data.py defines, run the first
        time the program asks for it, under its rules and budgets (a dataset's __getitem__
        and a collate_fn are the program's code, called by code like its own)."""
        if self._data is None:
            scope = Scope({})
            self.exec_block(data_prelude().tree.body, scope)
            scope.names["_draw_seed"] = Builtin("_draw_seed", self.draw_seed)
            members = {name: scope.names[name] for name in DATA_EXPORTED}
            self._data = Namespace("torch.utils.data", members)
        return self._data

    def draw_seed(self, generator: Any = None) -> int:
        """What DataLoader draws from the program's numbers: one int64, as
        torch.empty((), dtype=torch.int64).random_(generator=generator) draws it."""
        self.guard.check_arguments("torch.utils.data.DataLoader", (), {"generator": generator})
        seed = torch.zeros((), dtype=torch.int64).random_(generator=generator)
        return int(seed.item())

    def make_function(
        self, node: ast.FunctionDef | ast.Lambda, scope: Scope, owner: UserClass | None = None
    ) -> "UserFunction":
        """A `def` or lambda: its defaults are evaluated now, in the defining scope."""
        args = node.args
        defaults = [self.eval(default, scope) for default in args.defaults]
        keyword_defaults = {
            arg.arg: self.eval(default, scope)
            for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
            if default is not None
        }
        return UserFunction(node, defaults, scope, owner, keyword_defaults=keyword_defaults)

    def _grad_decorator(self, decorator: ast.expr, scope: Scope) -> type:
        manager = self.eval(decorator, scope)
        if type(manager) in (torch.no_grad, torch.enable_grad):
            return type(manager)
        raise refused(
            "the decorators a function may have are @torch.no_grad() and @torch.enable_grad()",
            decorator,
        )

    def exec_for(
        self,
        target: ast.expr,
        iterable: Any,
        body: list[ast.stmt],
        orelse: list[ast.stmt],
        scope: Scope,
    ) -> None:
        for item in self.python.items(iterable):
            self.assign(target, item, scope)
            if not self.loop_turn(body, scope):
                return
        self.exec_block(orelse, scope)

    def exec_while(
        self, test: ast.expr, body: list[ast.stmt], orelse: list[ast.stmt], scope: Scope
    ) -> None:
        while self.truth(self.eval(test, scope)):
            if not self.loop_turn(body, scope):
                return
        self.exec_block(orelse, scope)

    def loop_turn(self, body: list[ast.stmt], scope: Scope) -> bool:
        """Run one turn of a loop's body; False when it ended with `break`."""
        self.budget.step()
        try:
            self.exec_block(body, scope)
        except BreakSignal:
            return False
        except ContinueSignal:
            pass
        return True

    def exec_with(self, items: list[ast.withitem], body: list[ast.stmt], scope: Scope) -> None:
        if not items:
            self.exec_block(body, scope)
            return
        first, rest = items[0], items[1:]
        manager = self.eval(first.context_expr, scope)
        if not kind_of(manager).grad_mode:
            raise refused(
                "'with' works with torch.no_grad(), torch.enable_grad() and "
                "torch.set_grad_enabled(...) only",
                first.context_expr,
            )
        with manager:
            if first.optional_vars is not None:
                self.assign(first.optional_vars, None, scope)
            self.exec_with(rest, body, scope)

    # Assignment ------------------------------------------------------------------------

    def assign(self, target: ast.expr, value: Any, scope: Scope) -> None:
        match target:
            case ast.Name(id=name):
                scope.names[name] = value
                if scope is self.globals and isinstance(value, torch.Tensor) and value.grad_fn:
                    self.last_graph_name = name
            case ast.Tuple(elts=elements) | ast.List(elts=elements):
                self.unpack(elements, value, scope)
            case ast.Subscript(value=container, slice=index):
                self.set_item(self.eval(container, scope), self.eval(index, scope), value)
            case ast.Attribute(value=owner, attr=name):
                self.set_attribute(self.eval(owner, scope), name, value)
            case _:
                raise refused(f"cannot assign to {type(target).__name__}", target)

    def unpack(self, targets: list[ast.expr], value: Any, scope: Scope) -> None:
        items = self.python.items(value)
        starred = [i for i, t in enumerate(targets) if isinstance(t, ast.Starred)]
        if starred:
            at = starred[0]
            after = len(targets) - at - 1
            if len(items) < len(targets) - 1:
                raise ProgramError("ValueError", "not enough values to unpack")
            star = targets[at]
            assert isinstance(star, ast.Starred)
            self.assign(star.value, items[at : len(items) - after], scope)
            pairs = list(zip(targets[:at], items[:at], strict=True))
            pairs += list(zip(targets[at + 1 :], items[len(items) - after :], strict=True))
        elif len(items) != len(targets):
            raise ProgramError(
                "ValueError", f"expected {len(targets)} values to unpack, got {len(items)}"
            )
        else:
            pairs = list(zip(targets, items, strict=True))
        for target, item in pairs:
            self.assign(target, item, scope)

    def augmented_assign(self, target: ast.expr, symbol: str, value: Any, scope: Scope) -> None:
        match target:
            case ast.Name(id=name):
                found, current = scope.lookup(name)
                if not found:
                    raise ProgramError("NameError", f"name '{name}' is not defined")
                scope.names[name] = self.binop(symbol, current, value, inplace=True)
            case ast.Subscript(value=container_node, slice=index_node):
                container = self.eval(container_node, scope)
                index = self.eval(index_node, scope)
                current = self.get_item(container, index)
                self.set_item(container, index, self.binop(symbol, current, value, inplace=True))
            case ast.Attribute(value=owner_node, attr=name):
                owner = self.eval(owner_node, scope)
                current = self.get_attribute(owner, name)
                self.set_attribute(owner, name, self.binop(symbol, current, value, inplace=True))
            case _:
                raise refused(f"cannot assign to {type(target).__name__}", target)

    def set_item(self, container: Any, index: Any, value: Any) -> None:
        indexing = kind_of(container).indexing
        if indexing == Indexing.TENSOR:
            self.guard.check_arguments("Tensor item assignment", (index, value), {})
            container[index] = value
        elif indexing == Indexing.LIST and isinstance(index, slice):
            # `a[:] = range(10**9)` materialises its right-hand side: sized like list(...).
            items = self.python.items(value)
            replaced = len(range(*index.indices(len(container))))
            self.budget.sequence(len(container) - replaced + len(items), "a list")
            self.budget.create(len(items))
            container[index] = items
        elif indexing == Indexing.LIST:
            container[index] = value
        elif indexing == Indexing.KEY:
            self.budget.sequence(len(container) + 1, "a dict")
            container[self.python.key(index)] = value
        elif indexing == Indexing.OBJECT and container.cls.find("__setitem__")[0]:
            self.special(container, "__setitem__", index, value)
        else:
            raise ProgramError(
                "TypeError", f"a {type(container).__name__} does not support item assignment here"
            )

    def set_attribute(self, owner: Any, name: str, value: Any) -> None:
        kind = kind_of(owner)
        if kind.access == Access.PROGRAM_MODULE:
            self.set_module_attribute(owner, name, value)
            return
        if kind.access == Access.CONTEXT:
            if name in CONTEXT_ATTRIBUTES | CONTEXT_METHODS or name.startswith("_"):
                raise refused(f"ctx.{name} is torch's and cannot be set; use another name")
            owner.attributes[name] = value
            self.budget.sequence(len(owner.attributes), "ctx's attributes")
            return
        if kind.access == Access.CLASS:  # Counter.count += 1
            owner.attributes[name] = value
            self.budget.sequence(len(owner.attributes), "a class's attributes")
            return
        if kind.access == Access.OBJECT:
            if not self.set_property(owner, owner.cls, name, value):
                owner.attributes[name] = value
                self.budget.sequence(len(owner.attributes), "an object's attributes")
            return
        if name not in kind.settable:
            raise refused(
                f"cannot set attribute '{name}' of a {type(owner).__name__}; only "
                "a tensor's .data, .grad and .requires_grad can be set"
            )
        self.guard.check_arguments(f"Tensor.{name}", (value,), {})
        if name == "data":
            assign_data(owner, value)
        elif name == "grad":
            assign_grad(owner, value)
        else:
            if value:
                check_dense(owner, "a tensor that requires grad")
            owner.requires_grad = value

    def delete(self, target: ast.expr, scope: Scope) -> None:
        match target:
            case ast.Name(id=name) if name in scope.names:
                del scope.names[name]
            case ast.Subscript(value=container, slice=index):
                owner = self.eval(container, scope)
                indexing = kind_of(owner).indexing
                if indexing == Indexing.OBJECT and owner.cls.find("__delitem__")[0]:
                    self.special(owner, "__delitem__", self.eval(index, scope))
                    return
                if indexing not in {Indexing.LIST, Indexing.KEY}:
                    raise ProgramError("TypeError", "only list and dict items can be deleted")
                del owner[self.python.key(self.eval(index, scope))]
            case _:
                raise refused("only names and list or dict items can be deleted", target)

    # Expressions -----------------------------------------------------------------------

    def eval(self, node: ast.expr, scope: Scope) -> Any:
        try:
            return self._eval(node, scope)
        except ProgramError as error:
            raise error.at(node) from None
        except (RecursionError, MemoryError):
            raise
        except Exception as error:
            raise _program_error(error).at(node) from None

    def _eval(self, node: ast.expr, scope: Scope) -> Any:
        match node:
            case ast.Constant(value=value):
                return value
            case ast.Name(id=name):
                return self.lookup(name, scope)
            case ast.Attribute(value=owner, attr=name):
                return self.get_attribute(self.eval(owner, scope), name)
            case ast.Subscript(value=container, slice=index):
                return self.get_item(self.eval(container, scope), self.eval(index, scope))
            case ast.Slice(lower=lower, upper=upper, step=step):
                return slice(
                    *(
                        None if part is None else self.eval(part, scope)
                        for part in (lower, upper, step)
                    )
                )
            case ast.Call():
                return self.eval_call(node, scope)
            case ast.Lambda():
                return self.make_function(node, scope)
            case ast.BinOp(left=left, op=op, right=right):
                return self.binop(
                    BINARY[type(op)][0], self.eval(left, scope), self.eval(right, scope)
                )
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not self.truth(self.eval(operand, scope))
            case ast.UnaryOp(op=op, operand=operand):
                return self.binop(UNARY[type(op)], self.eval(operand, scope), None)
            case ast.BoolOp(op=op, values=values):
                return self.eval_boolean(isinstance(op, ast.And), values, scope)
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                return self.eval_compare(left, ops, comparators, scope)
            case ast.IfExp(test=test, body=body, orelse=orelse):
                return self.eval(body if self.truth(self.eval(test, scope)) else orelse, scope)
            case ast.List(elts=elements):
                return self.eval_sequence(elements, scope)
            case ast.Tuple(elts=elements):
                return tuple(self.eval_sequence(elements, scope))
            case ast.Set(elts=elements):
                return set(map(self.python.key, self.eval_sequence(elements, scope)))
            case ast.Dict(keys=keys, values=values):
                return self.eval_dict(keys, values, scope)
            case ast.JoinedStr(values=parts):
                return self.eval_fstring(parts, scope)
            case ast.ListComp(elt=element, generators=generators):
                return [item for item in self.comprehend(element, None, generators, scope)]
            case ast.GeneratorExp(elt=element, generators=generators):
                # Evaluated eagerly: a program never holds a real generator (or its frame).
                return [item for item in self.comprehend(element, None, generators, scope)]
            case ast.SetComp(elt=element, generators=generators):
                return set(map(self.python.key, self.comprehend(element, None, generators, scope)))
            case ast.DictComp(key=key, value=value, generators=generators):
                pairs = self.comprehend(key, value, generators, scope)
                return {self.python.key(k): v for k, v in pairs}
        raise refused(f"{type(node).__name__} is not supported", node)

    def lookup(self, name: str, scope: Scope) -> Any:
        found, value = scope.lookup(name)
        if found:
            return value
        if name in self.python.builtins:
            return self.python.builtins[name]
        if name == "super":
            return SUPER
        if name in EXCEPTION_CLASSES:
            return EXCEPTION_CLASSES[name]
        raise ProgramError("NameError", f"name '{name}' is not defined")

    def eval_sequence(self, elements: list[ast.expr], scope: Scope) -> list[Any]:
        result: list[Any] = []
        for element in elements:
            if isinstance(element, ast.Starred):
                result.extend(self.python.items(self.eval(element.value, scope)))
            else:
                result.append(self.eval(element, scope))
            self.budget.sequence(len(result))
        return result

    def eval_dict(
        self, keys: list[ast.expr | None], values: list[ast.expr], scope: Scope
    ) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key, value in zip(keys, values, strict=True):
            if key is None:
                result.update(self.python.builtin_dict(self.eval(value, scope)))
            else:
                result[self.python.key(self.eval(key, scope))] = self.eval(value, scope)
            self.budget.sequence(len(result), "a dict")
        return result

    def eval_boolean(self, is_and: bool, values: list[ast.expr], scope: Scope) -> Any:
        result: Any = None
        for value in values:
            result = self.eval(value, scope)
            if self.truth(result) != is_and:
                return result
        return result

    def eval_compare(
        self, left: ast.expr, ops: list[ast.cmpop], comparators: list[ast.expr], scope: Scope
    ) -> Any:
        current = self.eval(left, scope)
        result: Any = True
        for op, comparator in zip(ops, comparators, strict=True):
            right = self.eval(comparator, scope)
            result = self.binop(COMPARE[type(op)][0], current, right)
            if len(ops) > 1 and not self.truth(result):
                return result
            current = right
        return result

    def eval_fstring(self, parts: list[ast.expr], scope: Scope) -> str:
        pieces: list[str] = []
        for part in parts:
            if isinstance(part, ast.Constant):
                pieces.append(str(part.value))
                continue
            assert isinstance(part, ast.FormattedValue)
            value = self.eval(part.value, scope)
            spec = "" if part.format_spec is None else self.eval(part.format_spec, scope)
            conversion = None if part.conversion == -1 else chr(part.conversion)
            pieces.append(self.format_value(value, spec, conversion))
            self.budget.sequence(sum(map(len, pieces)), "a string")
        return "".join(pieces)

    def format_value(self, value: Any, spec: str, conversion: str | None) -> str:
        """One field of an f-string or of str.format, as Python writes it."""
        limit = self.limits.max_sequence_len
        if conversion in ("r", "a"):
            value = to_text(value, limit, quoted=True)
        elif conversion == "s":
            value = to_text(value, limit)
        check_spec(spec)
        return formatted(value, spec, limit)

    def comprehend(
        self,
        element: ast.expr,
        value: ast.expr | None,
        generators: list[ast.comprehension],
        scope: Scope,
    ) -> Iterator[Any]:
        inner = Scope({}, scope)
        produced = 0

        def expand(level: int) -> Iterator[Any]:
            nonlocal produced
            if level == len(generators):
                produced += 1
                self.budget.sequence(produced, "a comprehension")
                if value is None:
                    yield self.eval(element, inner)
                else:
                    yield (self.eval(element, inner), self.eval(value, inner))
                return
            generator = generators[level]
            if generator.is_async:
                raise refused("async comprehensions are not supported", generator.iter)
            for item in self.python.items(self.eval(generator.iter, inner)):
                self.budget.step()
                self.assign(generator.target, item, inner)
                if all(self.truth(self.eval(test, inner)) for test in generator.ifs):
                    yield from expand(level + 1)

        return expand(0)

    # Operators -------------------------------------------------------------------------

    def binop(self, symbol: str, left: Any, right: Any, inplace: bool = False) -> Any:
        """Apply an operator; tensors are sized by the guard, Python values here."""
        if symbol == "%" and isinstance(left, str):
            # Before the tensor case: "%999999999s" % tensor must be bounded too.
            limit = self.limits.max_sequence_len
            text = percent_format(left, right, lambda v, quoted: to_text(v, limit, quoted))
            self.budget.create(len(text), "a string")
            return text
        function = INPLACE[symbol] if inplace else SYMBOLS[symbol]
        operands = (
            (left,)
            if right is None and symbol in {"abs", "neg", "pos", "invert"}
            else (left, right)
        )
        # Who applies it: a unary operator's `right` is None, whose operators are Python's.
        applied = (kind_of(left).operators, kind_of(right).operators)
        if Operators.PROGRAM in applied:
            return self.object_operator(symbol, function, operands, inplace)
        if Operators.TENSOR in applied:
            if symbol == "*" and any(kind_of(operand).repeats for operand in operands):
                # `'a' * torch.tensor(10**9)` would repeat the string through Tensor.__index__,
                # past every size check.
                raise refused(
                    "a string, list or tuple can be repeated by an int, not by a tensor; "
                    "use int(...) first"
                )
            result = self.guard.operator(symbol, function, *operands)
            return self._produced(result, Call(function, operands, {}))
        self._check_python_operator(symbol, left, right)
        result = function(*operands)
        if isinstance(result, int):
            self.budget.integer(result.bit_length())
        return result

    def _check_python_operator(self, symbol: str, left: Any, right: Any) -> None:
        if symbol == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
            self.budget.integer(left.bit_length() * right)
        elif symbol == "*" and _is_int(left) and _is_int(right):
            self.budget.integer(left.bit_length() + right.bit_length())
        elif symbol == "*" and kind_of(left).repeats and _is_int(right):
            self.budget.create(len(left) * max(right, 0))
        elif symbol == "*" and _is_int(left) and kind_of(right).repeats:
            self.budget.create(len(right) * max(left, 0))
        elif symbol == "<<" and _is_int(left) and _is_int(right) and right > 0:
            self.budget.integer(left.bit_length() + right)
        elif symbol == "+" and kind_of(left).repeats and kind_of(right).repeats:
            self.budget.create(len(left) + len(right))
        elif symbol in {"in", "not in"} and kind_of(right).keyed:
            self.python.key(left)
        elif symbol in {"in", "not in"}:
            self.python.searched(left, right)
        elif symbol in ORDERED_COMPARISONS:
            self.python.compared(left, right)

    def truth(self, value: Any) -> bool:
        # A program's object answers by its __bool__, else __len__ (see UserObject).
        return bool(value) if kind_of(value).truth else True

    # Attributes and items --------------------------------------------------------------

    def get_attribute(self, owner: Any, name: str) -> Any:
        if name == "__name__":
            return self.name_of(owner)
        if name == "__class__":  # x.__class__.__name__: what type(x) gives
            return self.builtin_type(owner)
        kind = kind_of(owner)
        match kind.access:
            case Access.NAMESPACE:
                if name in owner.members:
                    member = owner.members[name]
                    if isinstance(member, Defined):
                        return self.namespace(member.qualname)
                    return member
                reason = REFUSED_NAMES.get(f"{owner.qualname}.{name}")
                raise refused(
                    f"{owner.qualname}.{name} is not available"
                    + (f": {reason}" if reason else " in this sandbox")
                )
            case Access.TENSOR:
                if name in COMPUTED_ATTRIBUTES:
                    value = self.guard.checked_result(f"Tensor.{name}", getattr(owner, name))
                    return self._produced(value, Call(operator.attrgetter(name), (owner,), {}))
                if name == "data":
                    return read_data(owner)
                if name in kind.attributes:
                    return self.guard.checked_result(f"Tensor.{name}", getattr(owner, name))
                reason = SHAPE_CHANGING_METHODS.get(name) or REFUSED_TENSOR_METHODS.get(name)
                if reason:
                    raise refused(f"'{name}' of a Tensor is not available: {reason}")
                if name in kind.methods:  # the hook: register_hook()
                    return BoundMethod(owner, name)
                if name not in dir(torch.Tensor):
                    # A typo (b.gradd), not something the sandbox withholds: say it as Python
                    # would, with the nearest name the sandbox allows. dir() of the class runs
                    # no property.
                    near = difflib.get_close_matches(name, kind.attributes | kind.methods, n=1)
                    hint = f"; did you mean '{near[0]}'?" if near else ""
                    raise ProgramError("AttributeError", f"Tensor has no attribute '{name}'{hint}")
            case Access.CLASS if owner.category == "function" and name == "apply":
                return BoundMethod(owner, name)
            case Access.CLASS | Access.OBJECT | Access.SUPER:
                return self.class_attribute(owner, name)
            case Access.EXCEPTION if name in kind.attributes:
                return owner.args
            case Access.CONTEXT if not name.startswith("_"):
                return BoundMethod(owner, name) if name in kind.methods else owner.read(name)
            case Access.MODULE | Access.PROGRAM_MODULE:
                members = {**owner._parameters, **owner._buffers, **owner._modules}
                if name in members:
                    return members[name]
                if kind.access == Access.PROGRAM_MODULE:
                    if name in owner._agx_names:
                        return owner.__dict__[name]
                    found, value = owner._agx_class.find(name)
                    if found:
                        return self.bind(value, owner)
                if name in kind.methods:
                    return BoundMethod(owner, name)
                if name in kind.attributes and hasattr(owner, name):
                    return self.guard.checked_result(name, getattr(owner, name))
            case Access.TORCH_OBJECT | Access.HANDLE:
                if name in kind.methods:
                    return BoundMethod(owner, name)
                if name in kind.attributes:
                    return self.guard.checked_result(name, getattr(owner, name))
            case Access.FIELDS if name in kind.attributes:
                return getattr(owner, name)
            case Access.PYTHON if name in kind.methods:
                return BoundMethod(owner, name)
        if isinstance(owner, SafeFunction):  # a class or function of torch's, as Python shows it
            raise refused(f"'{name}' of {owner!r} is not available in this sandbox")
        shown = kind.shown_name or type(owner).__name__
        article = "an" if shown[:1].lower() in "aeiou" else "a"
        raise refused(f"'{name}' of {article} {shown} is not available in this sandbox")

    def name_of(self, owner: Any) -> str:
        """`type(self).__name__`: the name of a class or function, nothing else's."""
        match owner:
            case UserClass(name=name) | ExceptionClass(name=name):
                return name
            case Builtin(name=name):
                return name
            case TypeProxy(qualname=qualname):
                return qualname.rsplit(".", 1)[-1]
            case SafeFunction(target=type() as target):
                return target.__name__
            case UserFunction():
                return owner.name
        raise refused(
            f"'__name__' of a {type_name(owner)} is not available: only a class or "
            "a function has one here"
        )

    def get_item(self, container: Any, index: Any) -> Any:
        match kind_of(container).indexing:
            case Indexing.TENSOR:
                self.guard.check_arguments("Tensor indexing", (index,), {})
                result = self.guard.operator("[]", operator.getitem, container, index)
                return self._produced(result, Call(operator.getitem, (container, index), {}))
            case Indexing.KEY:
                return container[self.python.key(index)]
            case Indexing.OBJECT:
                found, result = self.special(container, "__getitem__", index)
                if found:
                    return result
                raise ProgramError(
                    "TypeError", f"'{type_name(container)}' object is not subscriptable"
                )
            case Indexing.DIRECT | Indexing.LIST:
                return container[index]
        raise ProgramError("TypeError", f"a {type(container).__name__} cannot be indexed here")

    # Calls -----------------------------------------------------------------------------

    def eval_call(self, node: ast.Call, scope: Scope) -> Any:
        function = self.eval(node.func, scope)
        args = tuple(self.eval_sequence(node.args, scope))
        kwargs: dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg is not None:
                items = [(keyword.arg, self.eval(keyword.value, scope))]
            else:  # f(**options)
                mapping = self.eval(keyword.value, scope)
                if not isinstance(mapping, dict):
                    raise ProgramError(
                        "TypeError", f"argument after ** must be a dict, not {type_name(mapping)}"
                    )
                items = list(mapping.items())
            for key, value in items:
                if not isinstance(key, str):
                    raise ProgramError("TypeError", "keywords must be strings")
                if key in kwargs:
                    raise ProgramError(
                        "TypeError", f"got multiple values for keyword argument '{key}'"
                    )
                kwargs[key] = value
            self.budget.sequence(len(kwargs), "keyword arguments")
        self.budget.step()
        return self.call(function, args, kwargs)

    def call(self, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        match kind_of(function).calling:
            case Calling.FUNCTION:
                return self.call_user(function, args, kwargs)
            case Calling.BUILTIN:
                function.check_call(args, kwargs)
                result = function.function(*args, **kwargs)
                if _is_int(result):  # int('9' * 4000) is a 13,000-bit number
                    self.budget.integer(result.bit_length())
                if _holds_program_code((*args, *kwargs.values())):
                    # sum() of the program's objects ran their __radd__: the operations inside
                    # were recorded one by one, and a replay must not run the program again.
                    return self._produced(result)
                return self._produced(result, Call(function.function, args, kwargs))
            case Calling.TORCH_FUNCTION if function.qualname in AUTOGRAD_CALLS:
                return self.autograd_call(function, args, kwargs)
            case Calling.TORCH_FUNCTION if function.qualname.startswith(
                "torch.autograd.functional."
            ):
                return self.functional_call(function, args, kwargs)
            case Calling.TORCH_FUNCTION if (
                function.qualname.rsplit(".", 1)[-1] in LAMBDA_SCHEDULERS
            ):
                return self.lambda_scheduler(function, args, kwargs)
            case Calling.TORCH_FUNCTION:
                result = self.guard.call(function, args, kwargs)
                return self._produced(result, Call(function.target, args, kwargs))
            case Calling.METHOD:
                return self.call_method(function.receiver, function.name, args, kwargs)
            case Calling.CLASS:
                return self.instantiate(function, args, kwargs)
            case Calling.BOUND:
                return self.call_bound(function.function, function.receiver, args, kwargs)
            case Calling.OBJECT:
                found, method = function.cls.find("__call__")
                if not found or method is None:
                    raise ProgramError(
                        "TypeError", f"'{type_name(function)}' object is not callable"
                    )
                self.budget.step()
                return self.call_bound(method, function, args, kwargs)
            case Calling.SUPER:
                return self.make_super(args)
            case Calling.EXCEPTION_CLASS:
                if kwargs:
                    raise ProgramError("TypeError", f"{function.name}() takes no keyword arguments")
                return ExceptionValue(function.name, args, exception_message(function.name, args))
            case Calling.BASE_CLASS:
                qualname = function.qualname
                raise refused(f"{qualname} is a base class: write class Name({qualname}):")
            case Calling.TYPE if isinstance(function.construct, SafeFunction):
                return self.call(function.construct, args, kwargs)  # torch.Tensor([1.0])
            case Calling.PROGRAM_MODULE:
                # nn.Module.__call__ runs the program's forward through UserModule.forward;
                # the operations inside are reported one by one, so no Call is kept here.
                return function(*args, **kwargs)
            case Calling.MODULE:
                result = self.guard.call_module(function, args, kwargs)
                return self.module_ran(function, args, kwargs, result)
        raise ProgramError("TypeError", f"a {type(function).__name__} is not callable")

    def module_ran(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
    ) -> Any:
        """Report a torch module's call (or, through the guard, of a torch part of a container
        holding a module of the program) for the gradient check to replay."""
        subs = list(module.modules())
        if any(id(sub) in self._hooked or isinstance(sub, UserModule) for sub in subs):
            # The program's forward hooks, or its module's forward, ran inside: a replay
            # would run the program again (or compute without them): not recorded. The
            # operations of the program's forward, and the torch parts, are recorded.
            return self._produced(result)
        return self._produced(result, Call(module, args, kwargs))

    def call_method(
        self, receiver: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """`receiver.name(...)`, where get_attribute bound `name` from the receiver's kind."""
        match kind_of(receiver).access:
            case Access.HANDLE if name == "remove":
                receiver.handle.remove()
                return None
            case Access.TENSOR if name == "register_hook":
                return self.register_hook(receiver, args, kwargs)
            case Access.TENSOR if name == "backward":
                self.guard.check_arguments("Tensor.backward", args, kwargs)
                return self.backward(
                    "backward",
                    [receiver],
                    lambda: receiver.backward(*args, **kwargs),
                )
            case Access.TENSOR:
                dry_run = name not in TENSOR_METHODS_WITHOUT_DRY_RUN
                result = self.guard.call_method(receiver, name, args, kwargs, dry_run)
                unbound = getattr(torch.Tensor, name, None)
                call = Call(unbound, (receiver, *args), kwargs) if unbound is not None else None
                return self._produced(result, call)
            case Access.SUPER:
                return self.call_super_init(receiver, args, kwargs)
            case Access.CLASS:  # Function.apply
                return self.apply_function(receiver, args, kwargs)
            case Access.CONTEXT:  # ctx.save_for_backward
                if kwargs:
                    raise ProgramError("TypeError", "save_for_backward takes tensors only")
                return receiver.save_for_backward(*args)
            case Access.MODULE | Access.PROGRAM_MODULE if name in MODULE_HOOKS:
                return self.register_module_hook(receiver, name, args, kwargs)
            case Access.MODULE | Access.PROGRAM_MODULE if name == "apply":
                return self.module_apply(receiver, args, kwargs)
            case Access.MODULE | Access.PROGRAM_MODULE if name in {"to", "cpu"}:
                return self.module_to(receiver, name, args, kwargs)
            case Access.MODULE | Access.PROGRAM_MODULE:
                self._check_module_method(receiver, name, args, kwargs)
                if isinstance(receiver, nn.ModuleDict) and name in {"keys", "values", "items"}:
                    return list(getattr(receiver, name)())  # its items, not a live view
                return self._produced(self.guard.call_method(receiver, name, args, kwargs, False))
            case Access.TORCH_OBJECT:
                return self._produced(self.guard.call_method(receiver, name, args, kwargs, False))
        if isinstance(receiver, str) and name in {"format", "format_map"}:
            if name == "format_map":
                mapping = args[0] if len(args) == 1 and not kwargs else None
                if not isinstance(mapping, dict):
                    raise ProgramError("TypeError", "format_map() takes one dict here")
                args, kwargs = (), mapping
            text = format_text(receiver, args, kwargs, self.format_value)
            self.budget.create(len(text), "a string")
            return text
        if isinstance(receiver, list) and name == "sort" and "key" in kwargs:
            receiver[:] = self.builtin_sorted(receiver, **kwargs)
            return None
        return self.python.call_method(receiver, name, args, kwargs)

    def autograd_call(
        self, function: SafeFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        self.guard.check_arguments(function.qualname, args, kwargs)
        if kwargs.get("is_grads_batched") or (
            function.target is torch.autograd.grad and len(args) > 7 and args[7]
        ):
            # torch vmaps the backward: a tensor hook of the program's would be handed a
            # batched tensor whose sizes are not its memory's, and the result is batch x
            # inputs, past what the guard sized.
            raise refused(f"{function.qualname}: is_grads_batched is not available here")
        outputs = args[0] if args else kwargs.get("outputs", kwargs.get("tensors"))
        candidates = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
        roots = [root for root in candidates if isinstance(root, torch.Tensor)]
        if len(roots) != len(candidates) or not roots:
            raise ProgramError("TypeError", f"{function.qualname} needs tensors to start from")
        started_by = function.qualname.rsplit(".", 1)[1]
        result = self.backward(started_by, roots, lambda: function.target(*args, **kwargs))
        # Gradients are as large as the inputs they are for: charged as any new tensor.
        for made in result if isinstance(result, tuple) else ():
            if isinstance(made, torch.Tensor):
                self.budget.allocate(made.numel(), function.qualname)
        checked = self.guard.checked_result(function.qualname, result)
        return self._produced(checked, Call(function.target, args, kwargs))

    def backward(self, started_by: str, roots: list[torch.Tensor], call: Callable[[], Any]) -> Any:
        if self._in_function_backward:
            raise refused(
                f"{started_by}() cannot run inside the backward of an autograd Function, a tensor "
                "hook or a function given to torch.autograd.functional; compute the "
                "gradient with tensor operations"
            )
        self.backward_calls += 1
        return self.observer.run_backward(started_by, roots, self.current_names(), call)

    def current_names(self) -> dict[str, Any]:
        return self._scope_stack[-1].visible() if self._scope_stack else dict(self.globals.names)

    def call_user(
        self, function: UserFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not (self.running or self.backward_allowed):
            # The gradient check replays recorded calls afterwards (sum() of the program's
            # objects among them): none of the program's code runs then.
            raise ProgramError("RuntimeError", f"{function.name} runs only inside the program")
        if self.call_depth >= self.limits.max_call_depth:
            raise ProgramError(
                "Limit reached",
                f"calls nest deeper than {self.limits.max_call_depth} levels (endless recursion?)",
                slug="limit",
            )
        scope = Scope(_bind_arguments(function, args, kwargs), function.scope)
        self.call_depth += 1
        self._scope_stack.append(scope)
        try:
            if function.grad_mode is not None:
                with function.grad_mode():
                    return self._run_body(function, scope)
            return self._run_body(function, scope)
        finally:
            self.call_depth -= 1
            self._scope_stack.pop()

    def _run_body(self, function: UserFunction, scope: Scope) -> Any:
        if isinstance(function.node, ast.Lambda):
            return self.eval(function.node.body, scope)
        try:
            self.exec_block(function.node.body, scope)
        except ReturnSignal as signal:
            return signal.value
        except (BreakSignal, ContinueSignal):
            raise ProgramError("SyntaxError", "'break' or 'continue' outside a loop") from None
        return None

    # Builtins that call back into the program -------------------------------------------

    def builtin_type(self, value: Any) -> Any:
        """type(x): a builtin (int, list...), a class of the program, or a printable proxy."""
        kind_of_value = kind_of(value)
        if kind_of_value.builtin:
            return self.python.builtins[kind_of_value.name]
        own = class_of(value)
        if own is not None:
            return own
        if kind_of_value.access == Access.EXCEPTION:
            return EXCEPTION_CLASSES.get(value.name, EXCEPTION_CLASSES["Exception"])
        value_type = type(value)
        if value_type in CLASSES:  # the very object the program names it by: nn.Linear
            return CLASSES[value_type]
        if kind_of_value.shown_type is not None:
            return TypeProxy(kind_of_value.shown_type)
        # The sandbox's stand-ins are shown as what they stand for, never by their own names.
        match value:
            case Namespace():
                return TypeProxy("module")
            case SuperProxy():
                return TypeProxy("super")
            case UserClass() | ExceptionClass() | BaseClass() | TypeProxy():
                return self.python.builtins["type"]  # a class
            case SafeFunction(target=type()):
                return self.python.builtins["type"]  # torch's class
            case SafeFunction() | Builtin():
                return TypeProxy("builtin_function_or_method")
        module = value_type.__module__
        return TypeProxy(
            value_type.__qualname__
            if module == "builtins"
            else f"{module}.{value_type.__qualname__}"
        )

    def builtin_hasattr(self, value: Any, name: Any) -> bool:
        """hasattr(x, name): whether reading `x.name` here would give a value. What the
        sandbox withholds is missing, as a typo is; a name starting with '__' is refused as
        it is written out (`x.__dict__`)."""
        if not isinstance(name, str):
            raise ProgramError("TypeError", "hasattr(): attribute name must be string")
        if name.startswith("__") and name not in READABLE_DUNDERS:
            raise refused(
                f"hasattr: attribute '{name}' is not allowed: names starting with '__' are internal"
            )
        try:
            self.get_attribute(value, name)
        except ProgramError as error:
            if error.title == "AttributeError" or error.slug == "not-allowed":
                return False
            raise
        return True

    def builtin_isinstance(self, value: Any, classes: Any) -> bool:
        options = classes if isinstance(classes, tuple) else (classes,)
        return any(self._is_instance(value, option) for option in options)

    def _is_instance(self, value: Any, option: Any) -> bool:
        match option:
            case Builtin(name=name) if name in TYPE_BUILTINS:
                return isinstance(value, TYPE_BUILTINS[name])
            case TypeProxy(qualname="torch.Tensor"):
                return isinstance(value, torch.Tensor)
            case TypeProxy():
                return bool(self.builtin_type(value) == option)
            case BaseClass(category="module"):
                return isinstance(value, nn.Module)
            case SafeFunction(target=type() as target) if issubclass(
                target, nn.Module | torch.Tensor | torch.optim.Optimizer
            ):
                return isinstance(value, target)
            case UserClass():
                own = class_of(value)
                return own is not None and own.is_subclass_of(option)
            case ExceptionClass():
                own = class_of(value)
                if own is not None:
                    return own.exception_base is not None and own.exception_base.is_subclass_of(
                        option
                    )
                return isinstance(value, ExceptionValue) and EXCEPTION_CLASSES.get(
                    value.name, EXCEPTION_CLASSES["Exception"]
                ).is_subclass_of(option)
        raise ProgramError("TypeError", "isinstance() arg 2 must be a type or tuple of types")

    def builtin_map(self, function: Any, *iterables: Any) -> list[Any]:
        """map(), made into a list at once (a program never holds a lazy iterator)."""
        if not iterables:
            raise ProgramError("TypeError", "map() must have at least two arguments.")
        rows = zip(*(self.python.items(items) for items in iterables), strict=False)
        return [self.call(function, row, {}) for row in rows]

    def builtin_filter(self, function: Any, iterable: Any) -> list[Any]:
        items = self.python.items(iterable)
        if function is None:
            return [item for item in items if self.truth(item)]
        return [item for item in items if self.truth(self.call(function, (item,), {}))]

    def builtin_sorted(self, iterable: Any, key: Any = None, reverse: bool = False) -> list[Any]:
        items = self.python.items(iterable)
        if key is None:
            self.python.sorting(items)
            return sorted(items, reverse=reverse)
        keys = [self.call(key, (item,), {}) for item in items]
        self.python.sorting(keys)
        order = sorted(range(len(items)), key=keys.__getitem__, reverse=reverse)
        return [items[index] for index in order]

    def builtin_min(self, *values: Any, key: Any = None) -> Any:
        return self._extreme(values, key, "<")

    def builtin_max(self, *values: Any, key: Any = None) -> Any:
        return self._extreme(values, key, ">")

    def _extreme(self, values: tuple[Any, ...], key: Any, symbol: str) -> Any:
        if not values:
            raise ProgramError("TypeError", "expected at least 1 argument, got 0")
        items = self.python.items(values[0]) if len(values) == 1 else list(values)
        if not items:
            raise ProgramError("ValueError", "min()/max() of an empty sequence")
        best, best_key = items[0], None
        for index, item in enumerate(items):
            measured = item if key is None else self.call(key, (item,), {})
            if index == 0 or self.truth(self.binop(symbol, measured, best_key)):
                best, best_key = item, measured
        return best

    # The program's functions where torch takes a callable ------------------------------

    def register_hook(
        self, tensor: torch.Tensor, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> HookHandle:
        """x.register_hook(fn): torch calls a wrapper of ours during backward, which runs fn
        in the interpreter and checks what it returns like a gradient."""
        if len(args) != 1 or kwargs:
            raise ProgramError("TypeError", "register_hook takes one function")
        function = args[0]
        if kind_of(function).calling not in FUNCTIONS:
            raise ProgramError("TypeError", "register_hook takes a function of the program")
        shape, dtype = tuple(tensor.shape), tensor.dtype

        def hook(grad: torch.Tensor) -> torch.Tensor | None:
            result = self._callback("a tensor hook", function, (grad,))
            if result is None:
                return None
            return _checked_gradient("the hook", result, shape, dtype)

        handle = HookHandle(tensor.register_hook(hook))  # type: ignore[no-untyped-call]
        self._hooks.append(handle.handle)
        return handle

    def register_module_hook(
        self, module: nn.Module, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> HookHandle:
        """model.register_forward_hook(fn) / register_forward_pre_hook(fn): torch calls a
        wrapper of ours as the module runs; fn runs in the interpreter, and what it returns
        (None, or what replaces the input or output) may only be tensors or tuples of them."""
        if len(args) != 1 or kwargs:
            raise ProgramError("TypeError", f"{name} takes one function")
        function = args[0]
        if kind_of(function).calling not in FUNCTIONS:
            raise ProgramError("TypeError", f"{name} takes a function of the program")

        def hook(*values: Any) -> Any:
            if self.guard.dry_running:
                # The guard is sizing the module on meta tensors: the hook runs in the real
                # call only, once (a hook may not change shapes, see below).
                return None
            result = self._callback("a module hook", function, values)
            items = result if isinstance(result, tuple) else (result,)
            if result is not None and not all(isinstance(i, torch.Tensor) for i in items):
                raise ProgramError(
                    "TypeError", "a module hook may return None, a tensor or a tuple of tensors"
                )
            # The guard sized and checked this call from its arguments before torch ran the
            # hook: what the hook hands on (inputs for a pre-hook, the output for a forward
            # hook) must be what was checked, in shape and dtype, or the kernels would get
            # something nobody sized (a bigger input, a rewritten PackedSequence).
            replaced = values[-1]
            if result is not None:
                _check_replacement(name, replaced, items)
            for value in items if result is not None else _flat(replaced):
                if isinstance(value, PackedSequence):
                    check_packed(value, name)
            return result

        register = (
            module.register_forward_hook
            if name == "register_forward_hook"
            else module.register_forward_pre_hook
        )
        handle = HookHandle(register(hook))
        self._hooks.append(handle.handle)
        self._hooked.add(id(module))
        return handle

    def lambda_scheduler(
        self, function: SafeFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """LambdaLR(optimizer, lr_lambda): torch calls a wrapper of ours at construction and
        at each step(); the program's function runs in the interpreter and must return a
        number (the factor the initial learning rate is multiplied by)."""
        name = function.qualname.rsplit(".", 1)[1]
        rest = dict(kwargs)
        if len(args) > 1:
            given, args = args[1], args[:1] + args[2:]
        elif "lr_lambda" in rest:
            given = rest.pop("lr_lambda")
        else:
            raise ProgramError("TypeError", f"{name}() is missing the argument 'lr_lambda'")
        functions = given if isinstance(given, list | tuple) else [given]
        self.budget.sequence(len(functions), f"{name}'s functions")
        for candidate in functions:
            if kind_of(candidate).calling not in FUNCTIONS | {Calling.OBJECT}:
                raise ProgramError("TypeError", f"{name}: lr_lambda must be a function")

        def wrapped(candidate: Any) -> Callable[[int], float]:
            def factor(epoch: int) -> float:
                result = self._callback(f"the lr_lambda of {name}", candidate, (epoch,))
                if isinstance(result, bool) or not isinstance(result, int | float):
                    raise ProgramError(
                        "TypeError",
                        f"the lr_lambda of {name} must return a number, not {type_name(result)}",
                    )
                return float(result)

            return factor

        factors = [wrapped(candidate) for candidate in functions]
        self.guard.check_arguments(function.qualname, args, rest)
        lr_lambda = factors if isinstance(given, list | tuple) else factors[0]
        result = function.target(*args, lr_lambda=lr_lambda, **rest)
        return self.guard.checked_result(function.qualname, result)

    def module_apply(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> nn.Module:
        """model.apply(init): torch hands each submodule (then the model) to a wrapper of
        ours, which runs the program's function on it; what it returns is ignored."""
        if len(args) != 1 or kwargs:
            raise ProgramError("TypeError", "apply takes one function")
        function = args[0]
        if kind_of(function).calling not in FUNCTIONS | {Calling.OBJECT}:
            raise ProgramError("TypeError", "apply takes a function of the program")
        self.budget.step(sum(1 for _ in module.modules()))

        def visit(sub: nn.Module) -> None:
            self._callback("the function given to apply", function, (sub,))

        return module.apply(visit)

    def functional_call(
        self, function: SafeFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """torch.autograd.functional.jacobian(f, inputs, ...): torch calls a wrapper of ours,
        which runs f in the interpreter. Each call is charged for the work torch then does
        (one backward per output element, a result of outputs x inputs elements)."""
        name = function.qualname.rsplit(".", 1)[1]
        if self._in_function_backward:
            # It runs autograd itself: a backward inside backward, as backward() would be.
            raise refused(
                f"{name}() cannot run inside the backward of an autograd Function, a tensor "
                "hook or a function given to torch.autograd.functional"
            )
        if not args:
            raise ProgramError("TypeError", f"{name}() needs a function and its inputs")
        # Positionally too: jacobian(f, x, False, False, True) would vectorise (vmap) f.
        positional = 4 if name in {"jacobian", "hessian"} else 5
        if set(kwargs) - {"create_graph", "strict"} or len(args) > positional:
            raise refused(f"{name}: only create_graph= and strict= are available here")
        program_function, rest = args[0], args[1:]
        self.guard.check_arguments(function.qualname, rest, kwargs)
        inputs = rest[0] if rest else None
        tensors = inputs if isinstance(inputs, tuple | list) else (inputs,)
        if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
            raise ProgramError("TypeError", f"{name}(): inputs must be a tensor or a tuple of them")
        input_numel = sum(t.numel() for t in tensors)
        if name == "hessian":  # inputs x inputs, whatever the function returns
            self.budget.allocate(input_numel * input_numel, f"torch.autograd.{name}")

        def wrapper(*values: Any) -> Any:
            # Its operations are torch's business here (inputs are torch's own copies): they
            # are not reported to the tape.
            made_before = self.budget.elements
            self._in_function_forward += 1
            try:
                result = self._callback(f"the function given to {name}", program_function, values)
            finally:
                self._in_function_forward -= 1
            outputs = result if isinstance(result, tuple | list) else (result,)
            if not all(isinstance(out, torch.Tensor) for out in outputs):
                raise ProgramError("TypeError", f"the function given to {name} must return tensors")
            output_numel = sum(out.numel() for out in outputs)
            self.budget.allocate(output_numel * max(input_numel, 1), f"torch.autograd.{name}")
            # Torch then runs one backward per output element (a hessian, one more per input
            # element), each about as much work as the function made: charged before it runs.
            passes = output_numel + (input_numel if name == "hessian" else 0)
            self.budget.step(passes)
            self.budget.charge(passes * (self.budget.elements - made_before), f"{name}()")
            return result

        result = function.target(wrapper, *rest, **kwargs)
        return self._produced(self.guard.checked_result(function.qualname, result))

    def _callback(self, what: str, function: Any, args: tuple[Any, ...]) -> Any:
        """Run the program's `function` from inside torch, under the program's budgets."""
        if not self.running:
            raise ProgramError("RuntimeError", f"{what} runs only inside the program")
        self.budget.step()
        self._in_function_backward += 1
        try:
            return self.call(function, args, {})
        finally:
            self._in_function_backward -= 1

    # Classes ---------------------------------------------------------------------------

    def define_class(self, node: ast.ClassDef, scope: Scope) -> UserClass:
        """Run a class body: methods close over the defining scope (as in Python, the class
        body is not visible from them); attributes are evaluated like statements."""
        category, parent, exception_base = "plain", None, None
        if node.bases:
            base = self.eval(node.bases[0], scope)
            if isinstance(base, BaseClass):
                category = base.category
            elif isinstance(base, UserClass):
                category, parent, exception_base = base.category, base, base.exception_base
            elif isinstance(base, ExceptionClass):
                category, exception_base = "exception", base
            else:
                raise refused(
                    "a class may inherit from nn.Module, torch.autograd.Function, an exception "
                    "class (Exception, ValueError...) or a class of the program only",
                    node.bases[0],
                )
        self.classes_defined += 1
        if self.classes_defined > MAX_CLASSES:
            # Each is a real Python type (module or Function classes): a class statement in a
            # loop would make one per turn.
            raise too_big(f"the program defined more than {MAX_CLASSES} classes", node)
        cls = UserClass(node.name, category, parent, exception_base=exception_base, runner=self)
        if category == "module":
            base_type = parent.module_type if parent and parent.module_type else UserModule
            cls.module_type = module_type(node.name, base_type)
        elif category == "function":
            cls.function_type = function_type(node.name)
        else:
            base_object = parent.object_type if parent and parent.object_type else UserObject
            cls.object_type = object_type(node.name, base_object)
        body = Scope({}, scope)
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef):
                self.budget.step()
                if (
                    statement.name.startswith("__")
                    and category in {"module", "function"}
                    and statement.name not in MODULE_SPECIAL_METHODS
                ):
                    raise refused(
                        f"method '{statement.name}' is not supported in a class deriving "
                        "from nn.Module or torch.autograd.Function: torch calls its own "
                        "(write forward, and extra_repr for what print shows)",
                        statement,
                    )
                method = self.make_function(statement, scope, cls)
                body.names[statement.name] = self.decorate_method(
                    method, statement.decorator_list, body, scope
                )
            else:
                self.exec_statement(statement, body)
        if "__eq__" in body.names and "__hash__" not in body.names:
            body.names["__hash__"] = None  # as Python: __eq__ alone makes a class unhashable
        cls.attributes = dict(body.names)
        self.budget.sequence(len(cls.attributes), "a class's attributes")
        return cls

    def decorate_method(
        self, method: UserFunction, decorators: list[ast.expr], body: Scope, scope: Scope
    ) -> Any:
        """Apply a method's decorators, innermost first: @staticmethod, @classmethod,
        @property, @name.setter (the checker allows these by name) or a grad mode."""
        value: Any = method
        for decorator in reversed(decorators):
            match decorator:
                case ast.Name(id="staticmethod"):
                    method.static = True
                case ast.Name(id="classmethod"):
                    method.receives_class = True
                case ast.Name(id="property"):
                    value = PropertyValue(value)
                case ast.Attribute(value=ast.Name(id=name), attr="setter"):
                    getter = body.names.get(name)
                    if not isinstance(getter, PropertyValue):
                        raise refused(f"@{name}.setter needs a @property named '{name}'", decorator)
                    value = PropertyValue(getter.getter, value)
                case _:
                    method.grad_mode = self._grad_decorator(decorator, scope)
        return value

    def instantiate(self, cls: UserClass, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if cls.category == "function":
            raise ProgramError(
                "RuntimeError", f"an autograd Function is used as {cls.name}.apply(...), not called"
            )
        instance: Any = (
            new_module(cls, self.run_forward)
            if cls.category == "module"
            else (cls.object_type or UserObject)(cls)
        )
        if cls.category == "exception":
            # BaseException.__new__ keeps the arguments, whatever __init__ then does.
            instance.exception_args = args
        found, init = cls.find("__init__")
        if found:
            self.call(self.bind(init, instance), args, kwargs)
        elif kwargs and cls.category == "exception":
            raise ProgramError("TypeError", f"{cls.name}() takes no keyword arguments")
        elif (args or kwargs) and cls.category != "exception":
            raise ProgramError("TypeError", f"{cls.name}() takes no arguments")
        elif isinstance(instance, UserModule):
            nn.Module.__init__(instance)
        if isinstance(instance, UserModule) and "_parameters" not in instance.__dict__:
            raise ProgramError(
                "AttributeError",
                f"{cls.name}.__init__ must call super().__init__() first, as nn.Module needs",
            )
        return instance

    def bind(self, value: Any, receiver: Any) -> Any:
        """A class attribute read through an instance: methods are bound to it (to its class
        for a @classmethod), a property's getter runs."""
        if isinstance(value, PropertyValue):
            return self.call_bound(value.getter, receiver, (), {})
        if isinstance(value, UserFunction) and value.receives_class:
            return BoundUserMethod(value, class_of(receiver) or receiver)
        if isinstance(value, UserFunction) and value.owner is not None and not value.static:
            return BoundUserMethod(value, receiver)
        return value

    def call_bound(
        self, function: Any, receiver: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not isinstance(function, UserFunction) or function.owner is None:
            return self.call(function, args, kwargs)
        self._methods.append((function.owner, receiver))
        try:
            return self.call_user(function, (receiver, *args), kwargs)
        finally:
            self._methods.pop()

    def run_forward(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """UserModule.forward: torch called the module (model(x), or a Sequential holding
        it); the program's forward runs here, under the program's budgets."""
        assert isinstance(module, UserModule)
        cls = module._agx_class
        if not self.running:
            raise ProgramError("RuntimeError", f"{cls.name}.forward runs only inside the program")
        if self.guard.dry_running:  # never reached: the guard sizes such modules part by part
            raise ProgramError("RuntimeError", f"{cls.name}.forward cannot run on meta tensors")
        found, forward = cls.find("forward")
        if not found:
            raise ProgramError(
                "NotImplementedError", f'Module [{cls.name}] is missing the required "forward"'
            )
        self.budget.step()
        return self.call(self.bind(forward, module), args, kwargs)

    def make_super(self, args: tuple[Any, ...]) -> SuperProxy:
        if args:
            if len(args) != 2 or not isinstance(args[0], UserClass):
                raise ProgramError("TypeError", "super() takes a class of the program and self")
            cls, receiver = args
            own = class_of(receiver)
            if own is None or not own.is_subclass_of(cls):
                raise ProgramError("TypeError", "super(type, obj): obj must be an instance of type")
            return SuperProxy(cls, receiver)
        if not self._methods:
            raise ProgramError("RuntimeError", "super(): no arguments outside a method")
        cls, receiver = self._methods[-1]
        return SuperProxy(cls, receiver)

    def call_super_init(
        self, proxy: SuperProxy, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        """super().__init__(...): the base class's own __init__ when the program wrote one,
        else nn.Module's (which takes no arguments) or object's."""
        if proxy.cls.parent is not None:
            found, init = proxy.cls.parent.find("__init__")
            if found:
                self.call(self.bind(init, proxy.receiver), args, kwargs)
                return
        if isinstance(proxy.receiver, UserObject) and proxy.receiver.exception_args is not None:
            if kwargs:
                raise ProgramError("TypeError", f"{proxy.cls.name}() takes no keyword arguments")
            proxy.receiver.exception_args = args  # BaseException.__init__ sets e.args
            return
        if args or kwargs:
            raise ProgramError("TypeError", "the base class's __init__() takes no arguments")
        if isinstance(proxy.receiver, UserModule):
            nn.Module.__init__(proxy.receiver)

    def class_attribute(self, owner: UserObject | UserClass | SuperProxy, name: str) -> Any:
        if isinstance(owner, SuperProxy):
            if name == "__init__":
                return BoundMethod(owner, name)
            parent = owner.cls.parent
            found, value = parent.find(name) if parent else (False, None)
            if found:
                return self.bind(value, owner.receiver)
            raise refused(f"super().{name} is not available: the base class has no such method")
        if isinstance(owner, UserObject):
            found, value = owner.cls.find(name)
            if found and isinstance(value, PropertyValue):  # a property comes first, as in Python
                return self.bind(value, owner)
            if name in owner.attributes:
                return owner.attributes[name]
            if found:
                return self.bind(value, owner)
            if name in EXCEPTION_ATTRIBUTES and owner.exception_args is not None:
                return owner.exception_args
            raise ProgramError(
                "AttributeError", f"'{owner.cls.name}' object has no attribute '{name}'"
            )
        found, value = owner.find(name)
        if found and isinstance(value, UserFunction) and value.receives_class:
            return BoundUserMethod(value, owner)
        if found:
            return value
        raise ProgramError(
            "AttributeError", f"type object '{owner.name}' has no attribute '{name}'"
        )

    def set_property(self, owner: Any, cls: UserClass, name: str, value: Any) -> bool:
        """`obj.name = value` where the class has a property `name`: its setter runs."""
        found, attribute = cls.find(name)
        if not (found and isinstance(attribute, PropertyValue)):
            return False
        if attribute.setter is None:
            raise ProgramError(
                "AttributeError", f"property '{name}' of '{cls.name}' object has no setter"
            )
        self.call_bound(attribute.setter, owner, (value,), {})
        return True

    def set_module_attribute(self, owner: UserModule, name: str, value: Any) -> None:
        """`self.name = value` in a module of the program: nn.Module registers parameters and
        submodules; torch's own attributes stay torch's."""
        if self.set_property(owner, owner._agx_class, name, value):
            return
        if name == "training" and isinstance(value, bool):
            owner.training = value  # what .train(value) sets, for this module only, as in torch
            return
        if name in RESERVED_MODULE_NAMES or name.startswith(SANDBOX_PREFIX):
            raise refused(
                f"'{name}' is an nn.Module attribute torch relies on; choose another name"
                + (" (it takes True or False)" if name == "training" else "")
            )
        self._check_no_cycle(owner, value)
        if isinstance(value, nn.Parameter):
            check_dense(value, "a parameter")
        setattr(owner, name, value)
        if name in owner._parameters or name in owner._buffers or name in owner._modules:
            owner._agx_names.discard(name)
        else:
            owner._agx_names.add(name)
            self.budget.sequence(len(owner._agx_names), "a module's attributes")

    def _check_no_cycle(self, owner: nn.Module, value: Any) -> None:
        """A module inside itself makes print, state_dict and train recurse forever."""
        if isinstance(value, nn.Module) and any(sub is owner for sub in value.modules()):
            raise refused("a module cannot contain itself")

    def module_to(
        self, receiver: nn.Module, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """model.to(device) and model.cpu(): the cpu is the only device, so the model itself;
        model.to(torch.float32 or torch.float64), as .float() and .double()."""
        given = [*args, *kwargs.values()]
        keyword = next(iter(kwargs), None)
        if name == "cpu" and not given:
            return receiver
        if name == "to" and len(given) == 1:
            if keyword in (None, "device") and is_cpu(given[0]):
                return receiver
            if keyword in (None, "dtype") and given[0] in (torch.float32, torch.float64):
                converted = "float" if given[0] is torch.float32 else "double"
                return self.call_method(receiver, converted, (), {})
        raise refused(
            f"{name}: only .to('cpu') (or a torch.device of the cpu), .cpu(), .to(torch.float32) "
            "and .to(torch.float64) are available for a module here"
        )

    def _check_module_method(
        self, receiver: nn.Module, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        if name == "append" and args:
            self._check_no_cycle(receiver, args[0])
        if name in MODULE_REGISTRATION:
            key = args[0] if args else kwargs.get("name")
            if not isinstance(key, str) or key.startswith("_") or "." in key or not key:
                raise refused(f"{name}: the name must be a string without '.' or a leading '_'")
            if key in RESERVED_MODULE_NAMES:
                raise refused(f"{name}: '{key}' is an nn.Module attribute torch relies on")
            for value in (*args[1:], *kwargs.values()):
                if isinstance(value, torch.Tensor):
                    check_dense(value, f"a tensor given to {name}")
                self._check_no_cycle(receiver, value)  # add_module(name, module)
            if isinstance(receiver, UserModule):
                receiver._agx_names.discard(key)

    def apply_function(self, cls: UserClass, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """`Exp.apply(x)`: torch's Function machinery with the program's forward inside."""
        if kwargs:
            raise ProgramError("TypeError", f"{cls.name}.apply takes positional arguments only")
        if not self.running or cls.function_type is None:
            raise ProgramError("RuntimeError", f"{cls.name}.apply runs only inside the program")
        self.guard.check_arguments(f"{cls.name}.apply", args, {})
        result = cls.function_type.apply(self.function_runner, cls, *args)  # type: ignore[no-untyped-call]
        return self._produced(self.guard.checked_result(f"{cls.name}.apply", result))

    def function_forward(self, cls: UserClass, ctx: ProgramContext, args: tuple[Any, ...]) -> Any:
        self._in_function_forward += 1
        try:
            return self.call_user(self._function_method(cls, "forward"), (ctx, *args), {})
        finally:
            self._in_function_forward -= 1

    def function_backward(
        self, cls: UserClass, ctx: ProgramContext, grads: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        """Run the program's backward (torch's engine called it) and check what it returns:
        kernels downstream trust a gradient's shape and layout."""
        if not (self.running or self.backward_allowed):
            raise ProgramError("RuntimeError", f"{cls.name}.backward runs only inside the program")
        self._in_function_backward += 1
        try:
            result = self.call_user(self._function_method(cls, "backward"), (ctx, *grads), {})
        finally:
            self._in_function_backward -= 1
        returned = tuple(result) if isinstance(result, tuple | list) else (result,)
        if len(returned) != len(ctx.inputs):
            raise ProgramError(
                "RuntimeError",
                f"{cls.name}.backward returned {len(returned)} gradients; forward took "
                f"{len(ctx.inputs)} inputs (return one per input, None for non-tensors)",
            )
        checked: list[Any] = []
        for index, (grad, expected) in enumerate(zip(returned, ctx.inputs, strict=True)):
            if grad is None:
                checked.append(None)
                continue
            if expected is None or not isinstance(grad, torch.Tensor):
                raise ProgramError(
                    "RuntimeError",
                    f"{cls.name}.backward: gradient {index} must be "
                    + ("None (that input is not a tensor)" if expected is None else "a tensor"),
                )
            shape, dtype = expected
            checked.append(
                _checked_gradient(f"{cls.name}.backward: gradient {index}", grad, shape, dtype)
            )
        return tuple(checked)

    def _function_method(self, cls: UserClass, name: str) -> "UserFunction":
        found, method = cls.find(name)
        if not found or not isinstance(method, UserFunction):
            raise ProgramError(
                "NotImplementedError", f"{cls.name} must define {name} as a @staticmethod"
            )
        return method

    def _produced(self, value: Any, call: Call | None = None) -> Any:
        if self._in_function_forward:
            return value
        self.observer.produced(value, call)
        return value


def _bind_arguments(
    function: UserFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The call's arguments as the function's parameters name them, as Python binds them:
    positional, then *args, keyword-only (with their defaults), then **kwargs."""
    spec = function.node.args
    parameters = [arg.arg for arg in spec.args]
    keyword_only = [arg.arg for arg in spec.kwonlyargs]
    name = function.name
    if len(args) > len(parameters) and spec.vararg is None:
        raise ProgramError(
            "TypeError", f"{name}() takes {len(parameters)} arguments but {len(args)} were given"
        )
    bound = dict(zip(parameters, args, strict=False))
    if spec.vararg is not None:
        bound[spec.vararg.arg] = tuple(args[len(parameters) :])
    extra: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in bound and key in parameters:
            raise ProgramError("TypeError", f"{name}() got multiple values for argument '{key}'")
        if key in parameters or key in keyword_only:
            bound[key] = value
        elif spec.kwarg is not None:
            extra[key] = value
        else:
            raise ProgramError("TypeError", f"{name}() got an unexpected keyword argument '{key}'")
    with_defaults = parameters[len(parameters) - len(function.defaults) :]
    for parameter, default in zip(with_defaults, function.defaults, strict=True):
        bound.setdefault(parameter, default)
    for parameter, default in (function.keyword_defaults or {}).items():
        bound.setdefault(parameter, default)
    missing = [p for p in (*parameters, *keyword_only) if p not in bound]
    if missing:
        raise ProgramError("TypeError", f"{name}() missing required argument: '{missing[0]}'")
    if spec.kwarg is not None:
        bound[spec.kwarg.arg] = extra
    return bound


class _Runner(FunctionRunner):
    """The interpreter as the program's autograd Functions call it."""

    def __init__(self, interpreter: Interpreter) -> None:
        self.interpreter = interpreter

    def forward(self, cls: UserClass, ctx: ProgramContext, args: tuple[Any, ...]) -> Any:
        return self.interpreter.function_forward(cls, ctx, args)

    def backward(
        self, cls: UserClass, ctx: ProgramContext, grads: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        return self.interpreter.function_backward(cls, ctx, grads)


def _checked_gradient(
    what: str, grad: Any, shape: tuple[int, ...], dtype: torch.dtype
) -> torch.Tensor:
    """A gradient the program computed, about to reach torch's kernels: the shape and dtype
    of what it is the gradient of, dense and on the cpu (a view is copied)."""
    if not isinstance(grad, torch.Tensor):
        raise ProgramError("RuntimeError", f"{what} must return a tensor (or None)")
    got = (tuple(grad.shape), grad.dtype)
    if got != (shape, dtype) or grad.device.type != "cpu" or grad.layout != torch.strided:
        raise ProgramError(
            "RuntimeError",
            f"{what} has shape {list(got[0])} and dtype {got[1]}; the gradient must have "
            f"shape {list(shape)} and dtype {dtype}",
        )
    return grad if grad.is_contiguous() else grad.contiguous()


def _holds_program_code(values: tuple[Any, ...]) -> bool:
    """Whether these arguments (or the items of a list, tuple or dict among them) are the
    program's objects or functions, whose methods a builtin may have run."""
    for value in values:
        kind = kind_of(value)
        if kind.program_code:
            return True
        items = list(value.values()) if kind.structure == Structure.MAPPING else value
        if kind_of(items).structure == Structure.SEQUENCE and any(
            kind_of_type(item_type).program_code for item_type in set(map(type, items))
        ):  # the kinds of the types among the items: a list of numbers is one type
            return True
    return False


def _flat(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _check_replacement(hook: str, replaced: Any, items: tuple[Any, ...]) -> None:
    """What a module hook returns in place of the module's inputs or output: tensors of the
    same shapes and dtypes, one for one."""
    originals = _flat(replaced)
    same = len(originals) == len(items) and all(
        isinstance(old, torch.Tensor)
        and (tuple(new.shape), new.dtype) == (tuple(old.shape), old.dtype)
        for old, new in zip(originals, items, strict=True)
    )
    if not same:
        raise refused(
            f"a function given to {hook} may change values but not shapes or dtypes: the "
            "module's call was checked with what it was given. Compute on the output after "
            "the call instead"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _program_error(error: Exception) -> ProgramError:
    """An exception raised while running user code, as a learner would read it (and as the
    program reads it, caught): without the addresses Python writes in an object's text."""
    message = without_addresses(str(error)).strip().splitlines()
    detail = message[0] if message else type(error).__name__
    if len(message) > 1:
        detail = " ".join(line.strip() for line in message[:6])
    return ProgramError(type(error).__name__, detail[:1000])
