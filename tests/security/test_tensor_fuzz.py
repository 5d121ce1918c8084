"""Allowlisted torch functions and tensor methods on odd tensors never crash the process.

Native kernels trust tensor metadata. Programs here hand them random shapes (empty, 0-d),
dtypes, views (expand with stride 0, transposes, stepped slices, `.data`, unfold) as
arguments, leaves, gradients and parameters, the same tensor twice, a view with its base,
and in-place writes between forward and backward. They run in a separate process (see
fuzz_worker), so that a segfault or an abort shows as that process dying: the test fails
with the program that killed it. Refusals and errors are expected; only death fails.
"""

import json
import math
import select
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.worker.sandbox.allowlist import F_FUNCTIONS, TENSOR_METHODS, TORCH_FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
ANSWER_TIMEOUT_S = 30.0

FUZZ = settings(
    max_examples=1500,
    deadline=None,
    database=None,
    derandomize=True,  # the same programs on every run: CI is repeatable
    suppress_health_check=list(HealthCheck),
)

DTYPES = ["torch.float32", "torch.float64", "torch.int64", "torch.bool", "torch.int32"]
SHAPES = [(), (0,), (1,), (3,), (2, 3), (3, 1), (1, 4), (2, 2, 2), (0, 3), (4,), (3, 3)]
Shape = tuple[int, ...]
# Expressions making a view (or an odd tensor) of `{}`, with the shapes and dtypes they fit.
VIEWS: list[tuple[str, Callable[[Shape, str], bool]]] = [
    ("{}", lambda shape, dtype: True),
    ("{}.reshape(-1)[:1].expand(5)", lambda shape, dtype: math.prod(shape) > 0),
    ("{}.reshape(-1)[:1].expand(2, 3)", lambda shape, dtype: math.prod(shape) > 0),
    # Large enough that a kernel writing it as dense runs far past a small buffer.
    ("{}.reshape(-1)[:1].expand(65536)", lambda shape, dtype: math.prod(shape) > 0),
    ("{}.transpose(0, -1)", lambda shape, dtype: len(shape) >= 1),
    ("{}.t()", lambda shape, dtype: len(shape) <= 2),
    ("{}[::2]", lambda shape, dtype: len(shape) >= 1),
    ("{}[1:]", lambda shape, dtype: len(shape) >= 1),
    ("{}.flip(0)", lambda shape, dtype: len(shape) >= 1),
    ("{}.unsqueeze(0)", lambda shape, dtype: True),
    ("{}.unsqueeze(-1).expand(-1, 3)", lambda shape, dtype: len(shape) == 1),
    ("{}.diagonal()", lambda shape, dtype: len(shape) >= 2),
    ("{}.data", lambda shape, dtype: True),
    ("{}.detach()", lambda shape, dtype: True),
    ("{}.unfold(0, 1, 1)", lambda shape, dtype: len(shape) >= 1 and shape[0] >= 1),
    ("{}.narrow(0, 0, 1)", lambda shape, dtype: len(shape) >= 1 and shape[0] >= 1),
    ("{}.mT", lambda shape, dtype: len(shape) >= 2),
    ("{}.T", lambda shape, dtype: True),  # warns once per process off two dimensions
    ("{}.view(-1)", lambda shape, dtype: True),
    ("{}.float()", lambda shape, dtype: True),
    ("{}.long()", lambda shape, dtype: True),
    ("{}.clone().requires_grad_()", lambda shape, dtype: dtype.startswith("torch.float")),
    ("{}[:, 1:].expand(2, -1, -1)", lambda shape, dtype: len(shape) == 2),
]
NAMES = ["a", "b", "c", "d"]
NUMBERS = ["0", "1", "-1", "2", "3", "0.5", "-2.0", "True", "None", "(2, 3)", "[0, 1]", "(-1,)"]
FUNCTIONS = sorted(set(TORCH_FUNCTIONS) - {"manual_seed"})
METHODS = sorted(TENSOR_METHODS - {"backward", "tolist", "item"})


def maker(dtype: str, shape: Shape) -> str:
    if dtype in ("torch.float32", "torch.float64"):
        return f"torch.randn({shape}, dtype={dtype})"
    if dtype == "torch.bool":
        return f"torch.rand({shape}) > 0.5"
    return f"torch.randint(0, 3, {shape}, dtype={dtype})"


@st.composite
def tensors(draw: st.DrawFn, name: str) -> str:
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.sampled_from(SHAPES))
    fitting = [view for view, fits in VIEWS if fits(shape, dtype)]
    # One tensor in three is a stride-0 view: the shape kernels most often trust wrongly.
    stride0 = [view for view in fitting if "expand(" in view]
    view = draw(st.sampled_from(stride0 if stride0 and draw(st.integers(0, 2)) == 0 else fitting))
    grad = dtype.startswith("torch.float") and draw(st.booleans())
    base = f"{name}_base = {maker(dtype, shape)}"
    if grad:
        base += f"\n{name}_base.requires_grad_()"
    return f"{base}\n{name} = {view.format(name + '_base')}"


def arguments(draw: st.DrawFn, tensor_first: bool) -> str:
    names = NAMES + [f"{n}_base" for n in NAMES]
    pool = names + names + NUMBERS
    args = [draw(st.sampled_from(names))] if tensor_first else []
    args += [draw(st.sampled_from(pool)) for _ in range(draw(st.integers(0, 2)))]
    return ", ".join(args)


def like(draw: st.DrawFn, target: str) -> str:
    """A value for `target.grad =`/`.data =`: often the same shape, as views of all kinds."""
    return draw(
        st.sampled_from(
            [
                f"{target}.detach().clone()",
                f"torch.zeros_like({target})",
                f"torch.randn_like({target}.float())",
                f"torch.zeros(1, dtype={target}.dtype).expand_as({target})",
                f"{target}.detach()",
                f"torch.ones(1, dtype={target}.dtype)",
                *NAMES,
            ]
        )
    )


@st.composite
def statements(draw: st.DrawFn) -> str:
    target = draw(st.sampled_from(NAMES))
    other = draw(st.sampled_from(NAMES + [f"{n}_base" for n in NAMES]))
    # Kinds of statement, weighted towards what reaches native kernels with odd metadata.
    kind = draw(
        st.sampled_from(
            [0, 0, 0, 4, 4, 4, 7, 8, 8, 9, 10, 10, 10, 10, 11, 11, 12, 12, 13, 13, 14, 15, 15]
        )
    )
    if kind <= 3:
        function = draw(st.sampled_from(FUNCTIONS))
        return f"r = torch.{function}({arguments(draw, True)})"
    if kind <= 6:
        method = draw(st.sampled_from(METHODS))
        return f"r = {target}.{method}({arguments(draw, False)})"
    if kind == 7:
        function = draw(st.sampled_from(F_FUNCTIONS))
        return f"r = F.{function}({arguments(draw, True)})"
    if kind == 8:
        attribute = draw(st.sampled_from(["grad", "data"]))
        return f"{target}.{attribute} = {like(draw, target)}"
    if kind == 9:
        index = draw(st.sampled_from(["0", "-1", ":", "::2", "1:", "[0, 0]", other]))
        return f"{target}[{index}] = {other}"
    if kind == 10:
        optimizer = draw(st.sampled_from(["SGD", "Adam", "AdamW", "Adagrad", "RMSprop"]))
        extra = draw(
            st.sampled_from(
                ["", ", momentum=0.9", ", fused=True", ", fused=True", ", foreach=True"]
            )
        )
        # The parameter is often made here, from a stride-0 view: what fused kernels misread.
        param = draw(st.sampled_from([target, f"{target}.detach().reshape(-1)[:1].expand(65536)"]))
        return (
            f"{target} = {param}\n"
            f"o = torch.optim.{optimizer}([{target}], lr=0.1{extra})\n"
            f"{target}.grad = {like(draw, target)}\no.step()\no.step()"
        )
    if kind == 12:
        # The program's hook hands autograd a gradient of its own making (views, shapes).
        hook = draw(st.sampled_from([like(draw, target), "g.expand(2, -1)", "g[:1]", "g.t()"]))
        return f"h = {target}.register_hook(lambda g: {hook})\nr = ({target} * 2).sum()"
    if kind == 13:
        # A custom Function whose backward returns odd tensors into the kernels downstream.
        grad = draw(st.sampled_from([like(draw, "x"), "g", "g.expand_as(x)", "g.sum()", "None"]))
        return (
            "class Fn(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, x):\n"
            "        ctx.save_for_backward(x)\n"
            f"        return x.{draw(st.sampled_from(['clone()', 'exp()', 'sum()', 'view(-1)']))}\n"
            "    @staticmethod\n"
            "    def backward(ctx, g):\n"
            "        (x,) = ctx.saved_tensors\n"
            f"        return {grad}\n"
            f"r = Fn.apply({target})"
        )
    if kind == 14:
        # A module of the program around a torch module: torch calls back into its forward.
        inner = draw(st.sampled_from(["torch.nn.Linear(3, 2)", "torch.nn.LSTM(3, 2)"]))
        return (
            "class Wrap(torch.nn.Module):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            f"        self.inner = {inner}\n"
            "    def forward(self, v):\n"
            "        out = self.inner(v)\n"
            "        return out[0] if isinstance(out, tuple) else out\n"
            f"m = torch.nn.Sequential(Wrap())\nr = m({other})"
        )
    if kind == 15:
        # Convolution and pooling kernels on views as inputs, weights and running statistics.
        extra = draw(
            st.sampled_from(
                ["", ", stride=2", ", padding=1", ", dilation=2", ", stride=1, padding=2"]
            )
        )
        sdpa = "F.scaled_dot_product_attention"
        mha = "torch.nn.MultiheadAttention(2, 2, kdim=3, vdim=1)"
        function = draw(
            st.sampled_from(
                [
                    f"F.conv1d({target}[None, None], {other}[None, None]{extra})",
                    f"F.conv2d({target}[None, None], {other}[None, None]{extra})",
                    f"F.conv_transpose1d({target}[None, None], {other}[None, None]{extra})",
                    f"F.conv_transpose2d({target}[None, None], {other}[None, None]{extra})",
                    f"F.max_pool1d({target}[None], 2{extra})",
                    f"F.max_pool2d({target}[None], 1{extra})",
                    f"F.avg_pool2d({target}[None], 1{extra})",
                    f"F.adaptive_avg_pool2d({target}[None], 2)",
                    f"F.batch_norm({target}, {other}, {other}, training=True)",
                    f"F.group_norm({target}[None], 1, {other}, {other})",
                    f"F.interpolate({target}[None], scale_factor=2)",
                    f"{sdpa}({target}, {other}, {other})",
                    f"{sdpa}({target}, {target}, {other}, is_causal=True)",
                    f"{sdpa}({target}, {other}, {other}, attn_mask={target})",
                    f"torch.nn.MultiheadAttention(2, 1)({target}, {other}, {other})[0]",
                    f"{mha}({target}, {other}, {other})[0]",
                ]
            )
        )
        return f"r = {function}"
    module = draw(
        st.sampled_from(
            [
                "torch.nn.LSTM(3, 2)",
                "torch.nn.GRU(3, 2)",
                "torch.nn.Embedding(4, 3, max_norm=1.0)",
                "torch.nn.Embedding(4, 3, scale_grad_by_freq=True)",
                "torch.nn.BatchNorm1d(3)",
                "torch.nn.Linear(3, 2)",
                # Convolution, pooling and normalisation: (2, 2, 2) inputs fit them.
                "torch.nn.Conv1d(2, 3, 2)",
                "torch.nn.Conv2d(2, 2, 1, groups=2)",
                "torch.nn.Conv2d(2, 3, 2, padding=1, dilation=2)",
                "torch.nn.ConvTranspose1d(2, 2, 2, stride=2)",
                "torch.nn.ConvTranspose2d(2, 2, 1, stride=2, output_padding=1)",
                "torch.nn.MaxPool1d(2, return_indices=False)",
                "torch.nn.MaxPool2d(2, ceil_mode=True)",
                "torch.nn.AvgPool2d(2, padding=1)",
                "torch.nn.AdaptiveAvgPool2d(3)",
                "torch.nn.AdaptiveMaxPool1d(3)",
                "torch.nn.BatchNorm2d(2)",
                "torch.nn.GroupNorm(1, 2)",
                "torch.nn.Dropout2d(0.5)",
                "torch.nn.Sequential(torch.nn.Conv2d(2, 2, 1), torch.nn.BatchNorm2d(2))",
                "torch.nn.TransformerEncoderLayer(2, 1, 4, dropout=0.0)",
                "torch.nn.TransformerEncoderLayer(2, 2, 3, batch_first=True, norm_first=True)",
                "torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(3, 1, 2), 2)",
            ]
        )
    )
    change = draw(
        st.sampled_from(
            [
                "",
                "\nfor p in m.parameters():\n    p.data = p.data[:1]",
                f"\nfor p in m.parameters():\n    p.grad = {other}",
                f"\n{other}.data.zero_()",
                f"\n{other}.data = {target}",
                f"\ntorch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)\n{other}.data.zero_()",
                "\ntorch.nn.init.orthogonal_(m.weight)\nm.eval()",
            ]
        )
    )
    return f"m = {module}\nr = m({other}){change}\nr.sum().backward()"


@st.composite
def programs(draw: st.DrawFn) -> str:
    lines = ["import torch", "import torch.nn.functional as F"]
    lines += [draw(tensors(name)) for name in NAMES]
    lines += draw(st.lists(statements(), min_size=1, max_size=5))
    ending = draw(
        st.sampled_from(
            [
                "",
                f"{draw(st.sampled_from(NAMES))}.sum().backward()",
                "r.sum().backward()",
                "r.backward(torch.ones(1).expand_as(r))",
                "g = torch.autograd.grad(r.sum(), [a, b], allow_unused=True)",
            ]
        )
    )
    lines.append(ending)
    return "\n".join(lines) + "\n"


class Worker:
    """The fuzz worker process; started again after it dies."""

    def __init__(self) -> None:
        self.process = self._start()

    @staticmethod
    def _start() -> "subprocess.Popen[str]":
        return subprocess.Popen(
            [sys.executable, "-m", "tests.security.fuzz_worker"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def run(self, code: str) -> str:
        """The answer to `code`; fails the test if the process died or hung on it."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps({"code": code}) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], ANSWER_TIMEOUT_S)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            returncode = self.process.wait()
            self.process = self._start()
            pytest.fail(f"the worker died (exit {returncode}) or hung on:\n{code}")
        answer: str = json.loads(line)
        return answer

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    running = Worker()
    yield running
    running.close()


@FUZZ
@given(code=programs())
def test_odd_tensors_never_crash_the_process(worker: Worker, code: str) -> None:
    answer = worker.run(code)
    assert not answer.startswith(("exception", "warnings differ")), f"{answer}\n{code}"


def test_known_crashers_are_answered(worker: Worker) -> None:
    """The red team's programs, kept here so that they run in a process of their own."""
    for code in CRASHERS:
        assert worker.run(code) in {"not-allowed", "program-error", "limit"}, code


CRASHERS = [
    "import torch\np = torch.ones(100, requires_grad=True)\n"
    "o = torch.optim.SGD([p], lr=0.1, fused=True)\np.sum().backward()\n"
    "p.grad.data = torch.ones(1)\no.step()\n",
    "import torch\np = torch.zeros(1).expand(10**5).requires_grad_()\n"
    "o = torch.optim.Adam([p])\np.grad = torch.ones(10**5)\no.step()\n",
    "import torch\nr = torch.nn.LSTM(4, 8)\nr.weight_ih_l0.data = torch.ones(1)\n"
    "y = r(torch.ones(2, 1, 4))\ny[0].sum().backward()\n",
    "t = ()\nfor i in range(90000):\n    t = (t,)\nd = {t: 1}\n",
]


# Layers and their functions get inputs that fit them, so that most calls reach the kernel:
# odd views (stride 0, transposed, stepped), dtypes, and weights written between calls.
# Each case: the module (or None), the shapes of x and y, and the call.
PACK = "torch.nn.utils.rnn.pack_padded_sequence"
UNPACK = "torch.nn.utils.rnn.pad_packed_sequence"
LAYER_CASES: list[tuple[str, Shape, Shape, str]] = [
    ("torch.nn.Conv1d(2, 3, 2, stride=2, padding=1)", (2, 2, 6), (1,), "m(x)"),
    ("torch.nn.Conv2d(2, 4, 3, padding=1, groups=2)", (1, 2, 5, 5), (1,), "m(x)"),
    (
        "torch.nn.Conv2d(2, 2, 2, dilation=2, padding_mode='reflect', padding=1)",
        (2, 4, 4),
        (1,),
        "m(x)",
    ),
    (
        "torch.nn.Conv2d(2, 2, 3, padding='same', padding_mode='circular')",
        (1, 2, 5, 5),
        (1,),
        "m(x)",
    ),
    ("torch.nn.ConvTranspose1d(2, 2, 3, stride=2, output_padding=1)", (2, 2, 6), (1,), "m(x)"),
    ("torch.nn.ConvTranspose2d(2, 4, 2, stride=2, groups=2)", (1, 2, 4, 4), (1,), "m(x)"),
    ("torch.nn.MaxPool1d(2, stride=1, padding=1, dilation=2)", (2, 2, 6), (1,), "m(x)"),
    ("torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)", (1, 2, 5, 5), (1,), "m(x)"),
    ("torch.nn.MaxPool2d(2, return_indices=True)", (1, 2, 4, 4), (1,), "m(x)[0]"),
    ("torch.nn.AvgPool1d(3, padding=1, count_include_pad=False)", (2, 2, 6), (1,), "m(x)"),
    ("torch.nn.AvgPool2d(2, ceil_mode=True, divisor_override=3)", (1, 2, 5, 5), (1,), "m(x)"),
    ("torch.nn.AdaptiveAvgPool1d(4)", (2, 2, 6), (1,), "m(x)"),
    ("torch.nn.AdaptiveAvgPool2d((7, 1))", (1, 2, 5, 5), (1,), "m(x)"),
    ("torch.nn.AdaptiveMaxPool2d(3, return_indices=True)", (1, 2, 5, 5), (1,), "m(x)[0]"),
    ("torch.nn.BatchNorm1d(2)", (2, 2, 6), (1,), "m(x)"),
    ("torch.nn.BatchNorm2d(2, momentum=None)", (2, 2, 4, 4), (1,), "m(x)"),
    (
        "torch.nn.BatchNorm2d(2, affine=False, track_running_stats=False)",
        (2, 2, 4, 4),
        (1,),
        "m(x)",
    ),
    ("torch.nn.GroupNorm(2, 2)", (1, 2, 5, 5), (1,), "m(x)"),
    ("torch.nn.LayerNorm(5)", (1, 2, 5, 5), (1,), "m(x)"),
    ("torch.nn.Dropout2d(0.5)", (1, 2, 5, 5), (1,), "m(x)"),
    ("torch.nn.Unflatten(-1, (1, -1))", (2, 2, 6), (1,), "m(x)"),
    ("torch.nn.MultiheadAttention(5, 1, batch_first=True)", (2, 3, 5), (2, 4, 5), "m(x, y, y)[0]"),
    ("torch.nn.MultiheadAttention(4, 2, kdim=5, vdim=5)", (3, 2, 4), (6, 2, 5), "m(x, y, y)[0]"),
    (
        "torch.nn.TransformerEncoderLayer(5, 1, 7, dropout=0.0, batch_first=True)",
        (2, 3, 5),
        (1,),
        "m(x)",
    ),
    ("torch.nn.TransformerDecoderLayer(5, 1, 3, dropout=0.0)", (3, 2, 5), (4, 2, 5), "m(x, y)"),
    ("torch.nn.Linear(1, 1)", (2, 2, 6), (3, 2, 2), "F.conv1d(x, y)"),
    ("torch.nn.Linear(1, 1)", (1, 2, 5, 5), (4, 2, 3, 3), "F.conv2d(x, y, stride=2, padding=1)"),
    ("torch.nn.Linear(1, 1)", (1, 2, 4, 4), (2, 3, 2, 2), "F.conv_transpose2d(x, y, stride=3)"),
    ("torch.nn.Linear(1, 1)", (1, 2, 4, 4), (1,), "F.max_pool2d(x, 2, return_indices=True)[1]"),
    ("torch.nn.Linear(1, 1)", (2, 2, 6), (2,), "F.batch_norm(x, y, y, training=True)"),
    ("torch.nn.Linear(1, 1)", (1, 2, 5, 5), (2,), "F.group_norm(x, 1, y, y)"),
    ("torch.nn.Linear(1, 1)", (2, 3, 5), (2, 4, 5), "F.scaled_dot_product_attention(x, y, y)"),
    ("torch.nn.Linear(1, 1)", (2, 4, 5), (4, 4), "F.scaled_dot_product_attention(x, x, x, y > 0)"),
    (
        "torch.nn.Linear(1, 1)",
        (2, 4, 5),
        (1,),
        "F.scaled_dot_product_attention(x, x, x, is_causal=True)",
    ),
    (
        "torch.nn.Linear(1, 1)",
        (1, 2, 4, 4),
        (1,),
        "F.interpolate(x, scale_factor=1.5, mode='bilinear')",
    ),
    ("torch.nn.Linear(1, 1)", (2, 2, 6), (1,), "F.pad(x, (1, 2), mode='reflect')"),
    # Linear algebra on square, batched and rectangular matrices, and sampling.
    ("torch.nn.Linear(1, 1)", (3, 3), (3,), "torch.linalg.solve(x, y)"),
    ("torch.nn.Linear(1, 1)", (2, 3, 3), (2, 3, 1), "torch.linalg.solve(x, y)"),
    ("torch.nn.Linear(1, 1)", (3, 3), (1,), "torch.linalg.inv(x) + torch.inverse(x)"),
    ("torch.nn.Linear(1, 1)", (2, 3, 3), (1,), "torch.linalg.det(x) + torch.logdet(x)"),
    ("torch.nn.Linear(1, 1)", (2, 3, 3), (1,), "torch.linalg.slogdet(x).logabsdet"),
    ("torch.nn.Linear(1, 1)", (3, 2), (1,), "torch.linalg.svd(x, full_matrices=False).S"),
    ("torch.nn.Linear(1, 1)", (3, 3), (1,), "torch.linalg.eigh(x @ x.mT).eigenvalues"),
    ("torch.nn.Linear(1, 1)", (3, 3), (1,), "torch.linalg.cholesky(x @ x.mT + torch.eye(3))"),
    ("torch.nn.Linear(1, 1)", (2, 4, 3), (1,), "torch.linalg.qr(x).R"),
    ("torch.nn.Linear(1, 1)", (4, 3), (4, 2), "torch.linalg.lstsq(x, y).solution"),
    (
        "torch.nn.Linear(1, 1)",
        (3, 3),
        (1,),
        "torch.linalg.pinv(x) + torch.linalg.matrix_power(x, -2)",
    ),
    ("torch.nn.Linear(1, 1)", (2, 3, 3), (3,), "torch.linalg.matrix_norm(x, 'nuc') + y.norm()"),
    ("torch.nn.Linear(1, 1)", (2, 5), (5,), "torch.cummax(x, 1).values + torch.cummin(y, 0)[0]"),
    ("torch.nn.Linear(1, 1)", (2, 5), (1,), "torch.logcumsumexp(x, -1) * torch.cumprod(x, 0)"),
    (
        "torch.nn.Linear(1, 1)",
        (2, 5),
        (1,),
        "x[torch.arange(2)[:, None], torch.multinomial(x.softmax(-1), 3, generator=g)]",
    ),
    # Packed sequences (lengths from y: often not valid ones), typed constructors, .type.
    ("torch.nn.LSTM(5, 2)", (3, 2, 5), (2,), f"m({PACK}(x, [3, 2]))[0].data"),
    ("torch.nn.GRU(5, 2)", (3, 2, 5), (2,), f"m({PACK}(x, y.long().abs() + 1))[1]"),
    ("torch.nn.RNN(5, 2)", (3, 2, 5), (2,), f"{UNPACK}(m({PACK}(x, [2, 3], False))[0])[0]"),
    (
        "torch.nn.LSTM(5, 2, batch_first=True)",
        (2, 3, 5),
        (2,),
        f"{UNPACK}({PACK}(x, [3, 1], True, False), True, 0.0, 4)[0]",
    ),
    ("torch.nn.Linear(1, 1)", (3, 2), (2,), "torch.nn.utils.rnn.pad_sequence([x, y[:, None]])"),
    ("torch.nn.Linear(1, 1)", (2, 3), (2,), "torch.Tensor(x.tolist()) * torch.Tensor(x)"),
    (
        "torch.nn.Linear(1, 1)",
        (2, 3),
        (2,),
        "x.type(torch.DoubleTensor) + x.type('torch.FloatTensor')",
    ),
]
LAYER_VIEWS = [
    "{}",
    "{}",
    "{}.transpose(-1, -2).contiguous().transpose(-1, -2)",
    "{}.flip(-1)",
    "{}.reshape(-1)[:1].expand({shape})",
    "{}[:1].expand({shape})",
    "{}.detach()",
    "{}.double()",
    "{}.long()",
]
LAYER_CHANGES = [
    "",
    "",
    "for p in m.parameters():\n    p.data.zero_()",
    "for p in m.parameters():\n    p.grad = x",
    "for p in m.parameters():\n    p.data = p.data.flip(0)",
    "torch.nn.init.orthogonal_(m.weight)",
    "torch.nn.init.kaiming_uniform_(m.weight, a=2)",
    "m.eval()",
    "m.double()",
    "torch.nn.utils.clip_grad_value_(m.parameters(), 0.1)",
    "torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)",
]


@st.composite
def layer_programs(draw: st.DrawFn) -> str:
    module, x_shape, y_shape, call = draw(st.sampled_from(LAYER_CASES))
    lines = ["import torch", "import torch.nn.functional as F", f"m = {module}"]
    lines.append(f"g = torch.Generator().manual_seed({draw(st.integers(0, 2**40))})")
    for name, shape in (("x", x_shape), ("y", y_shape)):
        view = draw(st.sampled_from(LAYER_VIEWS)).format(f"{name}_base", shape=shape)
        lines += [f"{name}_base = torch.randn{shape}.requires_grad_()", f"{name} = {view}"]
    for _ in range(draw(st.integers(1, 3))):
        lines += [f"r = {call}", draw(st.sampled_from(LAYER_CHANGES))]
    lines.append(draw(st.sampled_from(["r.float().sum().backward()", "r.sum().backward()"])))
    return "\n".join(lines) + "\n"


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(code=layer_programs())
def test_layers_on_odd_tensors_never_crash_the_process(worker: Worker, code: str) -> None:
    answer = worker.run(code)
    assert not answer.startswith(("exception", "warnings differ")), f"{answer}\n{code}"
