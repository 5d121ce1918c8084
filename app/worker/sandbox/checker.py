"""Stage 1: parse the program and check it against the allowed subset of Python.

Everything here is static: no user code runs. The interpreter checks again at run time what
cannot be known statically (which object an attribute is read from, sizes, budgets).
"""

import ast
import warnings
from dataclasses import dataclass

from app.contract.errors import ProgramError, refused, too_big
from app.contract.settings import Limits

# Node types the interpreter implements. Anything else (yield, global, walrus, await,
# match...) is refused with its name.
ALLOWED_NODES: frozenset[type[ast.AST]] = frozenset(
    {
        ast.Module,
        ast.Expr,
        ast.Assign,
        ast.AugAssign,
        ast.AnnAssign,
        ast.If,
        ast.For,
        ast.While,
        ast.Break,
        ast.Continue,
        ast.Pass,
        ast.FunctionDef,
        ast.ClassDef,
        ast.Return,
        ast.With,
        ast.withitem,
        ast.Import,
        ast.ImportFrom,
        ast.alias,
        ast.Assert,
        ast.Delete,
        ast.Lambda,
        ast.Try,
        ast.ExceptHandler,
        ast.Raise,
        ast.arguments,
        ast.arg,
        ast.keyword,
        ast.Constant,
        ast.Name,
        ast.Load,
        ast.Store,
        ast.Del,
        ast.Attribute,
        ast.Subscript,
        ast.Slice,
        ast.List,
        ast.Tuple,
        ast.Dict,
        ast.Set,
        ast.Starred,
        ast.BinOp,
        ast.UnaryOp,
        ast.BoolOp,
        ast.Compare,
        ast.IfExp,
        ast.Call,
        ast.JoinedStr,
        ast.FormattedValue,
        ast.ListComp,
        ast.SetComp,
        ast.DictComp,
        ast.GeneratorExp,
        ast.comprehension,
        ast.Add,
        ast.Sub,
        ast.Mult,
        ast.MatMult,
        ast.Div,
        ast.FloorDiv,
        ast.Mod,
        ast.Pow,
        ast.LShift,
        ast.RShift,
        ast.BitOr,
        ast.BitXor,
        ast.BitAnd,
        ast.UAdd,
        ast.USub,
        ast.Not,
        ast.Invert,
        ast.And,
        ast.Or,
        ast.Eq,
        ast.NotEq,
        ast.Lt,
        ast.LtE,
        ast.Gt,
        ast.GtE,
        ast.Is,
        ast.IsNot,
        ast.In,
        ast.NotIn,
    }
)

# Friendly names for the constructs people try most often.
CONSTRUCT_NAMES: dict[type[ast.AST], str] = {
    ast.TryStar: "try/except*",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.NamedExpr: "the walrus operator :=",
    ast.Yield: "yield (generators)",
    ast.YieldFrom: "yield from",
    ast.AsyncFunctionDef: "async functions",
    ast.Await: "await",
    ast.Match: "match statements",
    ast.AsyncFor: "async for",
    ast.AsyncWith: "async with",
}

# Builtins that would hand out the interpreter itself. The interpreter never binds them, so
# reading one is refused with this message unless the program binds the name itself
# (`input = torch.randn(3)`, `def help():`), as Python lets it shadow a builtin.
FORBIDDEN_NAMES = frozenset(
    {
        "getattr",
        "setattr",
        "delattr",
        "vars",
        "globals",
        "locals",
        "dir",
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "breakpoint",
        "exit",
        "quit",
        "input",
        "help",
        "memoryview",
        "object",
        "classmethod",
        "staticmethod",
        "property",
        "id",
        "callable",
        "format",
        "issubclass",
    }
)

# Modules a program may import, and the namespace each binds.
# Dunders a program may read: type(self).__name__ in a repr, x.__class__.__name__ (d2l,
# DCGAN's weights_init; the same as type(x), and never written).
READABLE_DUNDERS = frozenset({"__name__", "__class__"})
IMPORTABLE = frozenset(
    {
        "torch",
        "torch.nn",
        "torch.nn.functional",
        "torch.nn.init",
        "torch.nn.utils",
        "torch.nn.utils.rnn",
        "torch.optim",
        "torch.optim.lr_scheduler",
        "torch.autograd",
        "torch.autograd.functional",
        "torch.linalg",
        "math",
        "random",
        "typing",
        "torch.utils",
        "torch.utils.data",
    }
)


# Statements a class body may hold: methods, class attributes, a docstring.
CLASS_BODY = (ast.FunctionDef, ast.Assign, ast.AnnAssign, ast.Pass, ast.Expr)
# Decorators a method may carry, by name (and `@name.setter` of a property).
METHOD_DECORATORS = frozenset({"staticmethod", "classmethod", "property"})
# Special methods a class may define. The interpreter calls them for operators, len,
# iteration, indexing and calls; Python calls the rest (repr, ==, hash, <) on a value the
# sandbox made, which hands the call back (see classes.UserObject). What would let a program
# reach Python's own machinery (__getattribute__, __del__, __new__, __class_getitem__,
# __init_subclass__, __index__, __torch_function__...) stays refused.
OPERATOR_NAMES = "add sub mul matmul truediv floordiv mod pow lshift rshift and or xor".split()
SPECIAL_METHODS = frozenset(
    {
        *("__init__", "__repr__", "__str__", "__format__", "__hash__", "__bool__"),
        *("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"),
        *("__len__", "__getitem__", "__setitem__", "__delitem__", "__contains__"),
        *("__iter__", "__next__", "__call__", "__float__", "__int__"),
        *("__neg__", "__pos__", "__abs__", "__invert__"),
        *(f"__{prefix}{name}__" for name in OPERATOR_NAMES for prefix in ("", "r", "i")),
    }
)
# Modules people import, with what to use instead.
IMPORT_ADVICE = {
    "numpy": (
        "NumPy is not available here: use torch functions on tensors, and .tolist() "
        "for Python numbers"
    ),
}


@dataclass(frozen=True)
class CheckedProgram:
    """A program that parsed and passed the static checks."""

    source: str
    tree: ast.Module


def check_program(source: str, limits: Limits) -> CheckedProgram:
    """Parse `source` and refuse anything outside the allowed subset, pointing at it."""
    if len(source) > limits.max_code_chars:
        raise too_big(
            f"the program has {len(source)} characters; the limit is {limits.max_code_chars}"
        )
    tree = _parse(source)
    _check_tree(tree, limits)
    return CheckedProgram(source=source, tree=tree)


def _parse(source: str) -> ast.Module:
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences warn at parse time; they are not the learner's problem here.
            warnings.simplefilter("ignore")
            return ast.parse(source, filename="<program>", mode="exec")
    except SyntaxError as error:
        raise ProgramError(
            "Syntax error",
            error.msg or "invalid syntax",
            error.lineno,
            error.offset,
            slug="syntax-error",
        ) from None
    except (RecursionError, MemoryError):
        raise too_big("the program is nested too deeply to read") from None
    except ValueError as error:  # e.g. "source code string cannot contain null bytes"
        raise ProgramError("Syntax error", str(error), slug="syntax-error") from None


def _check_tree(tree: ast.Module, limits: Limits) -> None:
    """Walk iteratively (deep trees must not overflow our own stack) and check every node."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    permitted: set[int] = set()  # ids of nodes a class body allows (`__init__`, `@staticmethod`)
    bound: set[str] = set()  # every name the program binds somewhere
    forbidden: list[tuple[str, ast.AST]] = []  # reads of FORBIDDEN_NAMES, refused if unbound
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > limits.max_ast_nodes:
            raise too_big(f"the program has more than {limits.max_ast_nodes} syntax nodes", node)
        if depth > limits.max_ast_depth:
            raise too_big(f"the program nests deeper than {limits.max_ast_depth} levels", node)
        _check_node(node, permitted)
        if id(node) not in permitted:  # @staticmethod is the class body's, not a builtin read
            _note_names(node, bound, forbidden)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            bits = node.value.bit_length()
            if bits > limits.max_int_bits:
                raise too_big(
                    f"the number has {bits:,} bits; the limit is {limits.max_int_bits:,}", node
                )
        # ast.iter_child_nodes, inlined: its generators would cost as much as the check itself.
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, ast.AST):
                stack.append((value, depth + 1))
            elif isinstance(value, list):
                stack.extend((item, depth + 1) for item in value if isinstance(item, ast.AST))
    for name, node in forbidden:
        if name not in bound:
            raise refused(f"'{name}' is not available in this sandbox", node)


def _note_names(node: ast.AST, bound: set[str], forbidden: list[tuple[str, ast.AST]]) -> None:
    """Names the program binds (a variable called `input` or `type` shadows the builtin)."""
    match node:
        case ast.Name(id=name, ctx=ast.Load()) if name in FORBIDDEN_NAMES:
            forbidden.append((name, node))
        case ast.Name(id=name) | ast.arg(arg=name):
            bound.add(name)
        case ast.FunctionDef(name=name) | ast.ClassDef(name=name):
            bound.add(name)
        case ast.ExceptHandler(name=str() as caught):
            bound.add(caught)
        case ast.alias(name=module, asname=asname):
            bound.add(asname or module.split(".")[0])


def _check_node(node: ast.AST, permitted: set[int]) -> None:
    node_type = type(node)
    if node_type not in ALLOWED_NODES:
        name = CONSTRUCT_NAMES.get(node_type, node_type.__name__)
        raise refused(f"{name} is not supported in this sandbox", node)
    if id(node) in permitted:
        return
    match node:
        case ast.Name(id=name):
            _check_identifier(name, node)
        case ast.ClassDef():
            _check_class(node, permitted)
        case ast.Attribute(attr="__init__", value=ast.Call(func=ast.Name(id="super"))):
            pass  # super().__init__(...): the one dunder a class needs to reach
        case ast.Attribute(attr=attr, ctx=context):
            # `self._prev` is the program's own (micrograd's Value): allowed, and read at run
            # time from the program's objects only. Other dunders (`x.__dict__`) never are,
            # and `__class__` is only read.
            written = attr == "__class__" and not isinstance(context, ast.Load)
            if attr.startswith("__") and (attr not in READABLE_DUNDERS or written):
                raise refused(
                    f"attribute '{attr}' is not allowed: names starting with '__' are internal",
                    node,
                )
        case ast.arg(arg=name):
            _check_identifier(name, node)
        case ast.keyword(arg=keyword) if keyword is not None:
            _check_identifier(keyword, node)
        case ast.FunctionDef(name=name):
            # Decorators are expressions checked like any other; the interpreter takes
            # @torch.no_grad() and @torch.enable_grad() only.
            _check_identifier(name, node)
            _check_parameters(node)
        case ast.Lambda(args=args):
            _check_arguments(args, node)
        case ast.ExceptHandler(name=str() as caught):
            _check_identifier(caught, node)
        case ast.Import(names=aliases):
            for alias in aliases:
                _check_import(alias.name, alias)
                _check_identifier(alias.asname or alias.name.split(".")[0], alias)
        case ast.ImportFrom(module=module, names=aliases, level=level):
            if level or module is None:
                raise refused("relative imports are not allowed", node)
            for alias in aliases:
                if alias.name == "*":
                    raise refused("'import *' is not allowed", alias)
                if alias.name.startswith("_"):
                    raise refused(
                        f"name '{alias.name}' is not allowed: a module's names starting with '_' "
                        "are internal",
                        alias,
                    )
                _check_identifier(alias.asname or alias.name, alias)
            if module not in IMPORTABLE:
                advice = IMPORT_ADVICE.get(module.split(".")[0])
                error = refused(
                    f"import of '{module}' is not allowed ("
                    f"{advice or 'allowed: ' + ', '.join(sorted(IMPORTABLE))})"
                )
                error.line, error.column = node.lineno, node.col_offset + len("from ") + 1
                raise error
        case ast.Constant(value=value) if isinstance(value, bytes):
            raise refused("bytes literals are not supported", node)


def _check_class(node: ast.ClassDef, permitted: set[int]) -> None:
    """`class Name(base):` with methods and class attributes; no metaclass, no decorators.

    The interpreter runs the body and calls the methods itself; of the special methods only
    SPECIAL_METHODS may be defined (Python would call `__getattr__`, `__del__`... itself).
    """
    _check_identifier(node.name, node)
    if node.decorator_list:
        raise refused("decorators on a class are not supported", node.decorator_list[0])
    if node.keywords:
        raise refused(
            "class keywords (metaclass=...) are not supported; write class Name(nn.Module):",
            node.keywords[0],
        )
    if len(node.bases) > 1:
        raise refused(
            "a class may have one base class (nn.Module, torch.autograd.Function, "
            "or a class of the program)",
            node.bases[1],
        )
    for statement in node.body:
        if isinstance(statement, ast.Assign):
            _permit_special_alias(statement, permitted)
        if not isinstance(statement, CLASS_BODY):
            raise refused(
                f"a class body holds methods and attributes only, not {type(statement).__name__}",
                statement,
            )
        if not isinstance(statement, ast.FunctionDef):
            continue
        if statement.name in SPECIAL_METHODS:
            permitted.add(id(statement))
            _check_parameters(statement)
        elif statement.name.startswith("__"):
            raise refused(
                f"method '{statement.name}' is not supported: the special methods a class may "
                "define are __init__, operators (__add__, __radd__, __mul__...), comparisons "
                "(__eq__, __lt__...), __hash__, __repr__, __str__, __len__, __getitem__, "
                "__iter__, __contains__ and __call__",
                statement,
            )
        for decorator in statement.decorator_list:
            # @staticmethod, @classmethod, @property, @name.setter, or a call checked as any
            # expression (@torch.no_grad()); the interpreter refuses other calls.
            if isinstance(decorator, ast.Name) and decorator.id in METHOD_DECORATORS:
                permitted.add(id(decorator))
            elif not (
                isinstance(decorator, ast.Call)
                or (
                    isinstance(decorator, ast.Attribute)
                    and decorator.attr == "setter"
                    and isinstance(decorator.value, ast.Name)
                )
            ):
                raise refused(
                    "a method may have @staticmethod, @classmethod, @property, @name.setter, "
                    "@torch.no_grad() or @torch.enable_grad()",
                    decorator,
                )


def _permit_special_alias(statement: ast.Assign, permitted: set[int]) -> None:
    """`__rmul__ = __mul__` or `__hash__ = None` in a class body: names of special methods,
    bound in the class like a def."""
    names = [*statement.targets, statement.value]
    if all(isinstance(name, ast.Name) and name.id in SPECIAL_METHODS for name in names[:-1]) and (
        (isinstance(statement.value, ast.Name) and statement.value.id in SPECIAL_METHODS)
        or (isinstance(statement.value, ast.Constant) and statement.value.value is None)
    ):
        permitted.update(id(name) for name in names)


def _check_parameters(node: ast.FunctionDef) -> None:
    _check_arguments(node.args, node)


def _check_arguments(args: ast.arguments, node: ast.AST) -> None:
    """Parameters, *args, keyword-only parameters and **kwargs; not positional-only ones."""
    if args.posonlyargs:
        raise refused("positional-only parameters ('/') are not supported", node)
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            _check_identifier(extra.arg, extra)


def _check_identifier(name: str, node: ast.AST) -> None:
    # `_children`, `_op` are the program's own; `__builtins__`, `__class__` are Python's.
    if name.startswith("__"):
        raise refused(f"name '{name}' is not allowed: names starting with '__' are internal", node)


def _check_import(module: str, node: ast.AST) -> None:
    if module not in IMPORTABLE:
        allowed = ", ".join(sorted(IMPORTABLE))
        advice = IMPORT_ADVICE.get(module.split(".")[0])
        raise refused(
            f"import of '{module}' is not allowed ({advice or 'allowed: ' + allowed})", node
        )
