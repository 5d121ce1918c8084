"""Hostile programs: each must be refused with a clear 4xx, quickly, leaving nothing behind.

`slug` is the end of the problem `type` (/problems/<slug>); `words` must appear in `detail`.
Programs that try to touch files use paths with FILE_MARKER in them, so the test can check
that no such file appeared.
"""

from dataclasses import dataclass

FILE_MARKER = "agx_pwned"
IMPORT_TORCH = "import torch\n"
LEAF = IMPORT_TORCH + "x = torch.ones(3, requires_grad=True)\n"
MODEL = IMPORT_TORCH + "m = torch.nn.Linear(2, 2)\n"
NN = IMPORT_TORCH + "from torch import nn\n"
NET = NN + (
    "class Net(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.fc = nn.Linear(2, 2)\n"
    "    def forward(self, x):\n"
    "        return self.fc(x)\n"
    "m = Net()\n"
)


@dataclass(frozen=True)
class Hostile:
    name: str
    code: str
    slug: str
    words: str


CORPUS: tuple[Hostile, ...] = (
    # Imports -------------------------------------------------------------------------------
    Hostile("import_os", "import os", "not-allowed", "import of 'os'"),
    Hostile("import_subprocess_alias", "import subprocess as torch", "not-allowed", "subprocess"),
    Hostile("from_os_system", "from os import system", "not-allowed", "'os'"),
    Hostile("import_importlib", "import importlib", "not-allowed", "importlib"),
    Hostile(
        "import_torch_utils_checkpoint",
        "import torch.utils.checkpoint",
        "not-allowed",
        "torch.utils.checkpoint",
    ),
    Hostile("import_torch_jit", "import torch.jit", "not-allowed", "torch.jit"),
    Hostile("from_torch_private", "from torch import _C", "not-allowed", "'_C'"),
    Hostile("relative_import", "from . import app", "not-allowed", "relative"),
    Hostile("star_import", "from math import *", "not-allowed", "import *"),
    Hostile("dunder_import", "__import__('os')", "not-allowed", "'__import__'"),
    # Dunder chains and reflection ----------------------------------------------------------
    Hostile("subclasses", "().__class__.__bases__[0].__subclasses__()", "not-allowed", "_"),
    Hostile("mro", "[].__class__.__mro__", "not-allowed", "'__mro__'"),
    Hostile("dict_of_tensor", LEAF + "d = x.__dict__", "not-allowed", "'__dict__'"),
    Hostile("builtins_of_module", IMPORT_TORCH + "b = torch.__builtins__", "not-allowed", "_"),
    Hostile("torch_os", IMPORT_TORCH + "torch.os.system('id')", "not-allowed", "torch.os"),
    Hostile("torch_sys", IMPORT_TORCH + "m = torch.sys.modules", "not-allowed", "torch.sys"),
    Hostile("builtin_internals", "f = print.function", "not-allowed", "'function'"),
    Hostile(
        "safe_function_target", IMPORT_TORCH + "f = torch.ones.target", "not-allowed", "'target'"
    ),
    Hostile("user_function_node", "def f():\n    pass\nn = f.node", "not-allowed", "'node'"),
    Hostile("method_receiver", LEAF + "r = x.sum.receiver", "not-allowed", "'receiver'"),
    Hostile("namespace_members", IMPORT_TORCH + "m = torch.members", "not-allowed", "members"),
    Hostile("getattr", "getattr(1, 'real')", "not-allowed", "'getattr'"),
    Hostile("vars", "v = vars()", "not-allowed", "'vars'"),
    Hostile("globals", "g = globals()", "not-allowed", "'globals'"),
    Hostile("eval", "eval('1 + 1')", "not-allowed", "'eval'"),
    Hostile("exec", "exec('x = 1')", "not-allowed", "'exec'"),
    Hostile("compile", "c = compile('1', 'f', 'eval')", "not-allowed", "'compile'"),
    Hostile("open_write", f"open('/tmp/{FILE_MARKER}', 'w')", "not-allowed", "'open'"),
    Hostile("breakpoint", "breakpoint()", "not-allowed", "'breakpoint'"),
    Hostile("exit", "exit(1)", "not-allowed", "'exit'"),
    Hostile("object_builtin", "o = object", "not-allowed", "'object'"),
    # Classes (class Net(nn.Module), plain classes) ------------------------------------------
    # The interpreter holds the class as a table and runs every method itself; torch calls
    # only forward, which hands the call back to the interpreter under the same budgets.
    Hostile(
        "class_dunder_class",
        NET + ("c = m.__class__.__dict__"),
        "not-allowed",
        "'__dict__'",
    ),
    Hostile(
        "class_mro",
        ("class A:\n    pass\nb = A.__mro__"),
        "not-allowed",
        "'__mro__'",
    ),
    Hostile(
        "class_subclasses",
        ("class A:\n    pass\nb = A.__subclasses__()"),
        "not-allowed",
        "'__subclasses__'",
    ),
    Hostile(
        "class_init_subclass",
        ("class A:\n    def __init_subclass__(cls):\n        pass"),
        "not-allowed",
        "__init_subclass__",
    ),
    Hostile(
        "class_metaclass",
        ("class A(metaclass=print):\n    pass"),
        "not-allowed",
        "metaclass",
    ),
    Hostile(
        "class_getattr_method",
        ("class A:\n    def __getattr__(self, name):\n        return 1"),
        "not-allowed",
        "__getattr__",
    ),
    Hostile(
        "class_del_method",
        ("class A:\n    def __del__(self):\n        print('x')"),
        "not-allowed",
        "__del__",
    ),
    Hostile(
        "class_reduce_method",
        ("class A:\n    def __reduce__(self):\n        return (print, ())"),
        "not-allowed",
        "__reduce__",
    ),
    Hostile(
        # Python would call it for 'a' * V(): a repetition no size check sees.
        "class_index_operator",
        ("class V:\n    def __index__(self):\n        return 10**12\ns = 'a' * V()"),
        "not-allowed",
        "__index__",
    ),
    Hostile(
        "class_getattribute",
        ("class V:\n    def __getattribute__(self, name):\n        return 1"),
        "not-allowed",
        "__getattribute__",
    ),
    Hostile(
        "class_new",
        ("class V:\n    def __new__(cls):\n        return 1"),
        "not-allowed",
        "__new__",
    ),
    Hostile(
        "class_torch_function",
        ("class V:\n    def __torch_function__(self, f, t, a, k):\n        return f"),
        "not-allowed",
        "__torch_function__",
    ),
    Hostile(
        "class_metaclass",
        ("class M:\n    pass\nclass V(metaclass=M):\n    pass"),
        "not-allowed",
        "metaclass",
    ),
    Hostile(
        "module_class_call_operator",
        NN + "class N(nn.Module):\n    def __call__(self, x):\n        return x\n",
        "not-allowed",
        "__call__",
    ),
    Hostile(
        "module_private_state",
        NN + "class N(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self._forward_hooks = {}\nn = N()",
        "not-allowed",
        "_forward_hooks",
    ),
    Hostile(
        "module_sandbox_state",
        NN + "class N(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self._agx_forward = None\nn = N()",
        "not-allowed",
        "_agx_forward",
    ),
    Hostile("tensor_private_attribute", LEAF + "b = x._base", "not-allowed", "'_base'"),
    Hostile("torch_private_namespace", IMPORT_TORCH + "c = torch._C", "not-allowed", "torch._C"),
    Hostile(
        "class_body_loop",
        ("class A:\n    for i in range(3):\n        pass"),
        "not-allowed",
        "For",
    ),
    Hostile(
        "class_body_runs_code_bounded",
        ("class A:\n    x = [0] * 10**9"),
        "limit",
        "items",
    ),
    Hostile(
        "class_decorated",
        ("@print\nclass A:\n    pass"),
        "not-allowed",
        "decorators",
    ),
    Hostile(
        "class_method_decorator",
        ("class A:\n    @print\n    def f(self):\n        return 1"),
        "not-allowed",
        "staticmethod",
    ),
    Hostile(
        "class_base_builtin",
        ("class A(dict):\n    pass"),
        "not-allowed",
        "inherit",
    ),
    Hostile(
        "class_base_tensor",
        NN + ("class T(torch.Tensor):\n    pass"),
        "not-allowed",
        "inherit from",
    ),
    Hostile(
        "class_two_bases",
        NN + ("class A(nn.Module, nn.Module):\n    pass"),
        "not-allowed",
        "one base",
    ),
    Hostile(
        "class_super_dunder",
        NET + ("s = super().__class__.__mro__"),
        "not-allowed",
        "'__mro__'",
    ),
    Hostile(
        "class_super_outside_method",
        ("s = super()"),
        "program-error",
        "outside a method",
    ),
    Hostile(
        "class_super_other_attribute",
        NET
        + (
            "class B(Net):\n"
            "    def forward(self, x):\n"
            "        return super().parameters()\n"
            "b = B()\n"
            "b(torch.ones(2))"
        ),
        "not-allowed",
        "super().parameters",
    ),
    Hostile(
        "class_set_forward",
        NET + ("m.forward = print"),
        "not-allowed",
        "relies on",
    ),
    Hostile(
        "class_set_call",
        NET + ("m.register_forward_hook = 1"),
        "not-allowed",
        "relies on",
    ),
    Hostile(
        "class_private_buffer",
        NET + ("m.register_buffer('_parameters', torch.ones(1))"),
        "not-allowed",
        "leading '_'",
    ),
    Hostile(
        "class_module_in_itself",
        NET + ("m.me = m"),
        "not-allowed",
        "itself",
    ),
    Hostile(
        "class_module_list_cycle",
        NN + ("l = nn.ModuleList()\nl.append(l)"),
        "not-allowed",
        "itself",
    ),
    Hostile(
        "class_recursive_forward",
        NN
        + (
            "class R(nn.Module):\n"
            "    def forward(self, x):\n"
            "        return self(x)\n"
            "r = R()\n"
            "r(torch.ones(1))"
        ),
        "limit",
        "deep",
    ),
    Hostile(
        "class_forward_endless_loop",
        NN
        + (
            "class R(nn.Module):\n"
            "    def forward(self, x):\n"
            "        while True:\n"
            "            pass\n"
            "r = R()\n"
            "r(torch.ones(1))"
        ),
        "limit",
        "steps",
    ),
    Hostile(
        "class_forward_in_sequential_loops",
        NN
        + (
            "class R(nn.Module):\n"
            "    def forward(self, x):\n"
            "        while True:\n"
            "            pass\n"
            "s = nn.Sequential(R())\n"
            "s(torch.ones(1))"
        ),
        "limit",
        "steps",
    ),
    Hostile(
        "class_without_super_init",
        NN
        + (
            "class N(nn.Module):\n"
            "    def __init__(self):\n"
            "        self.fc = nn.Linear(1, 1)\n"
            "n = N()"
        ),
        "program-error",
        "__init__",
    ),
    Hostile(
        "class_object_to_torch",
        ("import torch\nclass A:\n    pass\nt = torch.tensor(A())"),
        "not-allowed",
        "cannot be passed",
    ),
    Hostile(
        "class_instance_type",
        ("class A:\n    pass\nt = A().cls"),
        "program-error",
        "no attribute",
    ),
    Hostile(
        "class_function_node",
        ("class A:\n    def f(self):\n        pass\nn = A.f.node"),
        "not-allowed",
        "'node'",
    ),
    Hostile(
        "class_attributes_flood",
        ("class A:\n    pass\na = A()\nfor i in range(200000):\n    a.x = i"),
        "limit",
        "items",
    ),
    Hostile(
        "class_statement_in_a_loop",
        IMPORT_TORCH + "for i in range(5000):\n    class A(torch.autograd.Function):\n        pass",
        "limit",
        "classes",
    ),
    # Custom autograd Functions: torch's engine calls the program's backward (through a
    # Function type of ours) during backward(); what it returns is checked before kernels
    # see it, and it runs under the program's budgets.
    Hostile(
        "function_grad_wrong_shape",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g.sum()\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "program-error",
        "shape",
    ),
    Hostile(
        "function_grad_expanded_bigger",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g.expand(1000, 3)\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "program-error",
        "shape",
    ),
    Hostile(
        "function_grad_wrong_dtype",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g.double()\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "program-error",
        "dtype",
    ),
    Hostile(
        "function_grad_count",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g, g\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "program-error",
        "2 gradients",
    ),
    Hostile(
        "function_grad_not_tensor",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return 1.0\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "program-error",
        "a tensor",
    ),
    Hostile(
        "function_backward_reenters_backward",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        y.backward()\n"
            "        return g\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "not-allowed",
        "inside the backward",
    ),
    Hostile(
        "function_backward_autograd_grad",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return torch.autograd.grad(y, x)[0]\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "not-allowed",
        "inside the backward",
    ),
    Hostile(
        "function_backward_endless",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        while True:\n"
            "            pass\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "limit",
        "steps",
    ),
    Hostile(
        "function_backward_recursion",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return F.backward(ctx, g)\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "limit",
        "deep",
    ),
    Hostile(
        "function_forward_recursion",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        return F.apply(x)\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g\n"
            "F.apply(torch.ones(1, requires_grad=True))\n"
            ""
        ),
        "limit",
        "deep",
    ),
    Hostile(
        "function_saved_in_forward",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        a = ctx.saved_tensors\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "program-error",
        "backward only",
    ),
    Hostile(
        "function_save_in_backward",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        ctx.save_for_backward(g)\n"
            "        return g\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "program-error",
        "inside forward only",
    ),
    Hostile(
        "function_ctx_private",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        c = ctx._ctx\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "not-allowed",
        "'_ctx'",
    ),
    Hostile(
        "function_ctx_dict",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        c = ctx.__dict__\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "not-allowed",
        "'__dict__'",
    ),
    Hostile(
        "function_ctx_mark_dirty",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.mark_dirty(x)\n"
            "        return x\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "program-error",
        "mark_dirty",
    ),
    Hostile(
        "function_ctx_overwrite_saved",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.saved_tensors = (x,)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g\n"
            "x = torch.ones(3, requires_grad=True)\n"
            "y = F.apply(x).sum()\n"
            "y.backward()\n"
            ""
        ),
        "not-allowed",
        "saved_tensors",
    ),
    Hostile(
        "function_ctx_leaked",
        IMPORT_TORCH
        + (
            "kept = []\n"
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        kept.append(ctx)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g\n"
            "y = F.apply(torch.ones(1, requires_grad=True))\n"
            "kept[0].save_for_backward(y)\n"
            ""
        ),
        "program-error",
        "inside forward only",
    ),
    Hostile(
        "function_apply_callable",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g\n"
            "y = F.apply(print)\n"
            ""
        ),
        "not-allowed",
        "cannot be passed",
    ),
    Hostile(
        "function_instantiated",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g\n"
            "f = F()\n"
            ""
        ),
        "program-error",
        "apply",
    ),
    Hostile(
        "function_apply_keywords",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            "        return x * 2\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        return g\n"
            "y = F.apply(x=torch.ones(1))\n"
            ""
        ),
        "program-error",
        "positional",
    ),
    Hostile(
        "function_without_staticmethod_backward",
        IMPORT_TORCH
        + (
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        return x * 2\n"
            "y = F.apply(torch.ones(1, requires_grad=True)).sum()\n"
            "y.backward()\n"
            ""
        ),
        "program-error",
        "backward",
    ),
    # Python: try/except (limits and refusals are never caught), lambda, decorators,
    # str.format and % (no attribute or item access in fields, bounded widths), type().
    Hostile(
        "except_baseexception_swallows_steps",
        ("try:\n    while True:\n        pass\nexcept BaseException:\n    pass\nprint('escaped')"),
        "limit",
        "steps",
    ),
    Hostile(
        "bare_except_swallows_steps",
        ("while True:\n    try:\n        while True:\n            pass\n    except:\n        pass"),
        "limit",
        "steps",
    ),
    Hostile(
        "except_swallows_size_limit",
        IMPORT_TORCH + ("try:\n    t = torch.ones(10**5, 10**5)\nexcept Exception:\n    t = None"),
        "limit",
        "elements",
    ),
    Hostile(
        "except_swallows_refusal",
        IMPORT_TORCH + ("try:\n    torch.load('x')\nexcept Exception:\n    pass"),
        "not-allowed",
        "unpickles",
    ),
    Hostile(
        "except_swallows_recursion_limit",
        ("def f():\n    try:\n        f()\n    except Exception:\n        f()\nf()"),
        "limit",
        "deep",
    ),
    Hostile(
        "finally_runs_after_limit",
        ("try:\n    while True:\n        pass\nfinally:\n    while True:\n        pass"),
        "limit",
        "steps",
    ),
    Hostile(
        "except_traceback",
        ("try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    t = e.__traceback__"),
        "not-allowed",
        "'__traceback__'",
    ),
    Hostile(
        "except_with_traceback",
        ("try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    t = e.with_traceback(None)"),
        "not-allowed",
        "'with_traceback'",
    ),
    Hostile(
        "except_args_class",
        ("try:\n    1 / 0\nexcept Exception as e:\n    c = e.args[0].__class__.__base__"),
        "not-allowed",
        "'__base__'",
    ),
    Hostile(
        "except_catches_non_class",
        ("try:\n    1 / 0\nexcept print:\n    pass"),
        "program-error",
        "BaseException",
    ),
    Hostile(
        "raise_non_exception",
        ("raise 3"),
        "program-error",
        "BaseException",
    ),
    Hostile(
        "raise_system_exit_name",
        ("raise KeyboardInterrupt"),
        "program-error",
        "'KeyboardInterrupt'",
    ),
    Hostile(
        "except_star",
        ("try:\n    pass\nexcept* ValueError:\n    pass"),
        "not-allowed",
        "except*",
    ),
    Hostile(
        "exception_to_torch",
        IMPORT_TORCH + ("t = torch.tensor(ValueError('x'))"),
        "not-allowed",
        "cannot be passed",
    ),
    Hostile(
        "lambda_node",
        ("f = lambda: 0\nn = f.node"),
        "not-allowed",
        "'node'",
    ),
    Hostile(
        "lambda_scope",
        ("f = lambda: 0\nn = f.scope"),
        "not-allowed",
        "'scope'",
    ),
    Hostile(
        "lambda_recursion",
        ("f = lambda n: f(n)\nf(1)"),
        "limit",
        "deep",
    ),
    Hostile(
        "lambda_to_torch",
        IMPORT_TORCH + ("x = torch.ones(2)\ny = x.apply_(lambda v: v)"),
        "not-allowed",
        "'apply_'",
    ),
    Hostile(
        "lambda_positional_only",
        ("f = lambda a, /: a"),
        "not-allowed",
        "positional-only",
    ),
    Hostile(
        "lambda_in_sorted_key_loops",
        ("def spin(v):\n    while True:\n        pass\nsorted([1, 2], key=spin)"),
        "limit",
        "steps",
    ),
    Hostile(
        "map_huge",
        ("m = list(map(lambda v: v, range(10**9)))"),
        "limit",
        "items",
    ),
    Hostile(
        "decorator_print",
        ("@print\ndef f():\n    pass"),
        "not-allowed",
        "decorators",
    ),
    Hostile(
        "decorator_user_function",
        ("def wrap(fn):\n    return fn\n@wrap\ndef f():\n    pass"),
        "not-allowed",
        "decorators",
    ),
    Hostile(
        "decorator_set_grad_enabled",
        IMPORT_TORCH + ("@torch.set_grad_enabled(False)\ndef f():\n    pass"),
        "not-allowed",
        "decorators",
    ),
    Hostile(
        "format_attribute_field",
        ("s = '{0.__class__}'.format(1)"),
        "not-allowed",
        "attributes or items",
    ),
    Hostile(
        "format_item_field",
        ("s = '{0[0]}'.format([1])"),
        "not-allowed",
        "attributes or items",
    ),
    Hostile(
        "format_keyword_attribute",
        ("s = '{x.real}'.format(x=1)"),
        "not-allowed",
        "attributes or items",
    ),
    Hostile(
        "format_wide",
        ("s = '{:>999999}'.format(1)"),
        "not-allowed",
        "format spec",
    ),
    Hostile(
        "format_nested_spec",
        ("s = '{:{}}'.format(1, 999999)"),
        "not-allowed",
        "another field",
    ),
    Hostile(
        "format_precision",
        ("s = '{:.99999f}'.format(1.5)"),
        "not-allowed",
        "format spec",
    ),
    Hostile(
        "format_map_attribute",
        ("s = '{x.__class__}'.format_map({'x': 1})"),
        "not-allowed",
        "attributes or items",
    ),
    Hostile(
        "percent_wide",
        ("s = '%999999d' % 1"),
        "not-allowed",
        "more than 100",
    ),
    Hostile(
        "percent_star",
        ("s = '%*d' % (999999, 1)"),
        "not-allowed",
        "'*'",
    ),
    Hostile(
        "percent_tensor_wide",
        IMPORT_TORCH + ("s = '%999999s' % torch.ones(1)"),
        "not-allowed",
        "more than 100",
    ),
    Hostile(
        "percent_precision",
        ("s = '%.999999f' % 1.0"),
        "not-allowed",
        "more than 100",
    ),
    Hostile(
        "type_name_dunder",
        ("import torch\nt = torch.ones(1).__name__"),
        "not-allowed",
        "'__name__'",
    ),
    Hostile(
        "type_of_module_mro",
        IMPORT_TORCH + ("t = type(torch.nn.Linear(1, 1)).mro"),
        "not-allowed",
        "'mro'",
    ),
    Hostile(
        "type_proxy_qualname",
        IMPORT_TORCH + ("t = type(torch.ones(1)).qualname"),
        "not-allowed",
        "'qualname'",
    ),
    Hostile(
        "type_three_arguments",
        ("T = type('T', (), {})"),
        "program-error",
        "type",
    ),
    Hostile(
        "type_call_proxy",
        IMPORT_TORCH + ("t = type(torch.ones(1))(3)"),
        "program-error",
        "not callable",
    ),
    Hostile(
        "isinstance_not_a_type",
        ("b = isinstance(1, print)"),
        "program-error",
        "type",
    ),
    Hostile(
        "shadowed_eval_unbound",
        ("def f(eval):\n    return eval\nx = eval('1')"),
        "program-error",
        "'eval' is not defined",
    ),
    Hostile(
        "input_builtin_unbound",
        ("x = input()"),
        "not-allowed",
        "'input'",
    ),
    # The program's functions where torch takes a callable: tensor hooks and
    # torch.autograd.functional run them through wrappers of ours, under the budgets, and
    # what a hook returns is checked like a gradient.
    Hostile(
        "hook_resizes_gradient",
        LEAF + ("x.register_hook(lambda g: g.sum())\ny = (x * 2).sum()\ny.backward()"),
        "program-error",
        "shape",
    ),
    Hostile(
        "hook_expands_gradient",
        LEAF + ("x.register_hook(lambda g: g.expand(1000, 3))\ny = (x * 2).sum()\ny.backward()"),
        "program-error",
        "shape",
    ),
    Hostile(
        "hook_changes_dtype",
        LEAF + ("x.register_hook(lambda g: g.double())\ny = (x * 2).sum()\ny.backward()"),
        "program-error",
        "dtype",
    ),
    Hostile(
        "hook_returns_number",
        LEAF + ("x.register_hook(lambda g: 1.0)\ny = (x * 2).sum()\ny.backward()"),
        "program-error",
        "must return a tensor",
    ),
    Hostile(
        "hook_reenters_backward",
        LEAF
        + (
            "y = (x * 2).sum()\n"
            "def h(g):\n"
            "    y.backward()\n"
            "x.register_hook(h)\n"
            "y.backward(retain_graph=True)"
        ),
        "not-allowed",
        "inside the backward",
    ),
    Hostile(
        "hook_endless",
        LEAF
        + (
            "def h(g):\n"
            "    while True:\n"
            "        pass\n"
            "x.register_hook(h)\n"
            "y = (x * 2).sum()\n"
            "y.backward()"
        ),
        "limit",
        "steps",
    ),
    Hostile(
        "hook_recursion",
        LEAF + ("def h(g):\n    return h(g)\nx.register_hook(h)\ny = (x * 2).sum()\ny.backward()"),
        "limit",
        "deep",
    ),
    Hostile(
        "hook_not_a_function",
        LEAF + ("x.register_hook(3)"),
        "program-error",
        "function of the program",
    ),
    Hostile(
        "hook_torch_function",
        LEAF + ("x.register_hook(torch.neg)"),
        "program-error",
        "function of the program",
    ),
    Hostile(
        "hook_handle_internals",
        LEAF + ("h = x.register_hook(print)\nr = h.handle"),
        "not-allowed",
        "'handle'",
    ),
    Hostile(
        "hook_many_registrations_bounded",
        LEAF + ("while True:\n    x.register_hook(print)"),
        "limit",
        "steps",
    ),
    Hostile(
        "jacobian_huge",
        IMPORT_TORCH
        + (
            "from torch.autograd.functional import jacobian, hessian\n"
            "J = jacobian(lambda v: v.repeat(2000), torch.ones(2000))"
        ),
        "limit",
        "elements",
    ),
    Hostile(
        "jacobian_vectorize",
        IMPORT_TORCH
        + (
            "from torch.autograd.functional import jacobian, hessian\n"
            "J = jacobian(lambda v: v, torch.ones(2), vectorize=True)"
        ),
        "not-allowed",
        "create_graph",
    ),
    Hostile(
        "jacobian_strategy",
        IMPORT_TORCH
        + (
            "from torch.autograd.functional import jacobian, hessian\n"
            "J = jacobian(lambda v: v, torch.ones(2), strategy='forward-mode')"
        ),
        "not-allowed",
        "create_graph",
    ),
    Hostile(
        "jacobian_function_backward",
        IMPORT_TORCH
        + (
            "from torch.autograd.functional import jacobian, hessian\n"
            "def f(v):\n"
            "    (v * 2).sum().backward()\n"
            "    return v\n"
            "J = jacobian(f, torch.ones(2))"
        ),
        "not-allowed",
        "inside the backward",
    ),
    Hostile(
        "jacobian_returns_list_of_strings",
        IMPORT_TORCH
        + (
            "from torch.autograd.functional import jacobian, hessian\n"
            "J = jacobian(lambda v: 'x', torch.ones(2))"
        ),
        "program-error",
        "must return tensors",
    ),
    Hostile(
        "jacobian_endless",
        IMPORT_TORCH
        + (
            "from torch.autograd.functional import jacobian, hessian\n"
            "def f(v):\n"
            "    while True:\n"
            "        pass\n"
            "J = jacobian(f, torch.ones(2))"
        ),
        "limit",
        "steps",
    ),
    Hostile(
        "hessian_recursion",
        IMPORT_TORCH
        + (
            "from torch.autograd.functional import jacobian, hessian\n"
            "def f(v):\n"
            "    return hessian(f, v)\n"
            "H = hessian(f, torch.ones(2))"
        ),
        "not-allowed",
        "cannot run inside",
    ),
    Hostile(
        "jacobian_inputs_not_tensors",
        IMPORT_TORCH
        + (
            "from torch.autograd.functional import jacobian, hessian\n"
            "J = jacobian(lambda v: v, [print])"
        ),
        "not-allowed",
        "cannot be passed",
    ),
    Hostile(
        "hook_runs_jacobian",
        LEAF
        + (
            "from torch.autograd.functional import jacobian\n"
            "def h(g):\n"
            "    return jacobian(lambda v: v * 2, g).sum(0)\n"
            "x.register_hook(h)\n"
            "y = (x * 2).sum()\n"
            "y.backward()"
        ),
        "not-allowed",
        "inside the backward",
    ),
    # Module forward hooks: the program's function runs as the module does, and may only
    # hand back tensors.
    Hostile(
        "module_hook_returns_text",
        MODEL + ("m.register_forward_hook(lambda mod, i, o: 'x')\ny = m(torch.ones(2))"),
        "program-error",
        "may return None",
    ),
    Hostile(
        "module_pre_hook_returns_module",
        MODEL + ("m.register_forward_pre_hook(lambda mod, i: mod)\ny = m(torch.ones(2))"),
        "program-error",
        "may return None",
    ),
    # What a hook hands on is what the guard checked: a pre-hook cannot swap in a bigger
    # input, a forward hook a bigger output, and a PackedSequence is checked after the hook.
    Hostile(
        "module_pre_hook_swaps_in_a_bigger_input",
        IMPORT_TORCH
        + (
            "lin = torch.nn.Linear(4, 4000)\n"
            "big = torch.randn(25000, 4)\n"
            "def pre(mod, inputs):\n"
            "    return big\n"
            "lin.register_forward_pre_hook(pre)\n"
            "y = lin(torch.randn(1, 4))"
        ),
        "not-allowed",
        "not shapes or dtypes",
    ),
    Hostile(
        "module_pre_hook_swaps_attention_inputs",
        IMPORT_TORCH
        + (
            "mha = torch.nn.MultiheadAttention(4, 1)\n"
            "big = torch.randn(30000, 1, 4)\n"
            "mha.register_forward_pre_hook(lambda mod, inputs: (big, big, big))\n"
            "q = torch.randn(2, 1, 4)\n"
            "y = mha(q, q, q)"
        ),
        "not-allowed",
        "not shapes or dtypes",
    ),
    Hostile(
        "module_forward_hook_swaps_in_a_bigger_output",
        IMPORT_TORCH
        + (
            "inner = torch.nn.Linear(4, 4)\n"
            "model = torch.nn.Sequential(inner, torch.nn.Linear(4, 4000))\n"
            "big = torch.randn(25000, 4)\n"
            "inner.register_forward_hook(lambda mod, i, o: big)\n"
            "y = model(torch.randn(1, 4))"
        ),
        "not-allowed",
        "not shapes or dtypes",
    ),
    Hostile(
        "module_pre_hook_rewrites_batch_sizes",
        IMPORT_TORCH
        + (
            "rnn = torch.nn.LSTM(4, 8)\n"
            "p = torch.nn.utils.rnn.pack_padded_sequence(torch.randn(5, 3, 4), [5, 4, 2])\n"
            "new = torch.tensor([5, 3, 2, 1, 0])\n"
            "def pre(mod, inputs):\n"
            "    inputs[0].batch_sizes.copy_(new)\n"
            "rnn.register_forward_pre_hook(pre)\n"
            "out, h = rnn(p)"
        ),
        "not-allowed",
        "changed after packing",
    ),
    # torch.autograd.functional: the result and the backward passes torch runs are charged.
    Hostile(
        "hessian_of_a_long_vector",
        IMPORT_TORCH
        + (
            "def f(v):\n"
            "    return (v * v * v).sum()\n"
            "H = torch.autograd.functional.hessian(f, torch.randn(12000))"
        ),
        "limit",
        "144,000,000",
    ),
    Hostile(
        "jacobian_of_heavy_work_per_output",
        IMPORT_TORCH
        + (
            "W = torch.randn(400, 400)\n"
            "def f(x):\n"
            "    return (W @ (W * x)).reshape(-1)[:8000]\n"
            "J = torch.autograd.functional.jacobian(f, torch.randn(1, requires_grad=True))"
        ),
        "limit",
        "work through",
    ),
    Hostile(
        "module_hook_endless",
        MODEL
        + (
            "def h(mod, i, o):\n"
            "    while True:\n"
            "        pass\n"
            "m.register_forward_hook(h)\n"
            "y = m(torch.ones(2))"
        ),
        "limit",
        "steps",
    ),
    Hostile(
        "module_hook_recursion",
        MODEL
        + (
            "def h(mod, i, o):\n"
            "    return mod(i[0])\n"
            "m.register_forward_hook(h)\n"
            "y = m(torch.ones(2))"
        ),
        "limit",
        "deep",
    ),
    Hostile(
        "module_hook_backward",
        MODEL
        + (
            "def h(mod, i, o):\n"
            "    o.sum().backward()\n"
            "m.register_forward_hook(h)\n"
            "y = m(torch.ones(2))"
        ),
        "not-allowed",
        "cannot run inside",
    ),
    Hostile(
        "module_hook_keywords",
        MODEL + ("m.register_forward_hook(print, with_kwargs=True)"),
        "program-error",
        "one function",
    ),
    Hostile(
        "module_hook_torch_function",
        MODEL + ("m.register_forward_hook(torch.relu)"),
        "program-error",
        "function of the program",
    ),
    Hostile(
        "module_backward_hook",
        MODEL + ("m.register_full_backward_hook(print)"),
        "not-allowed",
        "register_full_backward_hook",
    ),
    Hostile(
        "module_hook_handle_internals",
        MODEL + ("h = m.register_forward_hook(print)\nd = h.handle"),
        "not-allowed",
        "'handle'",
    ),
    # Format strings ------------------------------------------------------------------------
    Hostile("str_format_map_wide", "s = '{x:99999}'.format_map({'x': 1})", "not-allowed", "format"),
    Hostile("str_format_map_not_dict", "s = '{x}'.format_map(1)", "program-error", "format_map"),
    Hostile("format_builtin", "s = format(1, 'x')", "not-allowed", "'format'"),
    Hostile("fstring_wide", "x = 1\ns = f'{x!r:>99999}'", "not-allowed", "format spec"),
    Hostile("fstring_nested_spec", "w = '9' * 6\ns = f'{1:{w}}'", "not-allowed", "format spec"),
    Hostile("fstring_precision", "s = f'{1.5:.99999f}'", "not-allowed", "format spec"),
    # Constructs ----------------------------------------------------------------------------
    Hostile("generator_function", "def g():\n    yield 1", "not-allowed", "yield"),
    Hostile("generator_frame", "g = (i for i in [1])\nf = g.gi_frame", "not-allowed", "gi_frame"),
    Hostile("raise_system_exit", "raise SystemExit", "program-error", "'SystemExit'"),
    Hostile("global", "global x", "not-allowed", "global"),
    Hostile("walrus", "y = (x := 1)", "not-allowed", "walrus"),
    Hostile("async", "async def f():\n    pass", "not-allowed", "async"),
    Hostile("match", "match 1:\n    case 1:\n        pass", "not-allowed", "match"),
    Hostile("decorator", "@print\ndef f():\n    pass", "not-allowed", "decorator"),
    Hostile("varargs_dunder", "def f(*__a):\n    pass", "not-allowed", "'__a'"),
    Hostile("posonly_shadowing", "def f(a, /):\n    pass", "not-allowed", "positional-only"),
    Hostile("double_star_call", "d = dict(**{1: 2})", "program-error", "keywords must be"),
    Hostile(
        "double_star_out",
        IMPORT_TORCH + "z = torch.zeros(2, **{'out': torch.ones(2)})",
        "not-allowed",
        "'out='",
    ),
    Hostile("bytes_literal", "b = b'x'", "not-allowed", "bytes"),
    Hostile("with_open", "with open('f') as f:\n    pass", "not-allowed", "'open'"),
    Hostile("print_to_file", "print(1, file=None)", "program-error", "print(): "),
    Hostile("sorted_cmp", "s = sorted([2, 1], cmp=abs)", "program-error", "sorted(): "),
    Hostile(
        "list_sort_key_loops",
        "a = [2, 1]\ndef k(v):\n    while True:\n        pass\na.sort(key=k)",
        "limit",
        "steps",
    ),
    # Unicode look-alikes (the parser applies NFKC; the checker sees the real name) ----------
    Hostile("fullwidth_eval", "\uff45\uff56\uff41\uff4c('1')", "not-allowed", "'eval'"),
    Hostile("bold_exec", "\U0001d41e\U0001d431\U0001d41e\U0001d41c('1')", "not-allowed", "'exec'"),
    Hostile(
        "fullwidth_underscore", "x = ().\uff3f\uff3fclass\uff3f\uff3f", "syntax-error", "U+FF3F"
    ),
    Hostile("fullwidth_import_os", "import \uff4f\uff53", "not-allowed", "'os'"),
    Hostile(
        "fullwidth_open",
        f"\uff4f\uff50\uff45\uff4e('/tmp/{FILE_MARKER}', 'w')",
        "not-allowed",
        "'open'",
    ),
    # Dangerous torch entries ---------------------------------------------------------------
    Hostile("torch_load", IMPORT_TORCH + "torch.load('model.pt')", "not-allowed", "torch.load"),
    Hostile(
        "torch_save", LEAF + f"torch.save(x, '/tmp/{FILE_MARKER}')", "not-allowed", "torch.save"
    ),
    Hostile(
        "torch_from_file",
        IMPORT_TORCH + f"t = torch.from_file('/tmp/{FILE_MARKER}', shared=True, size=8)",
        "not-allowed",
        "torch.from_file",
    ),
    Hostile("torch_hub", IMPORT_TORCH + "torch.hub.load('a/b', 'c')", "not-allowed", "torch.hub"),
    Hostile("torch_ops", IMPORT_TORCH + "f = torch.ops.aten.add", "not-allowed", "torch.ops"),
    Hostile("torch_jit", IMPORT_TORCH + "f = torch.jit.script", "not-allowed", "torch.jit"),
    Hostile("torch_compile", IMPORT_TORCH + "f = torch.compile", "not-allowed", "torch.compile"),
    Hostile(
        "torch_utils_beyond_data",
        IMPORT_TORCH + "u = torch.utils.cpp_extension",
        "not-allowed",
        "torch.utils.cpp_extension",
    ),
    Hostile(
        "torch_backends",
        IMPORT_TORCH + "b = torch.backends.cudnn",
        "not-allowed",
        "torch.backends.cudnn",
    ),
    Hostile(
        "torch_distributed", IMPORT_TORCH + "d = torch.distributed", "not-allowed", "distributed"
    ),
    Hostile(
        "set_default_dtype",
        IMPORT_TORCH + "torch.set_default_dtype(torch.float64)",
        "not-allowed",
        "other programs",
    ),
    Hostile(
        "set_num_threads",
        IMPORT_TORCH + "torch.set_num_threads(64)",
        "not-allowed",
        "other programs",
    ),
    Hostile(
        "autograd_function_base_called",
        IMPORT_TORCH + "F = torch.autograd.Function()",
        "not-allowed",
        "class Name(torch.autograd.Function)",
    ),
    Hostile(
        "device_cuda", IMPORT_TORCH + "t = torch.zeros(3, device='cuda')", "not-allowed", "cpu"
    ),
    Hostile(
        "device_meta", IMPORT_TORCH + "t = torch.zeros(3, device='meta')", "not-allowed", "cpu"
    ),
    Hostile("to_meta", LEAF + "t = x.to('meta')", "not-allowed", "cpu"),
    Hostile(
        "module_device",
        IMPORT_TORCH + "m = torch.nn.Linear(2, 2, device='meta')",
        "not-allowed",
        "cpu",
    ),
    Hostile(
        "out_argument", LEAF + "y = torch.zeros(3)\ntorch.add(x, x, out=y)", "not-allowed", "'out='"
    ),
    Hostile(
        "generator_argument",
        IMPORT_TORCH + "t = torch.rand(3, generator=5)",
        "not-allowed",
        "'generator='",
    ),
    Hostile(
        "pin_memory",
        IMPORT_TORCH + "t = torch.tensor([1.0], pin_memory=True)",
        "not-allowed",
        "pin_memory",
    ),
    Hostile(
        "quantized_dtype",
        IMPORT_TORCH + "t = torch.zeros(3, dtype=torch.quint8)",
        "not-allowed",
        "torch.quint8",
    ),
    Hostile(
        "seed_generator",
        IMPORT_TORCH + "g = torch.manual_seed(0)\ns = g.get_state()",
        "not-allowed",
        "'get_state'",
    ),
    Hostile(
        "node_hook",
        LEAF + "y = x * 2\ny.grad_fn.register_hook(print)",
        "not-allowed",
        "register_hook",
    ),
    Hostile(
        "node_metadata", LEAF + "y = x * 2\nm = y.grad_fn.metadata", "not-allowed", "'metadata'"
    ),
    Hostile(
        "node_saved", LEAF + "y = x * x\ns = y.grad_fn._saved_self", "not-allowed", "_saved_self"
    ),
    Hostile("module_apply", MODEL + "m.apply(m)", "program-error", "apply takes a function"),
    Hostile("apply_", LEAF + "x.apply_(abs)", "not-allowed", "'apply_'"),
    Hostile("map_", LEAF + "x.map_(x, print)", "not-allowed", "'map_'"),
    Hostile(
        "module_backward_hook_old",
        MODEL + "m.register_backward_hook(print)",
        "not-allowed",
        "register_backward_hook",
    ),
    Hostile("set_forward", MODEL + "m.forward = print", "not-allowed", "cannot set attribute"),
    Hostile(
        "sequential_of_builtin",
        IMPORT_TORCH + "s = torch.nn.Sequential(print)",
        "not-allowed",
        "Builtin",
    ),
    Hostile("backward_with_callable", LEAF + "x.sum().backward(print)", "not-allowed", "Builtin"),
    Hostile(
        "state_dict_methods",
        MODEL + "d = m.state_dict()\nd.move_to_end('weight')",
        "not-allowed",
        "'move_to_end'",
    ),
    Hostile(
        "optimizer_state",
        LEAF + "o = torch.optim.SGD([x], lr=0.1)\ns = o.state",
        "not-allowed",
        "'state'",
    ),
    Hostile(
        "return_type_internals",
        LEAF + "r = torch.max(x, 0)\nn = r.n_fields",
        "not-allowed",
        "n_fields",
    ),
    # Memory it was not given ---------------------------------------------------------------
    Hostile("empty", IMPORT_TORCH + "t = torch.empty(1000)", "not-allowed", "uninitialised"),
    Hostile("empty_like", LEAF + "t = torch.empty_like(x)", "not-allowed", "uninitialised"),
    Hostile("new_empty", LEAF + "t = x.new_empty(1000)", "not-allowed", "'new_empty'"),
    Hostile(
        "as_strided", LEAF + "t = torch.as_strided(x, (1000,), (1,))", "not-allowed", "outside"
    ),
    Hostile(
        "as_strided_method", LEAF + "t = x.as_strided((1000,), (1,))", "not-allowed", "'as_strided'"
    ),
    Hostile("data_ptr", LEAF + "p = x.data_ptr()", "not-allowed", "'data_ptr'"),
    Hostile("storage", LEAF + "s = x.untyped_storage()", "not-allowed", "'untyped_storage'"),
    Hostile("resize_", LEAF + "x.detach().resize_(1000)", "not-allowed", "'resize_'"),
    Hostile("set_", LEAF + "x.detach().set_()", "not-allowed", "'set_'"),
    Hostile("numpy", LEAF + "a = x.numpy()", "not-allowed", "'numpy'"),
    # Changing what a tensor is (kernels trust shapes, strides and sizes) -------------------
    Hostile(
        "fused_optimizer",
        LEAF + "o = torch.optim.Adam([x], lr=0.1, fused=True)",
        "not-allowed",
        "'fused=True'",
    ),
    Hostile(
        "foreach_optimizer",
        LEAF + "o = torch.optim.SGD([x], lr=0.1, foreach=True)",
        "not-allowed",
        "'foreach=True'",
    ),
    Hostile(
        "fused_through_param_groups",
        LEAF + "o = torch.optim.AdamW([x])\no.param_groups[0]['fused'] = True\n"
        "x.sum().backward()\no.step()",
        "not-allowed",
        "param_groups[0]['fused']",
    ),
    Hostile(
        "foreach_through_defaults",
        LEAF + "o = torch.optim.SGD([x], lr=0.1)\no.defaults['foreach'] = True\n"
        "x.sum().backward()\no.zero_grad(set_to_none=False)",
        "not-allowed",
        "defaults['foreach']",
    ),
    Hostile(
        "shrunken_grad_data",
        LEAF + "o = torch.optim.SGD([x], lr=0.1)\nx.sum().backward()\n"
        "x.grad.data = torch.ones(1)\no.step()",
        "not-allowed",
        "shape (1,) instead of (3,)",
    ),
    Hostile(
        "shrunken_grad_for_momentum",
        LEAF + "o = torch.optim.SGD([x], lr=0.1, momentum=0.9)\nx.grad = torch.ones(1)\no.step()",
        "not-allowed",
        "shape (1,) instead of (3,)",
    ),
    Hostile(
        "lstm_weight_data_shrunk",
        IMPORT_TORCH + "r = torch.nn.LSTM(4, 8)\nr.weight_ih_l0.data = torch.zeros(2, 2)\n"
        "y = r(torch.ones(1, 1, 4))",
        "not-allowed",
        "shape (2, 2) instead of (32, 4)",
    ),
    Hostile(
        "parameter_data_new_dtype",
        MODEL + "m.weight.data = m.weight.double()",
        "not-allowed",
        "dtype torch.float64",
    ),
    Hostile(
        "expanded_leaf",
        IMPORT_TORCH + "p = torch.zeros(1).expand(10**6).requires_grad_()\n"
        "o = torch.optim.SGD([p], lr=1.0)",
        "not-allowed",
        "own memory",
    ),
    Hostile(
        "expanded_requires_grad_attribute",
        IMPORT_TORCH + "p = torch.zeros(1).expand(1000)\np.requires_grad = True",
        "not-allowed",
        "own memory",
    ),
    Hostile(
        "expanded_parameter",
        IMPORT_TORCH + "p = torch.nn.Parameter(torch.zeros(1).expand(1000))",
        "not-allowed",
        "own memory",
    ),
    Hostile(
        "expanded_parameter_by_keyword",
        IMPORT_TORCH + "p = torch.nn.Parameter(data=torch.zeros(1).expand(1000))",
        "not-allowed",
        "own memory",
    ),
    Hostile(
        "overlapping_unfold_leaf",
        IMPORT_TORCH + "p = torch.arange(6.0).unfold(0, 3, 1).requires_grad_()",
        "not-allowed",
        "own memory",
    ),
    Hostile(
        "expanded_non_leaf_in_optimizer",
        LEAF + "e = x[:1].expand(1000)\ne.retain_grad()\no = torch.optim.Adagrad([e])",
        "not-allowed",
        "own memory",
    ),
    Hostile(
        "expanded_param_in_a_group_dict",
        IMPORT_TORCH + "p = torch.zeros(1).expand(10**5)\n"
        "o = torch.optim.Adagrad([{'params': [p]}], lr=0.1)",
        "not-allowed",
        "own memory",
    ),
    Hostile(
        "expanded_param_appended_to_group",
        LEAF + "o = torch.optim.SGD([x], lr=0.1)\nq = torch.zeros(1).expand(1000)\n"
        "o.param_groups[0]['params'].append(q)\nq.grad = torch.ones(1000)\no.step()",
        "not-allowed",
        "own memory",
    ),
    Hostile(
        "transpose_grad_in_place", LEAF + "x.sum().backward()\nx.grad.t_()", "not-allowed", "'t_'"
    ),
    Hostile("unsqueeze_in_place", LEAF + "x.unsqueeze_(0)", "not-allowed", "'unsqueeze_'"),
    Hostile("swapaxes_in_place", LEAF + "x.swapaxes_(0, 0)", "not-allowed", "'swapaxes_'"),
    Hostile(
        "module_converted_between_forward_and_backward",
        IMPORT_TORCH + "r = torch.nn.LSTM(3, 4)\ny, h = r(torch.randn(2, 1, 3))\nr.double()\n"
        "y.sum().backward()",
        "program-error",
        "changed in place",
    ),
    Hostile(
        "index_changed_in_inference_mode_before_backward",
        IMPORT_TORCH + "x = torch.randn(3, 4, requires_grad=True)\ni = torch.tensor([0, 2])\n"
        "y = x.index_select(0, i)\nwith torch.inference_mode():\n    i[0] = 10**6\n"
        "y.sum().backward()",
        "program-error",
        "changed in place",
    ),
    Hostile(
        "index_changed_through_data_before_backward",
        IMPORT_TORCH + "e = torch.nn.Embedding(3, 2, scale_grad_by_freq=True)\n"
        "i = torch.tensor([0, 1])\ny = e(i)\ni.data[0] = 10**7\ny.sum().backward()",
        "program-error",
        "changed in place",
    ),
    Hostile(
        "index_replaced_through_data_before_backward",
        IMPORT_TORCH + "w = torch.ones(3, 2, requires_grad=True)\ni = torch.tensor([0, 1])\n"
        "y = w.index_select(0, i)\ni.data = torch.tensor([10**7, 0])\ny.sum().backward()",
        "program-error",
        "changed in place",
    ),
    Hostile(
        "saved_input_changed_through_data",
        IMPORT_TORCH + "x = torch.randn(3, 4, requires_grad=True)\ny = torch.randn(5, 4)\n"
        "d = torch.cdist(x, y)\ny.data.zero_()\nd.sum().backward()",
        "program-error",
        "changed in place",
    ),
    # Nesting: hashing a tuple and building a tensor recurse in C without a depth check -----
    Hostile(
        "deep_tuple_as_dict_key",
        "t = ()\nfor i in range(90000):\n    t = (t,)\nd = {t: 1}",
        "limit",
        "nests more than",
    ),
    Hostile(
        "deep_tuple_in_set",
        "t = ()\nfor i in range(200):\n    t = (t, i)\ns = {t}",
        "limit",
        "nests",
    ),
    Hostile(
        "deep_tuple_in_dict",
        "t = ()\nfor i in range(200):\n    t = (t,)\nb = t in {1: 2}",
        "limit",
        "nests",
    ),
    Hostile(
        "deep_tuple_dict_get",
        "t = ()\nfor i in range(200):\n    t = (t,)\nb = {}.get(t)",
        "limit",
        "nests",
    ),
    Hostile(
        "deep_tuple_pairs_to_dict",
        "t = ()\nfor i in range(200):\n    t = (t,)\nd = dict([(t, 1)])",
        "limit",
        "nests",
    ),
    Hostile(
        "deep_list_to_torch",
        IMPORT_TORCH + "t = [1.0]\nfor i in range(5000):\n    t = [t]\nx = torch.tensor(t)",
        "limit",
        "nests more than",
    ),
    Hostile(
        "deep_tuples_compared",
        "t = ()\nu = ()\nfor i in range(5000):\n    t = (t,)\n    u = (u,)\nb = t == u",
        "limit",
        "deeply",
    ),
    # Sizes given as tensors: the dry run reads the numbers they hold -----------------------
    Hostile(
        "arange_of_tensor",
        IMPORT_TORCH + "t = torch.arange(torch.tensor(2.5e8))",
        "limit",
        "elements",
    ),
    Hostile(
        "arange_to_tensor",
        IMPORT_TORCH + "t = torch.arange(0, torch.tensor(10**9), 1)",
        "limit",
        "elements",
    ),
    Hostile(
        "zeros_of_tensor",
        IMPORT_TORCH + "t = torch.zeros(torch.tensor(10**8))",
        "limit",
        "elements",
    ),
    Hostile(
        "zeros_of_one_element_tensor",
        IMPORT_TORCH + "t = torch.zeros(torch.tensor([10**8]))",
        "limit",
        "elements",
    ),
    Hostile(
        "full_of_tensor",
        IMPORT_TORCH + "t = torch.full((torch.tensor(10**8),), 1.0)",
        "limit",
        "elements",
    ),
    Hostile(
        "linspace_of_tensor",
        IMPORT_TORCH + "t = torch.linspace(0, 1, torch.tensor(10**8))",
        "limit",
        "elements",
    ),
    Hostile(
        "randperm_of_tensor",
        IMPORT_TORCH + "t = torch.randperm(torch.tensor(10**8))",
        "limit",
        "elements",
    ),
    Hostile(
        "randint_of_tensor",
        IMPORT_TORCH + "t = torch.randint(0, 9, (torch.tensor(10**8),))",
        "limit",
        "elements",
    ),
    Hostile(
        "new_zeros_of_tensor",
        IMPORT_TORCH + "t = torch.ones(1).new_zeros(torch.tensor(10**8))",
        "limit",
        "elements",
    ),
    Hostile(
        "repeat_by_tensor_counts",
        IMPORT_TORCH + "t = torch.ones(4).repeat(torch.tensor(10**8))",
        "limit",
        "elements",
    ),
    Hostile(
        "histc_bins_tensor",
        IMPORT_TORCH + "t = torch.histc(torch.ones(4), bins=torch.tensor(10**8))",
        "limit",
        "elements",
    ),
    Hostile(
        "module_sized_by_tensor_after_a_small_one",
        IMPORT_TORCH + "a = torch.nn.Linear(torch.tensor(2), 2)\n"
        "b = torch.nn.Linear(torch.tensor(10**5), torch.tensor(10**5))",
        "limit",
        "elements",
    ),
    # Denial of service ---------------------------------------------------------------------
    Hostile("power_tower", "x = 9**9**9", "limit", "integer"),
    Hostile("power_tower_10", "x = 10**10**10", "limit", "integer"),
    Hostile("shift", "x = 1 << 10**9", "limit", "integer"),
    Hostile("string_repetition", "s = 'a' * 10**10", "limit", "items"),
    Hostile("list_repetition", "s = [0] * 10**10", "limit", "items"),
    Hostile(
        "repeat_by_tensor", IMPORT_TORCH + "s = 'a' * torch.tensor(10**9)", "not-allowed", "int"
    ),
    Hostile("sum_range", "s = sum(range(10**12))", "limit", "items"),
    Hostile("loop_range", "for i in range(10**9):\n    pass", "limit", "items"),
    Hostile("quadratic_sum", "s = sum([[1]] * 100000, [])", "limit", "in all"),
    Hostile("many_lists", "a = [[i] * 100000 for i in range(1000)]", "limit", "in all"),
    Hostile("join", "s = [''.join(['a' * 50000] * 2) for i in range(200)]", "limit", "in all"),
    Hostile("assert_message", "assert False, 'a' * 10**9", "limit", "items"),
    Hostile("factorial", "import math\nx = math.factorial(10**6)", "limit", "integer"),
    Hostile("comb", "import math\nx = math.comb(10**6, 5 * 10**5)", "limit", "integer"),
    Hostile("endless_loop", "while True:\n    pass", "limit", "steps"),
    Hostile("endless_recursion", "def f():\n    return f()\nf()", "limit", "deeper"),
    Hostile("mutual_reference", "a = []\nb = [a]\na.append(b)\nc = a == b", "limit", "deeply"),
    Hostile("deep_ast", "x = " + "-" * 1000 + "1", "limit", "nests deeper"),
    Hostile("deep_parentheses", "x = " + "(" * 5000 + ")" * 5000, "syntax-error", "parenthes"),
    Hostile("many_nodes", "b = 1\nx = [" + "~~b, " * 3500 + "]", "limit", "syntax nodes"),
    Hostile("long_source", "#" * 30000, "limit", "characters"),
    Hostile("null_byte", "x = 1\x00", "syntax-error", "null"),
    Hostile("int_literal", "x = " + "9" * 4000, "limit", "bits"),
    Hostile("int_from_text", "x = int('9' * 4000)", "limit", "integer"),
    Hostile("tensor_of_range", IMPORT_TORCH + "t = torch.tensor(range(10**12))", "limit", "range"),
    Hostile("fsum_of_range", "import math\nx = math.fsum(range(10**12))", "limit", "range"),
    Hostile("prod_of_range", "import math\nx = math.prod(range(1, 10**30))", "limit", "range"),
    Hostile("list_of_huge_range", "x = list(range(10**30))", "limit", "items"),
    Hostile(
        "unbind_millions", IMPORT_TORCH + "a = torch.ones(4 * 10**6).unbind()", "limit", "items"
    ),
    Hostile(
        "split_into_ones",
        IMPORT_TORCH + "a = torch.split(torch.ones(4 * 10**6), 1)",
        "limit",
        "items",
    ),
    Hostile("chunk_many", IMPORT_TORCH + "a = torch.ones(10**6).chunk(10**6)", "limit", "items"),
    Hostile(
        "tolist_millions", IMPORT_TORCH + "a = torch.ones(4 * 10**6).tolist()", "limit", "items"
    ),
    Hostile("slice_assign_range", "a = [1]\na[:] = range(2 * 10**7)", "limit", "items"),
    Hostile("slice_assign_step_range", "a = [0] * 10\na[::3] = range(10**12)", "limit", "items"),
    Hostile(
        "slice_assign_tensor", IMPORT_TORCH + "a = [1]\na[:0] = torch.ones(10**6)", "limit", "items"
    ),
    Hostile(
        "slice_assign_grows_list",
        "a = [0] * 60000\na[:0] = [1] * 60000",
        "limit",
        "a list would have 120,000 items",
    ),
    Hostile(
        "string_method_in_a_loop",
        "s = 'a' * 100000\nfor i in range(200):\n    t = s.upper()",
        "limit",
        "in all",
    ),
    Hostile("huge_tensor", IMPORT_TORCH + "t = torch.ones(10**5, 10**5)", "limit", "elements"),
    Hostile(
        "expand", IMPORT_TORCH + "t = torch.ones(1).expand(10**6, 10**6).sum()", "limit", "elements"
    ),
    Hostile(
        "outer",
        IMPORT_TORCH + "t = torch.outer(torch.ones(10**4), torch.ones(10**4))",
        "limit",
        "elements",
    ),
    Hostile("repeat", IMPORT_TORCH + "t = torch.ones(3).repeat(10**4, 10**4)", "limit", "elements"),
    Hostile(
        "broadcast",
        IMPORT_TORCH + "t = torch.ones(10**4, 1) + torch.ones(1, 10**4)",
        "limit",
        "elements",
    ),
    Hostile(
        "matmul",
        IMPORT_TORCH + "t = torch.ones(10**4, 1) @ torch.ones(1, 10**4)",
        "limit",
        "elements",
    ),
    Hostile("arange", IMPORT_TORCH + "t = torch.arange(10**10)", "limit", "elements"),
    Hostile(
        "unfold", IMPORT_TORCH + "t = torch.ones(10**6).unfold(0, 10**5, 1)", "limit", "elements"
    ),
    Hostile(
        "bincount", IMPORT_TORCH + "t = torch.bincount(torch.tensor([10**8]))", "limit", "elements"
    ),
    Hostile(
        "one_hot",
        "import torch\nimport torch.nn.functional as F\nt = F.one_hot(torch.tensor([10**8]))",
        "limit",
        "elements",
    ),
    Hostile(
        "nested_lists", IMPORT_TORCH + "t = torch.tensor([[0] * 1000] * 10000)", "limit", "items"
    ),
    Hostile("huge_module", IMPORT_TORCH + "m = torch.nn.Linear(10**5, 10**5)", "limit", "elements"),
    Hostile(
        "total_elements",
        IMPORT_TORCH + "for i in range(20):\n    t = torch.ones(3_000_000)",
        "limit",
        "in all",
    ),
    # Unusual tensors capture must survive: PyTorch's own refusal, explained -----------------
    Hostile(
        "complex_root_backward",
        IMPORT_TORCH + "z = torch.tensor(1+2j, requires_grad=True)\n(z * z).backward()",
        "program-error",
        "real scalar outputs",
    ),
    Hostile(
        "backward_twice_through_a_freed_graph",
        LEAF + "y = (x * x).sum()\ny.backward()\ny.backward()",
        "program-error",
        "second time",
    ),
)

NN = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
IMAGE = NN + "x = torch.randn(2, 3, 8, 8)\n"

# Convolution, pooling and normalisation: sizes, work, odd settings and replaced tensors.
LAYERS: tuple[Hostile, ...] = (
    Hostile("conv_million_channels", NN + "m = nn.Conv2d(3, 10**6, 3)", "limit", "elements"),
    Hostile("conv_huge_kernel", NN + "m = nn.Conv2d(1, 1, 10**4)", "limit", "elements"),
    Hostile(
        "batchnorm_buffers_only",
        NN + "m = nn.BatchNorm2d(10**8, affine=False)",
        "limit",
        "elements",
    ),
    Hostile(
        "conv_padding_blows_output",
        IMAGE + "m = nn.Conv2d(3, 4, 1, padding=1200)\ny = m(x)",
        "limit",
        "elements",
    ),
    Hostile(
        "conv_padding_hidden_by_pool",
        IMAGE
        + "m = nn.Sequential(nn.Conv2d(3, 4, 1, padding=1200), nn.AdaptiveAvgPool2d(1))\n"
        + "y = m(x)",
        "limit",
        "elements",
    ),
    Hostile(
        "conv_work",
        NN + "x = torch.randn(1, 1, 1500, 1500)\nw = torch.randn(1, 1, 500, 500)\n"
        "y = F.conv2d(x, w)",
        "limit",
        "multiply-adds",
    ),
    Hostile(
        "conv_module_work",
        NN + "x = torch.randn(1, 1, 1500, 1500)\ny = nn.Conv2d(1, 1, 500)(x)",
        "limit",
        "multiply-adds",
    ),
    Hostile(
        "pool_work",
        NN + "x = torch.randn(1, 1, 1500, 1500)\ny = F.max_pool2d(x, 500, stride=1)",
        "limit",
        "comparisons",
    ),
    Hostile(
        "pool_module_work",
        NN + "x = torch.randn(1, 1, 1500, 1500)\ny = nn.AvgPool2d(500, stride=1)(x)",
        "limit",
        "comparisons",
    ),
    Hostile(
        "conv_transpose_stride",
        NN + "x = torch.randn(1, 4, 50, 50)\ny = nn.ConvTranspose2d(4, 4, 3, stride=1000)(x)",
        "limit",
        "elements",
    ),
    Hostile(
        "conv_transpose_fn_stride",
        NN + "x = torch.randn(1, 4, 50, 50)\nw = torch.randn(4, 4, 3, 3)\n"
        "y = F.conv_transpose2d(x, w, stride=1000)",
        "limit",
        "elements",
    ),
    Hostile(
        "conv_negative_stride",
        IMAGE + "y = F.conv2d(x, torch.randn(4, 3, 3, 3), stride=-1)",
        "program-error",
        "stride",
    ),
    Hostile(
        "conv_zero_stride_module",
        IMAGE + "y = nn.Conv2d(3, 4, 3, stride=0)(x)",
        "program-error",
        "stride",
    ),
    Hostile(
        "conv_negative_padding",
        IMAGE + "y = F.conv2d(x, torch.randn(4, 3, 3, 3), padding=-5)",
        "program-error",
        "padding",
    ),
    Hostile(
        "conv_huge_dilation",
        IMAGE + "y = F.conv2d(x, torch.randn(4, 3, 3, 3), dilation=10**9)",
        "program-error",
        "kernel size",
    ),
    Hostile(
        "conv_groups_mismatch",
        IMAGE + "m = nn.Conv2d(3, 4, 3, groups=2)",
        "program-error",
        "groups",
    ),
    Hostile(
        "conv_fn_groups_mismatch",
        IMAGE + "y = F.conv2d(x, torch.randn(4, 3, 3, 3), groups=2)",
        "program-error",
        "channels",
    ),
    Hostile(
        "conv_weight_expanded",
        IMAGE + "w = torch.randn(1, 1, 1, 1).expand(4, 3, 3, 3)\ny = F.conv2d(x, w)\n"
        "p = nn.Parameter(w)",
        "not-allowed",
        "view",
    ),
    Hostile(
        "conv_weight_data_reshaped",
        IMAGE + "m = nn.Conv2d(3, 4, 3)\nm.weight.data = torch.randn(1, 1, 1, 1)",
        "not-allowed",
        "shape",
    ),
    Hostile(
        "conv_bias_grad_wrong",
        IMAGE + "m = nn.Conv2d(3, 4, 3)\nm.bias.grad = torch.ones(1000)",
        "not-allowed",
        "shape",
    ),
    Hostile(
        "batch_norm_running_stats_wrong_size",
        IMAGE + "y = F.batch_norm(x, torch.zeros(1), torch.ones(1), training=True)",
        "program-error",
        "",
    ),
    Hostile(
        "batch_norm_running_stats_expanded",
        IMAGE + "r = torch.zeros(1).expand(3)\n"
        "y = F.batch_norm(x, r, torch.ones(3), training=True)",
        "not-allowed",
        "running_mean",
    ),
    Hostile(
        "group_norm_mismatch",
        IMAGE + "y = nn.GroupNorm(2, 3)(x)",
        "program-error",
        "divisible",
    ),
    Hostile(
        "adaptive_pool_huge_output",
        IMAGE + "y = nn.AdaptiveAvgPool2d(10**4)(x)",
        "limit",
        "elements",
    ),
    Hostile(
        "fn_adaptive_pool_huge_output",
        IMAGE + "y = F.adaptive_max_pool2d(x, (3000, 3000))",
        "limit",
        "elements",
    ),
    Hostile(
        "interpolate_huge", IMAGE + "y = F.interpolate(x, scale_factor=1000)", "limit", "elements"
    ),
    Hostile(
        "clip_grad_wrong_grad",
        IMAGE + "w = torch.ones(3, requires_grad=True)\nw.sum().backward()\n"
        "torch.nn.utils.clip_grad_norm_([w.expand(2, 3)], 1.0)",
        "not-allowed",
        "view",
    ),
    Hostile(
        "clip_grad_foreach",
        NN + "m = nn.Linear(2, 2)\ntorch.nn.utils.clip_grad_norm_(m.parameters(), 1.0, "
        "foreach=True)",
        "not-allowed",
        "foreach",
    ),
    Hostile(
        "init_generator",
        NN + "m = nn.Linear(2, 2)\nnn.init.normal_(m.weight, generator=m)",
        "not-allowed",
        "generator",
    ),
    Hostile(
        "init_orthogonal_expanded",
        NN + "w = torch.zeros(1).expand(64, 64)\nnn.init.orthogonal_(w)",
        "program-error",
        "",
    ),
    Hostile(
        "lambda_lr",
        NN + "o = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)\n"
        "s = torch.optim.lr_scheduler.LambdaLR(o, 1)",
        "program-error",
        "lr_lambda must be a function",
    ),
    Hostile(
        "scheduler_optimizer",
        NN + "o = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)\n"
        "s = torch.optim.lr_scheduler.StepLR(o, 1)\np = s.optimizer",
        "not-allowed",
        "optimizer",
    ),
)
CORPUS = CORPUS + LAYERS

# Attention and transformer blocks: hidden score matrices, sizes, mismatched settings.
ATTENTION: tuple[Hostile, ...] = (
    Hostile(
        "sdpa_hidden_scores",
        NN + "q = torch.randn(1, 1, 100000, 1)\ny = F.scaled_dot_product_attention(q, q, q)",
        "limit",
        "attention scores",
    ),
    Hostile(
        "mha_hidden_scores",
        NN + "m = nn.MultiheadAttention(2, 1)\nq = torch.randn(30000, 1, 2)\ny = m(q, q, q)",
        "limit",
        "attention scores",
    ),
    Hostile(
        "encoder_hidden_scores",
        NN + "m = nn.TransformerEncoderLayer(4, 2, 8, batch_first=True)\n"
        "y = m(torch.randn(1, 20000, 4))",
        "limit",
        "attention scores",
    ),
    Hostile("mha_huge_embed", NN + "m = nn.MultiheadAttention(10**5, 1)", "limit", "elements"),
    Hostile(
        "encoder_huge_feedforward",
        NN + "m = nn.TransformerEncoderLayer(16, 2, dim_feedforward=10**7)",
        "limit",
        "elements",
    ),
    Hostile(
        "encoder_many_copies",
        NN + "l = nn.TransformerEncoderLayer(64, 2, 256)\n"
        "m = nn.TransformerEncoder(l, num_layers=10**6)",
        "limit",
        "elements",
    ),
    Hostile(
        "mha_heads_mismatch", NN + "m = nn.MultiheadAttention(10, 3)", "program-error", "divisible"
    ),
    Hostile(
        "mha_kdim_mismatch",
        NN + "m = nn.MultiheadAttention(8, 2, kdim=3, vdim=5)\n"
        "y = m(torch.randn(4, 1, 8), torch.randn(6, 1, 4), torch.randn(6, 1, 5))",
        "program-error",
        "",
    ),
    Hostile(
        "mha_value_length_mismatch",
        NN + "m = nn.MultiheadAttention(8, 2)\n"
        "y = m(torch.randn(4, 1, 8), torch.randn(6, 1, 8), torch.randn(7, 1, 8))",
        "program-error",
        "",
    ),
    Hostile(
        "mha_weight_data_reshaped",
        NN + "m = nn.MultiheadAttention(8, 2)\nm.in_proj_weight.data = torch.ones(3, 8)",
        "not-allowed",
        "shape",
    ),
    Hostile(
        "sdpa_mask_wrong_shape",
        NN + "q = torch.randn(2, 4, 8)\n"
        "y = F.scaled_dot_product_attention(q, q, q, attn_mask=torch.ones(5, 7, dtype=torch.bool))",
        "program-error",
        "",
    ),
    Hostile(
        "sdpa_expanded_inputs",
        NN + "q = torch.randn(1, 1, 8).expand(1, 3000, 8)\n"
        "y = F.scaled_dot_product_attention(q, q, q)",
        "limit",
        "attention scores",
    ),
    Hostile(
        "encoder_activation_function",
        NN + "def act(t):\n    return t\nm = nn.TransformerEncoderLayer(8, 2, 16, activation=act)",
        "not-allowed",
        "function",
    ),
)
CORPUS = CORPUS + ATTENTION

# Linear algebra, sampling and generators.
LINALG = "import torch\nA = torch.randn(3, 3)\n"
RANDOM: tuple[Hostile, ...] = (
    Hostile(
        "linalg_work",
        IMPORT_TORCH + "U = torch.linalg.svd(torch.randn(1500, 1500))",
        "limit",
        "multiply-adds",
    ),
    Hostile(
        "inverse_batched_work",
        IMPORT_TORCH + "i = torch.inverse(torch.randn(1, 1500, 1).expand(1500, 1500, 1500))",
        "limit",
        "elements",
    ),
    Hostile("inv_not_square", LINALG + "i = torch.linalg.inv(A[:2])", "program-error", "square"),
    Hostile(
        "solve_mismatch", LINALG + "x = torch.linalg.solve(A, torch.ones(4))", "program-error", ""
    ),
    Hostile(
        "solve_expanded_singular",
        LINALG + "x = torch.linalg.solve(torch.ones(1, 1).expand(3, 3), torch.ones(3))",
        "program-error",
        "singular",
    ),
    Hostile(
        "cholesky_not_pd",
        LINALG + "L = torch.linalg.cholesky(-torch.eye(3))",
        "program-error",
        "positive-definite",
    ),
    Hostile(
        "matrix_power_huge",
        LINALG + "P = torch.linalg.matrix_power(A, 10**30)",
        "program-error",
        "",
    ),
    Hostile(
        "multinomial_giant",
        IMPORT_TORCH + "s = torch.multinomial(torch.ones(3), 10**9, replacement=True)",
        "limit",
        "elements",
    ),
    Hostile(
        "multinomial_more_than_categories",
        IMPORT_TORCH + "s = torch.multinomial(torch.ones(3), 5)",
        "program-error",
        "",
    ),
    Hostile(
        "multinomial_negative",
        IMPORT_TORCH + "s = torch.multinomial(torch.tensor([0.5, -1.0]), 1)",
        "program-error",
        "",
    ),
    Hostile(
        "multinomial_expanded_rows",
        IMPORT_TORCH + "p = torch.ones(1, 4).expand(10**6, 4)\n"
        "s = torch.multinomial(p[:, :2], 8, replacement=True)",
        "limit",
        "elements",
    ),
    Hostile(
        "generator_cuda", IMPORT_TORCH + "g = torch.Generator(device='cuda')", "not-allowed", "cpu"
    ),
    Hostile(
        "generator_get_state",
        IMPORT_TORCH + "g = torch.Generator()\ns = g.get_state()",
        "not-allowed",
        "get_state",
    ),
    Hostile(
        "generator_set_state",
        IMPORT_TORCH + "g = torch.Generator()\ng.set_state(torch.zeros(5000, dtype=torch.uint8))",
        "not-allowed",
        "set_state",
    ),
    Hostile(
        "default_generator", IMPORT_TORCH + "g = torch.default_generator", "not-allowed", "shared"
    ),
    Hostile(
        "manual_seed_state",
        IMPORT_TORCH + "s = torch.manual_seed(0).get_state()",
        "not-allowed",
        "get_state",
    ),
    Hostile("rng_state", IMPORT_TORCH + "s = torch.get_rng_state()", "not-allowed", "state"),
    Hostile(
        "generator_not_a_generator",
        IMPORT_TORCH + "t = torch.randn(3, generator=torch.ones(2))",
        "not-allowed",
        "torch.Generator()",
    ),
    Hostile(
        "generator_huge_seed",
        IMPORT_TORCH + "g = torch.Generator()\ng.manual_seed(2**200)",
        "program-error",
        "",
    ),
    Hostile(
        "generator_huge_sample",
        IMPORT_TORCH + "g = torch.Generator()\nt = torch.randn(10**10, generator=g)",
        "limit",
        "elements",
    ),
)
CORPUS = CORPUS + RANDOM

# Typed constructors, type names, packed sequences, NumPy.
RNN_UTILS = (
    "import torch\nfrom torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n"
    "x = torch.randn(3, 2, 4)\np = pack_padded_sequence(x, torch.tensor([3, 2]))\n"
    "m = torch.nn.LSTM(4, 5)\n"
)
SURFACE: tuple[Hostile, ...] = (
    Hostile(
        "tensor_sizes_uninitialised",
        IMPORT_TORCH + "t = torch.Tensor(3, 4)",
        "not-allowed",
        "uninitialised",
    ),
    Hostile(
        "float_tensor_size",
        IMPORT_TORCH + "t = torch.FloatTensor(10**12)",
        "not-allowed",
        "torch.zeros",
    ),
    Hostile(
        "long_tensor_torch_size",
        IMPORT_TORCH + "t = torch.LongTensor(torch.ones(2, 2).shape)",
        "not-allowed",
        "uninitialised",
    ),
    Hostile(
        "typed_tensor_nested_huge",
        IMPORT_TORCH + "t = torch.Tensor([[0.0] * 10000] * 10000)",
        "limit",
        "",
    ),
    Hostile(
        "type_cuda",
        IMPORT_TORCH + "t = torch.ones(2).type('torch.cuda.FloatTensor')",
        "not-allowed",
        "torch.cuda.FloatTensor",
    ),
    Hostile(
        "type_other_string",
        IMPORT_TORCH + "t = torch.ones(2).type('os.system')",
        "not-allowed",
        "dtype",
    ),
    Hostile("numpy_import", "import numpy as np", "not-allowed", ".tolist()"),
    Hostile("numpy_from_import", "from numpy import array", "not-allowed", "numpy"),
    Hostile("numpy_method", IMPORT_TORCH + "a = torch.ones(2).numpy()", "not-allowed", ".tolist()"),
    Hostile("from_numpy", IMPORT_TORCH + "t = torch.from_numpy([1])", "not-allowed", "NumPy"),
    Hostile(
        "pack_lengths_too_long",
        IMPORT_TORCH + "from torch.nn.utils.rnn import pack_padded_sequence\n"
        "p = pack_padded_sequence(torch.randn(3, 2, 4), torch.tensor([9, 2]))",
        "not-allowed",
        "lengths",
    ),
    Hostile(
        "pack_lengths_zero",
        IMPORT_TORCH + "from torch.nn.utils.rnn import pack_padded_sequence\n"
        "p = pack_padded_sequence(torch.randn(3, 2, 4), torch.tensor([3, 0]))",
        "not-allowed",
        "lengths",
    ),
    Hostile(
        "pack_unsorted",
        IMPORT_TORCH + "from torch.nn.utils.rnn import pack_padded_sequence\n"
        "p = pack_padded_sequence(torch.randn(3, 2, 4), torch.tensor([1, 3]))",
        "program-error",
        "sorted",
    ),
    Hostile(
        "packed_batch_sizes_written",
        RNN_UTILS + "p.batch_sizes[0] = 100\ny = m(p)",
        "not-allowed",
        "batch_sizes",
    ),
    Hostile(
        "packed_batch_sizes_written_by_index",
        RNN_UTILS + "p[1][0] = 100\ny = pad_packed_sequence(p)",
        "not-allowed",
        "batch_sizes",
    ),
    Hostile(
        "packed_batch_sizes_unpacked",
        RNN_UTILS + "d, b, s, u = p\nb.zero_()\ny = m(p)",
        "not-allowed",
        "batch_sizes",
    ),
    Hostile(
        "packed_data_written",
        RNN_UTILS + "p.data.data = torch.ones(1, 4)",
        "not-allowed",
        "shape",
    ),
    Hostile(
        "packed_constructed",
        IMPORT_TORCH + "p = torch.nn.utils.rnn.PackedSequence(torch.ones(2), torch.tensor([9]))",
        "not-allowed",
        "PackedSequence",
    ),
    Hostile(
        "pad_packed_total_length",
        RNN_UTILS + "y = pad_packed_sequence(p, total_length=10**9)",
        "limit",
        "elements",
    ),
    Hostile(
        "pack_lengths_wrong_count",
        RNN_UTILS + "q = pack_padded_sequence(x, [3, 2, 1, 1])",
        "not-allowed",
        "lengths",
    ),
    Hostile(
        "pad_sequence_huge",
        IMPORT_TORCH + "from torch.nn.utils.rnn import pad_sequence\n"
        "p = pad_sequence([torch.ones(1, 2000).expand(2000, 2000)] * 2)",
        "limit",
        "elements",
    ),
)
CORPUS = CORPUS + SURFACE

# A layer that cannot run on meta tensors after one that blows up: still sized.
LAYERS_AFTER: tuple[Hostile, ...] = (
    Hostile(
        "conv_padding_before_unmeasurable_norm",
        IMAGE + "m = nn.Sequential(nn.Conv2d(3, 4, 1, padding=1500), "
        "nn.BatchNorm2d(4, momentum=None))\ny = m(x)",
        "limit",
        "elements",
    ),
)
CORPUS = CORPUS + LAYERS_AFTER

# Classes of the program: operator dunders, properties, exception classes, and the functions
# torch calls back (LambdaLR, Module.apply). Each is bounded by the program's budgets and
# none can swallow a limit.
OPTIMIZER = NN + "o = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)\n"
CLASSES: tuple[Hostile, ...] = (
    Hostile(
        "dunder_huge_int",
        "class V:\n    def __add__(self, o):\n        return 10 ** 10 ** 8\nv = V() + 1",
        "limit",
        "integer",
    ),
    Hostile(
        "dunder_huge_len",
        "class V:\n    def __len__(self):\n        return 10 ** 30\nn = len(V())",
        "program-error",
        "index-sized",
    ),
    Hostile(
        "dunder_huge_repr",
        "class V:\n    def __repr__(self):\n        return 'x' * 10 ** 9\nprint(V())",
        "limit",
        "1,000,000,000",
    ),
    Hostile(
        "dunder_repr_recursion",
        "class V:\n    def __repr__(self):\n        return repr(self)\nprint([V()])",
        "limit",
        "recursion",
    ),
    Hostile(
        "dunder_eq_recursion",
        "class V:\n    def __eq__(self, o):\n        return self == o\n"
        "    def __hash__(self):\n        return 1\nb = V() == 1",
        "limit",
        "recursion",
    ),
    Hostile(
        "dunder_hash_recursion",
        "class V:\n    def __hash__(self):\n        return hash(self)\ns = {V()}",
        "limit",
        "recursion",
    ),
    Hostile(
        "dunder_hash_not_int",
        "class V:\n    def __hash__(self):\n        return 'a'\ns = set([V()])",
        "program-error",
        "should return an integer",
    ),
    Hostile(
        "dunder_eq_without_hash",
        "class V:\n    def __eq__(self, o):\n        return True\nd = {V(): 1}",
        "program-error",
        "unhashable type: 'V'",
    ),
    Hostile(
        "dunder_lt_limit_not_caught",
        "class V:\n    def __lt__(self, o):\n        return self < o\ntry:\n"
        "    s = sorted([V(), V()])\nexcept Exception:\n    print('swallowed')",
        "limit",
        "recursion",
    ),
    Hostile(
        "dunder_iter_forever",
        "class F:\n    def __iter__(self):\n        return self\n"
        "    def __next__(self):\n        return 1\nx = list(F())",
        "limit",
        "the program ran",
    ),
    Hostile(
        "dunder_getitem_forever",
        "class F:\n    def __getitem__(self, i):\n        return i\nfor x in F():\n    pass",
        "limit",
        "the program ran",
    ),
    Hostile(
        "dunder_call_recursion",
        "class V:\n    def __call__(self):\n        return self()\nV()()",
        "limit",
        "recursion",
    ),
    Hostile(
        "dunder_repeat_bomb",
        "class V:\n    def __mul__(self, o):\n        return 'a' * o\nx = V() * 10 ** 10",
        "limit",
        "10,000,000,000",
    ),
    Hostile(
        "dunder_object_to_torch",
        IMPORT_TORCH + "class V:\n    def __float__(self):\n        return 1.0\n"
        "t = torch.tensor([V()])",
        "not-allowed",
        "cannot be passed",
    ),
    Hostile(
        "dunder_tensor_without_reflection",
        IMPORT_TORCH + "class V:\n    pass\nt = torch.ones(2) + V()",
        "program-error",
        "unsupported operand type(s) for +: 'Tensor' and 'V'",
    ),
    Hostile(
        "dunder_del_through_alias",
        "class V:\n    def close(self):\n        pass\n    __del__ = close",
        "not-allowed",
        "'__del__'",
    ),
    Hostile(
        "property_recursion",
        "class V:\n    @property\n    def x(self):\n        return self.x\nv = V().x",
        "limit",
        "recursion",
    ),
    Hostile(
        "property_setter_recursion",
        "class V:\n    @property\n    def x(self):\n        return 1\n    @x.setter\n"
        "    def x(self, value):\n        self.x = value\nv = V()\nv.x = 2",
        "limit",
        "recursion",
    ),
    Hostile(
        "property_without_setter",
        "class V:\n    @property\n    def x(self):\n        return 1\nv = V()\nv.x = 2",
        "program-error",
        "has no setter",
    ),
    Hostile(
        "setter_of_a_method",
        "class V:\n    def x(self):\n        return 1\n    @x.setter\n    def x(self, v):\n"
        "        pass",
        "not-allowed",
        "@property",
    ),
    Hostile(
        "exception_carrying_a_huge_tensor",
        IMPORT_TORCH + "class E(Exception):\n    pass\nraise E(torch.zeros(10 ** 10))",
        "limit",
        "10,000,000,000",
    ),
    Hostile(
        "exception_str_recursion",
        "class E(Exception):\n    def __str__(self):\n        return str(self)\nraise E()",
        "limit",
        "recursion",
    ),
    Hostile(
        "exception_str_fails",
        "class E(Exception):\n    def __str__(self):\n        return 1 / 0\nraise E()",
        "program-error",
        "str() failed",
    ),
    Hostile(
        "exception_handler_not_a_class",
        "class E(Exception):\n    pass\ntry:\n    raise E()\nexcept 3:\n    pass",
        "program-error",
        "BaseException",
    ),
    Hostile(
        "exception_from_a_plain_class",
        "class E:\n    pass\nraise E()",
        "program-error",
        "derive from BaseException",
    ),
    Hostile(
        "lambda_lr_allocates",
        OPTIMIZER
        + "s = torch.optim.lr_scheduler.LambdaLR(o, lambda e: torch.zeros(10 ** 10).sum().item())",
        "limit",
        "10,000,000,000",
    ),
    Hostile(
        "lambda_lr_returns_tensor",
        OPTIMIZER + "s = torch.optim.lr_scheduler.LambdaLR(o, lambda e: torch.ones(1))",
        "program-error",
        "must return a number",
    ),
    Hostile(
        "lambda_lr_runs_backward",
        NN + "x = torch.ones(2, requires_grad=True)\no = torch.optim.SGD([x], lr=0.1)\n"
        "s = torch.optim.lr_scheduler.LambdaLR(o, lambda e: x.sum().backward() or 1.0)",
        "not-allowed",
        "backward()",
    ),
    Hostile(
        "lambda_lr_loops",
        OPTIMIZER + "def f(e):\n    while True:\n        pass\n"
        "s = torch.optim.lr_scheduler.LambdaLR(o, f)",
        "limit",
        "the program ran",
    ),
    Hostile(
        "apply_runs_backward",
        NN + "m = nn.Linear(2, 2)\ndef f(mod):\n    mod.weight.sum().backward()\nm.apply(f)",
        "not-allowed",
        "backward()",
    ),
    Hostile(
        "apply_recursion",
        NN + "m = nn.Linear(2, 2)\ndef f(mod):\n    mod.apply(f)\nm.apply(f)",
        "limit",
        "recursion",
    ),
    Hostile(
        "program_module_in_transformer",
        NN + "class L(nn.Module):\n"
        "    def forward(self, x, src_mask=None, is_causal=False, src_key_padding_mask=None):\n"
        "        return x\ne = nn.TransformerEncoder(L(), 2, enable_nested_tensor=False)\n"
        "y = e(torch.ones(2, 1, 4))",
        "not-allowed",
        "copy a module of the program",
    ),
    Hostile(
        # Each deep copy of the layer would copy the interpreter and the 3M-element tensor
        # the program holds: 50 copies, past any budget.
        "program_module_deep_copied",
        NN + "class L(nn.Module):\n"
        "    def forward(self, x, src_mask=None, is_causal=False, src_key_padding_mask=None):\n"
        "        return x\nbig = torch.zeros(3_000_000)\n"
        "e = nn.TransformerEncoder(L(), 50, enable_nested_tensor=False)",
        "not-allowed",
        "copy a module of the program",
    ),
    Hostile(
        # Sized as torch reaches the convolution, before its kernel runs.
        "program_module_beside_a_huge_convolution",
        NN + "class Id(nn.Module):\n    def forward(self, x):\n        return x\n"
        "y = nn.Sequential(Id(), nn.Conv2d(1, 64, 3))(torch.ones(1, 1, 2000, 2000))",
        "limit",
        "multiply-adds",
    ),
    Hostile(
        "star_args_huge",
        "def f(*a):\n    return len(a)\nn = f(*range(10 ** 9))",
        "limit",
        "1,000,000,000",
    ),
    Hostile(
        "class_attribute_flood",
        "class C:\n    pass\nfor i in range(10 ** 6):\n    C.x = [C.x] if i else []",
        "limit",
        "1,000,000",
    ),
    Hostile("random_seed_from_the_clock", "import random\nrandom.seed()", "program-error", "seed"),
    Hostile(
        "random_huge_choices",
        "import random\nx = random.choices([1], k=10 ** 9)",
        "limit",
        "1,000,000,000",
    ),
    Hostile(
        "random_huge_sample",
        "import random\nx = random.sample(range(10 ** 12), 10 ** 9)",
        "limit",
        "1,000,000,000",
    ),
    Hostile(
        "random_state",
        "import random\nx = random.getstate()",
        "not-allowed",
        "random.getstate",
    ),
)
# vmap inside the program: torch would hand the program's hooks (and functions) batched
# tensors whose sizes are not their memory's, and make batch x inputs gradients unsized.
BATCHED = (
    Hostile(
        "grads_batched",
        LEAF + "y = (x * 2).sum()\ng = torch.ones(1).expand(400)\n"
        "r = torch.autograd.grad(y, x, grad_outputs=g, is_grads_batched=True)",
        "not-allowed",
        "is_grads_batched",
    ),
    Hostile(
        "grads_batched_by_position",
        LEAF + "y = (x * 2).sum()\n"
        "r = torch.autograd.grad(y, x, torch.ones(5), None, False, True, None, True)",
        "not-allowed",
        "is_grads_batched",
    ),
    Hostile(
        "grads_batched_into_a_hook",
        LEAF + "keep = []\nm = x * 2\nm.register_hook(lambda g: keep.append(g) or g)\n"
        "r = torch.autograd.grad(m.sum(), x, grad_outputs=torch.ones(5), "
        "is_grads_batched=True)",
        "not-allowed",
        "is_grads_batched",
    ),
    Hostile(
        "jacobian_vectorized_by_position",
        LEAF + "J = torch.autograd.functional.jacobian(lambda v: v * 2, x, False, False, True)",
        "not-allowed",
        "only create_graph= and strict=",
    ),
)
# A module's size remembered from another of the same parameters but other settings
# (extra_repr leaves num_heads out): each is sized by all its settings.
REMEMBERED = (
    Hostile(
        "module_size_remembered_across_num_heads",
        NN + "q = torch.ones(1800, 1, 256)\n"
        "a = nn.MultiheadAttention(256, 1)\nb = nn.MultiheadAttention(256, 64)\n"
        "with torch.no_grad():\n"
        "    y1 = a(q, q, q, average_attn_weights=False)\n"
        "    y2 = b(q, q, q, average_attn_weights=False)",
        "limit",
        "attention scores",
    ),
)
# Devices: the cpu is the only one; a module moves to nothing else, nor to another dtype
# than float32 and float64 (complex parameters would reach kernels written for reals).
DEVICES = (
    Hostile("device_cuda", IMPORT_TORCH + "d = torch.device('cuda')", "not-allowed", "cpu"),
    Hostile("device_cpu_one", IMPORT_TORCH + "d = torch.device('cpu', 1)", "not-allowed", "cpu"),
    Hostile("device_meta", IMPORT_TORCH + "x = torch.ones(2, device='meta')", "not-allowed", "cpu"),
    Hostile("module_to_cuda", MODEL + "m.to('cuda')", "not-allowed", ".to('cpu')"),
    Hostile("module_to_complex", MODEL + "m.to(torch.complex64)", "not-allowed", ".to('cpu')"),
    Hostile("module_to_half", MODEL + "m.to(torch.float16)", "not-allowed", ".to('cpu')"),
    Hostile("module_to_a_tensor", MODEL + "m.to(torch.ones(1))", "not-allowed", ".to('cpu')"),
    Hostile(
        "module_to_non_blocking", MODEL + "m.to('cpu', non_blocking=True)", "not-allowed", "cpu"
    ),
    Hostile("module_cpu_arguments", MODEL + "m.cpu(0)", "not-allowed", ".cpu()"),
    Hostile(
        "cuda_seed_is_all_there_is",
        IMPORT_TORCH + "torch.cuda.set_device(0)",
        "not-allowed",
        "torch.cuda.set_device",
    ),
    Hostile(
        "backends_cudnn",
        IMPORT_TORCH + "torch.backends.cudnn.benchmark = True",
        "not-allowed",
        "cudnn",
    ),
    # x.__class__ reads what type(x) gives; it is never written, nor a way to other dunders.
    Hostile("class_assigned", LEAF + "x.__class__ = int", "not-allowed", "'__class__'"),
    Hostile("class_bases", LEAF + "b = x.__class__.__bases__", "not-allowed", "'__bases__'"),
    Hostile("class_mro", MODEL + "b = m.__class__.__mro__", "not-allowed", "'__mro__'"),
    Hostile(
        "class_subclasses",
        LEAF + "b = x.__class__.__subclasses__()",
        "not-allowed",
        "'__subclasses__'",
    ),
    Hostile(
        "class_called",
        LEAF + "y = x.__class__([1.0])\nz = type(x).__init__",
        "not-allowed",
        "'__init__'",
    ),
    # hasattr reads as the sandbox reads: what it withholds is missing, dunders are refused.
    Hostile("hasattr_dict", LEAF + "print(hasattr(x, '__dict__'))", "not-allowed", "'__dict__'"),
    Hostile(
        "hasattr_globals",
        IMPORT_TORCH + "def f():\n    pass\nprint(hasattr(f, '__globals__'))",
        "not-allowed",
        "'__globals__'",
    ),
    Hostile("hasattr_name_not_a_string", LEAF + "print(hasattr(x, 3))", "program-error", "string"),
)
# torch.normal makes its tensor on the default device whatever the meta context says: its
# size is known before anything is drawn or allocated.
NORMAL = (
    Hostile("normal_huge", IMPORT_TORCH + "x = torch.normal(0, 1, (10**9,))", "limit", "normal"),
    Hostile(
        "normal_huge_size_keyword",
        IMPORT_TORCH + "x = torch.normal(0.0, 1.0, size=(10**5, 10**5))",
        "limit",
        "normal",
    ),
    Hostile(
        "normal_size_as_tensor",
        IMPORT_TORCH + "x = torch.normal(0.0, 1.0, (torch.tensor(10**9),))",
        "limit",
        "normal",
    ),
    Hostile(
        "normal_broadcast_huge",
        IMPORT_TORCH + "x = torch.normal(torch.zeros(5000, 1), torch.ones(1, 5000))",
        "limit",
        "normal",
    ),
    Hostile(
        "normal_out",
        IMPORT_TORCH + "y = torch.zeros(3)\nx = torch.normal(0.0, 1.0, (3,), out=y)",
        "not-allowed",
        "out=",
    ),
    Hostile(
        "clamp_min_out",
        LEAF + "y = torch.zeros(3)\nz = torch.clamp_min(x, 0, out=y)",
        "not-allowed",
        "out=",
    ),
    Hostile("typing_cast", "from typing import cast", "not-allowed", "cast"),
    Hostile(
        "typing_get_type_hints",
        "import typing\nh = typing.get_type_hints",
        "not-allowed",
        "get_type_hints",
    ),
    Hostile(
        "module_training_not_a_flag",
        NET.replace(
            "self.fc = nn.Linear(2, 2)", "self.fc = nn.Linear(2, 2)\n        self.training = 'yes'"
        ),
        "not-allowed",
        "True or False",
    ),
)
# repeat_interleave's size is its counts' sum: read before the call, never wrapped.
REPEATED = (
    Hostile(
        "repeat_interleave_huge",
        LEAF + "y = x.repeat_interleave(10**9)",
        "limit",
        "repeat_interleave",
    ),
    Hostile(
        "repeat_interleave_huge_counts",
        LEAF + "y = x.repeat_interleave(torch.tensor([2**40, 1, 1]))",
        "limit",
        "repeat_interleave",
    ),
    Hostile(
        "repeat_interleave_counts_that_wrap",
        IMPORT_TORCH + "y = torch.repeat_interleave(torch.tensor([2**62, 2**62]))",
        "limit",
        "repeat_interleave",
    ),
    Hostile(
        "repeat_interleave_output_size_huge",
        LEAF + "y = x.repeat_interleave(torch.tensor([1, 1, 1]), dim=0, output_size=10**9)",
        "limit",
        "repeat_interleave",
    ),
    Hostile(
        "repeat_interleave_output_size_small",
        LEAF + "y = x.repeat_interleave(torch.tensor([2, 2, 2]), dim=0, output_size=1)",
        "program-error",
        "size",
    ),
    Hostile(
        "repeat_interleave_negative",
        LEAF + "y = x.repeat_interleave(torch.tensor([-9, 1, 1]))",
        "program-error",
        "negative",
    ),
    Hostile(
        "repeat_interleave_counts_of_another_length",
        LEAF + "y = x.repeat_interleave(torch.tensor([1, 2]))",
        "program-error",
        "same size",
    ),
)
# torch.utils.data is sandbox Python of ours: it runs under the program's budgets, its
# helpers are not the program's to call, and what it draws and makes is sized as the
# program's own would be.
DATA = (
    Hostile(
        "data_seed_helper", "from torch.utils.data import _draw_seed", "not-allowed", "_draw_seed"
    ),
    Hostile(
        "data_iterator_class",
        "from torch.utils.data import _LoaderIterator",
        "not-allowed",
        "_LoaderIterator",
    ),
    Hostile(
        "data_namespace_dict",
        "import torch.utils.data as d\nx = d.__dict__",
        "not-allowed",
        "'__dict__'",
    ),
    Hostile(
        "data_sampler", "from torch.utils.data import RandomSampler", "not-allowed", "RandomSampler"
    ),
    Hostile(
        "data_real_module",
        IMPORT_TORCH + "from torch.utils.data import dataloader",
        "not-allowed",
        "dataloader",
    ),
    Hostile(
        "data_huge_length_shuffled",
        IMPORT_TORCH + "from torch.utils.data import Dataset, DataLoader\n"
        "class D(Dataset):\n    def __len__(self):\n        return 10**12\n"
        "    def __getitem__(self, i):\n        return i\n"
        "for b in DataLoader(D(), batch_size=2, shuffle=True):\n    pass",
        "limit",
        "randperm",
    ),
    Hostile(
        "data_huge_length",
        IMPORT_TORCH + "from torch.utils.data import Dataset, DataLoader\n"
        "class D(Dataset):\n    def __len__(self):\n        return 10**12\n"
        "    def __getitem__(self, i):\n        return i\n"
        "for b in DataLoader(D(), batch_size=2):\n    pass",
        "limit",
        "items",
    ),
    Hostile(
        "data_endless_collate",
        IMPORT_TORCH + "from torch.utils.data import TensorDataset, DataLoader\n"
        "def collate(batch):\n    while True:\n        pass\n"
        "for b in DataLoader(TensorDataset(torch.ones(4)), collate_fn=collate):\n    pass",
        "limit",
        "steps",
    ),
    Hostile(
        "data_foreign_generator",
        IMPORT_TORCH + "from torch.utils.data import TensorDataset, DataLoader\n"
        "for b in DataLoader(TensorDataset(torch.ones(4)), generator=torch.default_generator):\n"
        "    pass",
        "not-allowed",
        "default_generator",
    ),
    Hostile(
        "data_generator_not_one",
        IMPORT_TORCH + "from torch.utils.data import TensorDataset, DataLoader\n"
        "for b in DataLoader(TensorDataset(torch.ones(4)), generator=[1]):\n    pass",
        "not-allowed",
        "generator",
    ),
    Hostile(
        "data_mismatched_tensors",
        IMPORT_TORCH + "from torch.utils.data import TensorDataset\n"
        "d = TensorDataset(torch.ones(4), torch.ones(5))",
        "program-error",
        "Size mismatch",
    ),
)
# add_module registers what self.name = module would, under the same rules.
ADDED = (
    Hostile(
        "add_module_itself",
        NN + "class A(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.add_module('me', self)\nA()",
        "not-allowed",
        "contain itself",
    ),
    Hostile(
        "add_module_loop_through_another",
        NN + "class A(nn.Module):\n    def __init__(self, inner):\n        super().__init__()\n"
        "        self.add_module('inner', inner)\n"
        "outer = A(nn.ReLU())\nouter.add_module('loop', A(outer))",
        "not-allowed",
        "contain itself",
    ),
    Hostile(
        "add_module_internal_name",
        NET + "m.add_module('_parameters', nn.ReLU())",
        "not-allowed",
        "leading '_'",
    ),
    Hostile(
        "add_module_reserved_name",
        NET + "m.add_module('forward', nn.ReLU())",
        "not-allowed",
        "relies on",
    ),
    Hostile("add_module_dotted_name", NET + "m.add_module('a.b', nn.ReLU())", "not-allowed", "'.'"),
    Hostile(
        "add_module_of_torchs_container",
        NN + "s = nn.Sequential()\ns.add_module('x', nn.ReLU())",
        "not-allowed",
        "add_module",
    ),
)
# Calls whose tensors inside are larger than their result, or that meta tensors cannot size:
# refused from their arguments before they run (they allocated gigabytes, then were refused).
BROADCAST_INPUTS = "a = torch.ones(1, 1000000)\nb = torch.ones(50, 1)\n"
INSIDE = (
    Hostile(
        "masked_select_broadcast",
        IMPORT_TORCH + BROADCAST_INPUTS + "y = torch.masked_select(a, b > 0)",
        "limit",
        "broadcast together",
    ),
    Hostile(
        "masked_select_method_broadcast",
        IMPORT_TORCH + BROADCAST_INPUTS + "y = a.masked_select(b > 0)",
        "limit",
        "broadcast together",
    ),
    Hostile(
        "allclose_broadcast",
        IMPORT_TORCH + BROADCAST_INPUTS + "print(torch.allclose(a, b))",
        "limit",
        "broadcast together",
    ),
    Hostile(
        "allclose_method_broadcast",
        IMPORT_TORCH + BROADCAST_INPUTS + "print(a.allclose(b))",
        "limit",
        "broadcast together",
    ),
    Hostile(
        "dist_broadcast",
        IMPORT_TORCH + BROADCAST_INPUTS + "a.requires_grad_()\ny = torch.dist(a, b)",
        "limit",
        "broadcast together",
    ),
    Hostile(
        "dist_method_broadcast",
        IMPORT_TORCH + BROADCAST_INPUTS + "y = a.dist(b)",
        "limit",
        "broadcast together",
    ),
    Hostile(
        "mse_loss_broadcast",
        NN + BROADCAST_INPUTS + "y = F.mse_loss(a, b)",
        "limit",
        "broadcast together",
    ),
    Hostile(
        "mse_loss_module_broadcast",
        NN + BROADCAST_INPUTS + "y = nn.MSELoss()(a, b)",
        "limit",
        "broadcast together",
    ),
    Hostile(
        "kl_div_module_broadcast",
        NN + BROADCAST_INPUTS + "y = nn.KLDivLoss(reduction='sum')(a, b)",
        "limit",
        "broadcast together",
    ),
    Hostile(
        "cosine_similarity_broadcast",
        NN + BROADCAST_INPUTS + "y = F.cosine_similarity(a, b, dim=0)",
        "limit",
        "broadcast together",
    ),
    Hostile(
        "lstsq_wide_solution",
        IMPORT_TORCH + "A = torch.ones(1, 500000)\nB = torch.ones(1, 1000)\n"
        "r = torch.linalg.lstsq(A, B)",
        "limit",
        "a solution of",
    ),
)
# The smallest integer divided by -1: the processor's division traps (SIGFPE) in the kernels
# that divide integers themselves; each is refused before it runs.
TRAPS = (
    Hostile(
        "div_trunc_smallest_by_minus_one",
        IMPORT_TORCH + "b = torch.div(torch.tensor([-2**63]), -1, rounding_mode='trunc')",
        "not-allowed",
        "smallest integer",
    ),
    Hostile(
        "div_trunc_number_by_tensor",
        IMPORT_TORCH + "b = torch.div(-2**63, torch.tensor(-1), rounding_mode='trunc')",
        "not-allowed",
        "smallest integer",
    ),
    Hostile(
        "div_trunc_int32_in_place",
        IMPORT_TORCH + "a = torch.tensor([-2**31], dtype=torch.int32)\n"
        "a.div_(-1, rounding_mode='trunc')",
        "not-allowed",
        "smallest integer",
    ),
    Hostile(
        "divide_trunc_elementwise",
        IMPORT_TORCH + "b = torch.tensor([5, -2**63]).divide(torch.tensor([-1, 2]), "
        "rounding_mode='trunc')",
        "not-allowed",
        "smallest integer",
    ),
    Hostile(
        "avg_pool2d_divisor_minus_one",
        NN + "b = F.avg_pool2d(torch.tensor([[[[-2**63]]]]), 1, divisor_override=-1)",
        "not-allowed",
        "divisor_override must be",
    ),
    Hostile(
        "avg_pool2d_divisor_minus_one_positional",
        NN + "b = F.avg_pool2d(torch.tensor([[[[-2**63]]]]), 1, 1, 0, False, True, -1)",
        "not-allowed",
        "divisor_override must be",
    ),
    Hostile(
        "div_trunc_int64_beside_int32_wraps",
        IMPORT_TORCH + "b = torch.div(torch.tensor(2**31), torch.tensor([-1], dtype=torch.int32), "
        "rounding_mode='trunc')",
        "not-allowed",
        "smallest integer",
    ),
    Hostile(
        "div_trunc_divisor_wraps_to_minus_one",
        IMPORT_TORCH + "a = torch.tensor([-2**31], dtype=torch.int32)\n"
        "b = a.div(torch.tensor(2**32 - 1), rounding_mode='trunc')",
        "not-allowed",
        "smallest integer",
    ),
    Hostile(
        "avg_pool2d_divisor_as_a_tensor",
        NN + "b = F.avg_pool2d(torch.tensor([[[-2**63]]]), 1, divisor_override=torch.tensor(-1))",
        "not-allowed",
        "divisor_override must be",
    ),
    Hostile(
        "avg_pool2d_module_divisor_as_a_tensor",
        NN + "b = nn.AvgPool2d(1, divisor_override=torch.tensor(-1))(torch.tensor([[[-2**63]]]))",
        "not-allowed",
        "divisor_override must be",
    ),
    Hostile(
        "avg_pool2d_module_divisor_minus_one",
        NN + "b = nn.AvgPool2d(1, divisor_override=-1)(torch.tensor([[[[-2**63]]]]))",
        "not-allowed",
        "divisor_override must be",
    ),
)
# Dtypes no argument names: made by type promotion, never held by the program.
PROMOTED = (
    Hostile(
        "complex32_by_promotion",
        IMPORT_TORCH + "x = torch.ones(3, dtype=torch.half) * 1j",
        "not-allowed",
        "torch.complex32",
    ),
    Hostile(
        "complex32_by_function",
        IMPORT_TORCH + "x = torch.mul(torch.ones(3, dtype=torch.half), 1j)",
        "not-allowed",
        "torch.complex32",
    ),
)
# A pooling window larger than the whole input: the meta kernel refuses the sizes, but the
# CPU kernel's size arithmetic overflows into a loop over the window (minutes).
HUGE_WINDOWS = (
    Hostile(
        "max_pool1d_window_of_2_62",
        NN + "x = torch.randn(1, 2, 3)\ny = F.max_pool1d(x, 2**62)",
        "limit",
        "multiply-adds or comparisons",
    ),
    Hostile(
        "max_pool1d_module_window_of_2_40",
        NN + "x = torch.randn(1, 2, 3)\ny = nn.MaxPool1d(2**40)(x)",
        "limit",
        "multiply-adds or comparisons",
    ),
    Hostile(
        "max_pool_in_sequential_window_of_2_40",
        NN + "x = torch.randn(1, 2, 3)\ny = nn.Sequential(nn.ReLU(), nn.MaxPool1d(2**40))(x)",
        "limit",
        "multiply-adds or comparisons",
    ),
)
# Lists and tuples that hold one value twice at every level: 40 levels make 2**40 paths
# that C would walk comparing or hashing them, from a program of five lines.
SHARED_LEVELS = "a = [1]\nb = [1]\nfor i in range(40):\n    a = [a, a]\n    b = [b, b]\n"
SHARED_TUPLES = "a = (1,)\nfor i in range(40):\n    a = (a, a)\n"
WALKS = (
    Hostile("compare_shared_levels", SHARED_LEVELS + "print(a == b)", "limit", "comparing"),
    Hostile("order_shared_levels", SHARED_LEVELS + "print(a < b)", "limit", "comparing"),
    Hostile("max_shared_levels", SHARED_LEVELS + "print(max(a, b))", "limit", "comparing"),
    Hostile("in_list_shared_levels", SHARED_LEVELS + "print(a in [b])", "limit", "searching"),
    Hostile("index_shared_levels", SHARED_LEVELS + "print([b].index(a))", "limit", "searching"),
    Hostile("sort_shared_levels", SHARED_LEVELS + "c = sorted([a, b])", "limit", "sorting"),
    Hostile(
        "in_dict_values_shared_levels",
        SHARED_LEVELS + "d = {1: a}\nprint(b in d.values())",
        "limit",
        "searching",
    ),
    Hostile("dict_key_shared_tuples", SHARED_TUPLES + "d = {a: 1}", "limit", "hashing"),
    Hostile("set_item_shared_tuples", SHARED_TUPLES + "s = {a}", "limit", "hashing"),
    Hostile(
        "in_dict_items_shared_levels",
        SHARED_LEVELS + "print((1, b) in {1: a}.items())",
        "limit",
        "searching",
    ),
    Hostile(
        "text_of_shared_empty_lists",
        "a = []\nfor i in range(6):\n    a = [a] * 100\ns = f'{a}'",
        "limit",
        "a string would have",
    ),
    Hostile(
        "hash_of_shared_tuples_in_a_loop",
        "t = (1,)\nfor i in range(21):\n    t = (t, t)\nfor i in range(1000):\n    h = hash(t)",
        "limit",
        "in all",
    ),
    Hostile(
        "compare_lists_holding_themselves",
        "a = []\na.append(a)\nb = []\nb.append(b)\nprint(a == b)",
        "limit",
        "deeply",
    ),
)
CORPUS = (
    CORPUS
    + CLASSES
    + BATCHED
    + REMEMBERED
    + DEVICES
    + NORMAL
    + REPEATED
    + DATA
    + ADDED
    + INSIDE
    + TRAPS
    + PROMOTED
    + HUGE_WINDOWS
    + WALKS
)
