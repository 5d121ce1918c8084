"""Stage 2: evaluate a checked program by walking its syntax tree.

User text is never given to `exec` or `eval`. Each node type has a handler; names resolve
through the program's own scopes, then Python builtins from `pyvalues`, and imports bind
`Namespace` tables from `allowlist`. Every call into torch goes through the `Guard`.
`backward()` and `torch.autograd.grad` are handed to a `BackwardObserver`, which walks and
hooks the graph before backward frees it.
"""

import ast
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from app.sandbox.allowlist import (
    GENERATOR_METHODS,
    MODULE_ATTRIBUTES,
    MODULE_METHODS,
    NAMESPACES,
    NODE_ATTRIBUTES,
    OPTIMIZER_ATTRIBUTES,
    OPTIMIZER_METHODS,
    REFUSED_NAMES,
    REFUSED_TENSOR_METHODS,
    SCHEDULER_ATTRIBUTES,
    SCHEDULER_METHODS,
    TENSOR_ATTRIBUTES,
    TENSOR_METHODS,
    TENSOR_METHODS_WITHOUT_DRY_RUN,
    TENSOR_SETTABLE,
    Namespace,
    SafeFunction,
)
from app.sandbox.checker import CheckedProgram
from app.sandbox.errors import ProgramError, refused
from app.sandbox.guard import Budget, Guard
from app.sandbox.pyvalues import (
    Builtin,
    PythonValues,
    TextWriter,
    is_container,
    method_names,
    to_text,
)
from app.sandbox.tensors import (
    SHAPE_CHANGING_METHODS,
    assign_data,
    assign_grad,
    check_dense,
    read_data,
)
from app.settings import Limits

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
SYMBOLS: dict[str, Callable[..., Any]] = {
    **{symbol: fn for symbol, fn in BINARY.values()},
    **{symbol: fn for symbol, fn in COMPARE.values()},
    "abs": abs,
    "neg": operator.neg,
    "pos": operator.pos,
    "invert": operator.invert,
}
UNARY: dict[type[ast.unaryop], str] = {ast.USub: "neg", ast.UAdd: "pos", ast.Invert: "invert"}
GRAD_MODES = (torch.no_grad, torch.enable_grad, torch.set_grad_enabled, torch.inference_mode)
# Format specs may not ask for huge widths or precisions ("{x:999999999}").
FORMAT_NUMBER = re.compile(r"\d+")
SIZED = (str, list, tuple)
RETURN_TYPE_FIELDS = frozenset(
    {
        *("values", "indices", "mean", "std", "var", "sign", "logabsdet", "U", "S", "Vh"),
        *("eigenvalues", "eigenvectors", "Q", "R", "solution", "residuals", "rank"),
    }
)
# Tensor attributes that compute a new tensor in the graph (w.T): reported like calls.
COMPUTED_ATTRIBUTES = frozenset({"T", "mT", "real", "imag"})


class BackwardObserver(Protocol):
    """Runs a backward call with the graph walked and hooked first (see app.capture)."""

    def run_backward(
        self, kind: str, roots: list[torch.Tensor], names: dict[str, Any], call: Callable[[], Any]
    ) -> Any: ...

    def produced(self, value: Any, call: "Call | None" = None) -> None: ...


@dataclass(frozen=True)
class Call:
    """How a torch value was computed, so that the observer can compute it again.

    `function(*args, **kwargs)` (a module for module calls) gave the value; the gradient
    check replays these calls with perturbed inputs (see app.tape).
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


@dataclass(eq=False)
class Scope:
    """Names of one function call (or the module), looked up through enclosing scopes."""

    names: dict[str, Any]
    parent: "Scope | None" = None

    def lookup(self, name: str) -> tuple[bool, Any]:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return True, scope.names[name]
            scope = scope.parent
        return False, None

    def visible(self) -> dict[str, Any]:
        chain: list[Scope] = []
        scope: Scope | None = self
        while scope is not None:
            chain.append(scope)
            scope = scope.parent
        merged: dict[str, Any] = {}
        for outer in reversed(chain):
            merged.update(outer.names)
        return merged


@dataclass(eq=False)
class UserFunction:
    """A function the program defined; its body is interpreted when called."""

    node: ast.FunctionDef
    defaults: list[Any]
    scope: Scope

    def __repr__(self) -> str:
        return f"<function {self.node.name}>"


@dataclass(eq=False)
class BoundMethod:
    """`receiver.name`, where `name` is on the allowlist for the receiver's kind."""

    receiver: Any
    name: str

    def __repr__(self) -> str:
        return f"<method {type(self.receiver).__name__}.{self.name}>"


@dataclass
class Evaluation:
    """What running a program leaves behind: its names, its output, its budget use."""

    names: dict[str, Any]
    stdout: str
    steps: int
    elements: int
    backward_calls: int = 0
    last_graph_name: str | None = None


class Interpreter:
    """Runs one checked program. Not reusable: make one per program."""

    def __init__(self, program: CheckedProgram, limits: Limits, observer: BackwardObserver) -> None:
        self.program = program
        self.limits = limits
        self.observer = observer
        self.budget = Budget(limits)
        self.guard = Guard(self.budget)
        self.stdout = TextWriter(limits.max_stdout_chars)
        self.python = PythonValues(self.budget, self.stdout, self.binop, self.truth)
        self.globals = Scope({})
        self.call_depth = 0
        self.backward_calls = 0
        self.last_graph_name: str | None = None
        self._scope_stack: list[Scope] = []

    def run(self) -> Evaluation:
        try:
            self.exec_block(self.program.tree.body, self.globals)
        except (BreakSignal, ContinueSignal):
            raise ProgramError("SyntaxError", "'break' or 'continue' outside a loop") from None
        except ReturnSignal:
            raise ProgramError("SyntaxError", "'return' outside a function") from None
        return Evaluation(
            names=dict(self.globals.names),
            stdout=self.stdout.getvalue(),
            steps=self.budget.steps,
            elements=self.budget.elements,
            backward_calls=self.backward_calls,
            last_graph_name=self.last_graph_name,
        )

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
                "Limit reached", "the program nests or recurses too deeply", kind="limit"
            ).at(node) from None
        except MemoryError:
            raise ProgramError("Limit reached", "the program ran out of memory", kind="limit").at(
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
            case ast.FunctionDef(args=args):
                defaults = [self.eval(default, scope) for default in args.defaults]
                scope.names[node.name] = UserFunction(node, defaults, scope)
            case ast.With(items=items, body=body):
                self.exec_with(items, body, scope)
            case ast.Import(names=aliases):
                for alias in aliases:
                    if alias.asname:
                        scope.names[alias.asname] = NAMESPACES[alias.name]
                    else:
                        root = alias.name.split(".")[0]
                        scope.names[root] = NAMESPACES[root]
            case ast.ImportFrom(module=module, names=aliases):
                namespace = NAMESPACES[str(module)]
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
        if not isinstance(manager, GRAD_MODES):
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
        if isinstance(container, torch.Tensor):
            self.guard.check_arguments("Tensor item assignment", (index, value), {})
            container[index] = value
        elif isinstance(container, list) and isinstance(index, slice):
            # `a[:] = range(10**9)` materialises its right-hand side: sized like list(...).
            items = self.python.items(value)
            replaced = len(range(*index.indices(len(container))))
            self.budget.sequence(len(container) - replaced + len(items), "a list")
            self.budget.create(len(items))
            container[index] = items
        elif isinstance(container, list):
            container[index] = value
        elif isinstance(container, dict):
            self.budget.sequence(len(container) + 1, "a dict")
            container[self.python.key(index)] = value
        else:
            raise ProgramError(
                "TypeError", f"a {type(container).__name__} does not support item assignment here"
            )

    def set_attribute(self, owner: Any, name: str, value: Any) -> None:
        if not (isinstance(owner, torch.Tensor) and name in TENSOR_SETTABLE):
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
                if not isinstance(owner, list | dict):
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
            limit = self.limits.max_sequence_len
            if part.conversion in (ord("r"), ord("a")):
                value = to_text(value, limit, quoted=True)
            elif part.conversion == ord("s"):
                value = to_text(value, limit)
            spec = "" if part.format_spec is None else self.eval(part.format_spec, scope)
            if any(int(number) > 100 for number in FORMAT_NUMBER.findall(spec)):
                raise refused(f"format spec '{spec}' asks for more than 100 characters", part)
            # format() as Python does (a 0-d tensor formats as its float), but containers are
            # written with a bound on their size.
            pieces.append(
                to_text(value, limit) if is_container(value) and not spec else format(value, spec)
            )
            self.budget.sequence(sum(map(len, pieces)), "a string")
        return "".join(pieces)

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
        function = INPLACE[symbol] if inplace else SYMBOLS[symbol]
        operands = (
            (left,)
            if right is None and symbol in {"abs", "neg", "pos", "invert"}
            else (left, right)
        )
        if any(isinstance(operand, torch.Tensor) for operand in operands):
            if symbol == "*" and any(isinstance(operand, SIZED) for operand in operands):
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
        sized = SIZED
        if symbol == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
            self.budget.integer(left.bit_length() * right)
        elif symbol == "*" and _is_int(left) and _is_int(right):
            self.budget.integer(left.bit_length() + right.bit_length())
        elif symbol == "*" and isinstance(left, sized) and _is_int(right):
            self.budget.create(len(left) * max(right, 0))
        elif symbol == "*" and _is_int(left) and isinstance(right, sized):
            self.budget.create(len(right) * max(left, 0))
        elif symbol == "<<" and _is_int(left) and _is_int(right) and right > 0:
            self.budget.integer(left.bit_length() + right)
        elif symbol == "+" and isinstance(left, sized) and isinstance(right, sized):
            self.budget.create(len(left) + len(right))
        elif symbol in {"in", "not in"} and isinstance(right, dict | set):
            self.python.key(left)
        elif symbol == "%" and isinstance(left, str):
            raise refused("'%' formatting of strings is not supported; use an f-string")

    def truth(self, value: Any) -> bool:
        if isinstance(
            value,
            torch.Tensor
            | bool
            | int
            | float
            | str
            | list
            | tuple
            | dict
            | set
            | range
            | torch.Size
            | type(None),
        ):
            return bool(value)
        return True

    # Attributes and items --------------------------------------------------------------

    def get_attribute(self, owner: Any, name: str) -> Any:
        if isinstance(owner, Namespace):
            if name in owner.members:
                return owner.members[name]
            reason = REFUSED_NAMES.get(f"{owner.qualname}.{name}")
            raise refused(
                f"{owner.qualname}.{name} is not available"
                + (f": {reason}" if reason else " in this sandbox")
            )
        if isinstance(owner, torch.Tensor):
            if name in COMPUTED_ATTRIBUTES:
                value = self.guard.checked_result(f"Tensor.{name}", getattr(owner, name))
                return self._produced(value, Call(operator.attrgetter(name), (owner,), {}))
            if name == "data":
                return read_data(owner)
            if name in TENSOR_ATTRIBUTES:
                return self.guard.checked_result(f"Tensor.{name}", getattr(owner, name))
            reason = SHAPE_CHANGING_METHODS.get(name) or REFUSED_TENSOR_METHODS.get(name)
            if reason:
                raise refused(f"'{name}' of a Tensor is not available: {reason}")
            if name in TENSOR_METHODS:
                return BoundMethod(owner, name)
        elif isinstance(owner, nn.Module):
            members = {**owner._parameters, **owner._buffers, **owner._modules}
            if name in members:
                return members[name]
            if name in MODULE_ATTRIBUTES and hasattr(owner, name):
                return self.guard.checked_result(name, getattr(owner, name))
            if name in MODULE_METHODS:
                return BoundMethod(owner, name)
        elif isinstance(owner, torch.optim.Optimizer):
            if name in OPTIMIZER_ATTRIBUTES:
                return self.guard.checked_result(name, getattr(owner, name))
            if name in OPTIMIZER_METHODS:
                return BoundMethod(owner, name)
        elif isinstance(owner, torch.Generator):
            if name in GENERATOR_METHODS:
                return BoundMethod(owner, name)
        elif isinstance(owner, torch.optim.lr_scheduler.LRScheduler):
            if name in SCHEDULER_ATTRIBUTES:
                return self.guard.checked_result(name, getattr(owner, name))
            if name in SCHEDULER_METHODS:
                return BoundMethod(owner, name)
        elif isinstance(owner, torch.autograd.graph.Node):
            if name == "name":
                return BoundMethod(owner, name)
            if name in NODE_ATTRIBUTES:
                return self.guard.checked_result(name, getattr(owner, name))
        elif _is_named_result(owner, name):
            return getattr(owner, name)
        elif name in method_names(owner):
            return BoundMethod(owner, name)
        kind = "Tensor" if isinstance(owner, torch.Tensor) else type(owner).__name__
        raise refused(f"'{name}' of a {kind} is not available in this sandbox")

    def get_item(self, container: Any, index: Any) -> Any:
        if isinstance(container, torch.Tensor):
            self.guard.check_arguments("Tensor indexing", (index,), {})
            result = self.guard.operator("[]", operator.getitem, container, index)
            return self._produced(result, Call(operator.getitem, (container, index), {}))
        if isinstance(container, dict):
            return container[self.python.key(index)]
        if isinstance(container, list | tuple | str | range | torch.Size):
            return container[index]
        if isinstance(container, nn.Sequential | nn.ModuleList):
            return container[index]
        if type(container).__module__ == "torch.return_types":
            return container[index]
        raise ProgramError("TypeError", f"a {type(container).__name__} cannot be indexed here")

    # Calls -----------------------------------------------------------------------------

    def eval_call(self, node: ast.Call, scope: Scope) -> Any:
        function = self.eval(node.func, scope)
        args = tuple(self.eval_sequence(node.args, scope))
        kwargs = {str(kw.arg): self.eval(kw.value, scope) for kw in node.keywords}
        self.budget.step()
        return self.call(function, args, kwargs)

    def call(self, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        match function:
            case UserFunction():
                return self.call_user(function, args, kwargs)
            case Builtin():
                function.check_call(args, kwargs)
                result = function.function(*args, **kwargs)
                if _is_int(result):  # int('9' * 4000) is a 13,000-bit number
                    self.budget.integer(result.bit_length())
                return self._produced(result, Call(function.function, args, kwargs))
            case SafeFunction(qualname="torch.autograd.backward" | "torch.autograd.grad"):
                return self.autograd_call(function, args, kwargs)
            case SafeFunction():
                result = self.guard.call(function, args, kwargs)
                return self._produced(result, Call(function.target, args, kwargs))
            case BoundMethod(receiver=receiver, name=name):
                return self.call_method(receiver, name, args, kwargs)
            case nn.Module():
                result = self.guard.call_module(function, args, kwargs)
                return self._produced(result, Call(function, args, kwargs))
        raise ProgramError("TypeError", f"a {type(function).__name__} is not callable")

    def call_method(
        self, receiver: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if isinstance(receiver, torch.Tensor):
            if name == "backward":
                self.guard.check_arguments("Tensor.backward", args, kwargs)
                return self.backward(
                    "backward",
                    [receiver],
                    lambda: receiver.backward(*args, **kwargs),  # type: ignore[no-untyped-call]
                )
            dry_run = name not in TENSOR_METHODS_WITHOUT_DRY_RUN
            result = self.guard.call_method(receiver, name, args, kwargs, dry_run)
            unbound = getattr(torch.Tensor, name, None)
            call = Call(unbound, (receiver, *args), kwargs) if unbound is not None else None
            return self._produced(result, call)
        if isinstance(
            receiver,
            nn.Module
            | torch.optim.Optimizer
            | torch.optim.lr_scheduler.LRScheduler
            | torch.Generator
            | torch.autograd.graph.Node,
        ):
            return self._produced(self.guard.call_method(receiver, name, args, kwargs, False))
        return self.python.call_method(receiver, name, args, kwargs)

    def autograd_call(
        self, function: SafeFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        self.guard.check_arguments(function.qualname, args, kwargs)
        outputs = args[0] if args else kwargs.get("outputs", kwargs.get("tensors"))
        candidates = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
        roots = [root for root in candidates if isinstance(root, torch.Tensor)]
        if len(roots) != len(candidates) or not roots:
            raise ProgramError("TypeError", f"{function.qualname} needs tensors to start from")
        kind = function.qualname.rsplit(".", 1)[1]
        result = self.backward(kind, roots, lambda: function.target(*args, **kwargs))
        checked = self.guard.checked_result(function.qualname, result)
        return self._produced(checked, Call(function.target, args, kwargs))

    def backward(self, kind: str, roots: list[torch.Tensor], call: Callable[[], Any]) -> Any:
        self.backward_calls += 1
        return self.observer.run_backward(kind, roots, self.current_names(), call)

    def current_names(self) -> dict[str, Any]:
        return self._scope_stack[-1].visible() if self._scope_stack else dict(self.globals.names)

    def call_user(
        self, function: UserFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if self.call_depth >= self.limits.max_call_depth:
            raise ProgramError(
                "Limit reached",
                f"calls nest deeper than {self.limits.max_call_depth} levels (endless recursion?)",
                kind="limit",
            )
        scope = Scope(_bind_arguments(function, args, kwargs), function.scope)
        self.call_depth += 1
        self._scope_stack.append(scope)
        try:
            self.exec_block(function.node.body, scope)
        except ReturnSignal as signal:
            return signal.value
        except (BreakSignal, ContinueSignal):
            raise ProgramError("SyntaxError", "'break' or 'continue' outside a loop") from None
        finally:
            self.call_depth -= 1
            self._scope_stack.pop()
        return None

    def _produced(self, value: Any, call: Call | None = None) -> Any:
        self.observer.produced(value, call)
        return value


def _bind_arguments(
    function: UserFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    parameters = [arg.arg for arg in function.node.args.args]
    name = function.node.name
    if len(args) > len(parameters):
        raise ProgramError(
            "TypeError", f"{name}() takes {len(parameters)} arguments but {len(args)} were given"
        )
    bound = dict(zip(parameters, args, strict=False))
    for key, value in kwargs.items():
        if key not in parameters:
            raise ProgramError("TypeError", f"{name}() got an unexpected argument '{key}'")
        if key in bound:
            raise ProgramError("TypeError", f"{name}() got two values for '{key}'")
        bound[key] = value
    with_defaults = parameters[len(parameters) - len(function.defaults) :]
    for parameter, default in zip(with_defaults, function.defaults, strict=True):
        bound.setdefault(parameter, default)
    missing = [p for p in parameters if p not in bound]
    if missing:
        raise ProgramError("TypeError", f"{name}() is missing the argument '{missing[0]}'")
    return bound


def _is_named_result(owner: Any, name: str) -> bool:
    """A field of a tuple torch returns (values/indices, U/S/Vh, a PackedSequence's data)."""
    if isinstance(owner, PackedSequence):
        return name in PackedSequence._fields
    return type(owner).__module__ == "torch.return_types" and name in RETURN_TYPE_FIELDS


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _program_error(error: Exception) -> ProgramError:
    """An exception raised while running user code, as a learner would read it."""
    message = str(error).strip().splitlines()
    detail = message[0] if message else type(error).__name__
    if len(message) > 1:
        detail = " ".join(line.strip() for line in message[:6])
    return ProgramError(type(error).__name__, detail[:1000])
