"""Checks around every call into torch: arguments in, sizes before allocation, values out.

The interpreter calls `Guard.call` for everything a program invokes on a torch object. The
guard refuses dangerous arguments, learns output sizes from a dry run on meta tensors (no
memory is used), charges them to the program's budget, and checks that what comes back is
a kind of value the interpreter knows how to handle safely.
"""

import itertools
import math
import operator
import types
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils._pytree import tree_any, tree_map

from app.contract.errors import ProgramError, refused, too_big
from app.contract.settings import Limits
from app.worker.sandbox.allowlist import DTYPES, TENSOR_TYPE_NAMES, TYPED_TENSORS, SafeFunction
from app.worker.sandbox.classes import TypeProxy, UserModule
from app.worker.sandbox.kinds import Passing, Structure, kind_of
from app.worker.sandbox.signature import SizeMemo, UnsizedError, signature
from app.worker.sandbox.tensors import (
    MODULE_CONVERSIONS,
    check_dense,
    check_optimizer,
    converted,
    is_dense,
    optimizer_arguments,
)
from app.worker.sandbox.value_sizes import estimate_pieces, estimate_size

ALLOWED_DTYPES = frozenset(DTYPES.values())
# Times `max_total_items` that all of one run's walks of nested values may take together:
# about a second of C at most, where one walk may take a fifth of it.
WALKS_PER_RUN = 5
FORBIDDEN_KEYWORDS = frozenset(
    {"out", "layout", "pin_memory", "memory_format", "names", "non_blocking", "copy"}
)
# Distinct (operation, argument signature) pairs a worker remembers; each entry is small.
DRY_RUN_SIZES = SizeMemo(max_entries=8_192)
# Most multiply-adds (or comparisons) one convolution or pooling may do: its output can be
# small while its work is not (a 1000x1000 kernel over a 2000x2000 image, 10^12 of them).
MAX_KERNEL_WORK = 1_000_000_000
# Modules whose output size is not a fixed multiple of their input's (kernel sizes,
# strides, padding): a module holding one is sized by running it on meta tensors.
DRY_RUN_MODULES = (
    nn.modules.conv._ConvNd,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.modules.batchnorm._NormBase,
    nn.GroupNorm,
    nn.Flatten,
    nn.Unflatten,
    nn.MultiheadAttention,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
    nn.TransformerEncoder,
)
# Elementwise operations, and others whose output has as many elements as the broadcast
# shape of their tensor operands (a softmax, a transpose, a masked fill), which is computed
# from the shapes alone: a meta run costs far more, the first time a job meets the shapes,
# than the call itself. The meta run is kept for every other call, and for these when an
# operand is anything but a plain tensor or a number, or a keyword other than these numeric
# ones is given.
ELEMENTWISE_NAMES = """
    add sub mul div true_divide pow remainder fmod atan2 maximum minimum eq ne lt le gt ge
    neg abs exp log log1p expm1 sqrt rsqrt sin cos tan tanh sigmoid relu square reciprocal
    sign floor ceil trunc frac erf softmax log_softmax tril triu transpose t clone detach
    masked_fill
""".split()
ELEMENTWISE_KEYWORDS = frozenset({"dim", "diagonal", "alpha", "negative_slope", "p"})
ELEMENTWISE = frozenset(
    {
        operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
        operator.mod, operator.pow, operator.eq, operator.ne, operator.lt, operator.le,
        operator.gt, operator.ge, operator.neg, operator.pos, operator.abs, operator.iadd,
        operator.isub, operator.imul, operator.itruediv, operator.ipow,
        F.relu, F.gelu, F.silu, F.elu, F.leaky_relu, F.softplus, F.tanh, F.sigmoid,
        F.softmax, F.log_softmax, F.dropout, torch.Tensor.contiguous,
        *(getattr(torch, name) for name in ELEMENTWISE_NAMES),
        *(getattr(torch.Tensor, name) for name in ELEMENTWISE_NAMES),
    }
)  # fmt: skip
# Reductions of a whole tensor to one element (`loss = x.mean()`), when given the tensor alone.
WHOLE_REDUCTIONS = frozenset(
    getattr(owner, name)
    for owner in (torch, torch.Tensor)
    for name in "sum mean prod std var norm max min amax amin logsumexp".split()
    if name != "logsumexp" or owner is torch.Tensor
)
MATMUL = frozenset({operator.matmul, torch.matmul, torch.Tensor.matmul, torch.mm, torch.Tensor.mm})
# Random and constant tensors of a size given as integers.
FACTORIES = frozenset({torch.zeros, torch.ones, torch.rand, torch.randn})
FACTORY_KEYWORDS = frozenset({"requires_grad", "dtype", "device", "generator"})
# Attention and transformer modules here always take PyTorch's plain path: the fast path
# (torch._native_multi_head_attention, nested tensors) is a fused native kernel that only
# inference ever reaches, and gives the same numbers. Set once for the worker process.
torch.backends.mha.set_fastpath_enabled(False)


def _first(args: tuple[Any, ...], kwargs: dict[str, Any], position: int, name: str) -> Any:
    return args[position] if len(args) > position else kwargs.get(name)


def _count(value: Any, dims: int) -> int:
    """Elements of a kernel size given as a number (the same in each of `dims`) or a tuple."""
    if isinstance(value, int):
        return int(math.pow(value, dims))
    if isinstance(value, list | tuple):
        return math.prod(int(v) for v in value if isinstance(v, int))
    return 1


def _conv_work(output: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Each output element of a convolution sums (in channels / groups) x kernel products."""
    weight = _first(args, kwargs, 1, "weight")
    per_output = weight[0].numel() if isinstance(weight, torch.Tensor) and weight.dim() else 1
    return _numel_of(output) * per_output


def _transposed_work(output: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Each input element of a transposed convolution is spread over (out channels / groups)
    x kernel outputs."""
    source = _first(args, kwargs, 0, "input")
    weight = _first(args, kwargs, 1, "weight")
    per_input = weight[0].numel() if isinstance(weight, torch.Tensor) and weight.dim() else 1
    return _numel_of(source) * per_input


def _attention_scores(query: Any, key: Any, heads: int = 1, batch_first: bool = True) -> int:
    """Elements of the attention scores (one per query and key position, per head and batch):
    what attention makes inside, however small its output is."""
    if not (isinstance(query, torch.Tensor) and isinstance(key, torch.Tensor)):
        return 0
    if query.dim() < 2 or key.dim() < 2:
        return 0
    sequence = -2 if batch_first or key.dim() == 2 else 0
    return query[..., 0].numel() * int(key.shape[sequence]) * heads


def _sdpa_scores(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    query, key = _first(args, kwargs, 0, "query"), _first(args, kwargs, 1, "key")
    return _attention_scores(query, key)


def _broadcast(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Elements of the tensor arguments broadcast together: what a comparison or a loss
    computes elementwise before it reduces, however small its result (0 if they do not
    broadcast: the call raises what torch raises)."""
    shapes = [value.shape for value in (*args, *kwargs.values()) if isinstance(value, torch.Tensor)]
    return _broadcast_numel(shapes) or 0


def _solution(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """lstsq's solution: (..., n, k) for A (..., m, n) and B (..., m, k), whose size meta
    tensors cannot tell (the driver decides on the real matrices)."""
    matrix, right = _first(args, kwargs, 0, "A"), _first(args, kwargs, 1, "B")
    if not (isinstance(matrix, torch.Tensor) and isinstance(right, torch.Tensor)):
        return 0
    if matrix.dim() < 2 or right.dim() < 1:
        return 0
    columns = int(right.shape[-1]) if right.dim() >= 2 else 1
    return math.prod(matrix.shape[:-2]) * int(matrix.shape[-1]) * columns


def _pool_work(dims: int) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], int]:
    def work(output: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        kernel = _count(_first(args, kwargs, 1, "kernel_size"), dims)
        return _pooled(output, _first(args, kwargs, 0, "input")) * kernel

    return work


def _pooled(output: Any, inputs: Any) -> int:
    """Windows a pooling call computes: its output's elements, or, when meta tensors could
    not size the call, its input's (as many as a stride of 1 makes). A kernel far larger than
    the input is refused by the meta kernel but overflows the CPU kernel's size arithmetic
    into a long loop (max_pool1d with a kernel of 2**40 ran for minutes)."""
    return _numel_of(output) if output is not None else _numel_of(inputs)


def _matrix_work(output: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """A decomposition or solve of (..., m, n) matrices: about m * n * min(m, n) each."""
    matrix = _first(args, kwargs, 0, "A")
    if matrix is None:
        matrix = kwargs.get("input")
    if not isinstance(matrix, torch.Tensor) or matrix.dim() < 2:
        return 0
    return matrix.numel() * min(int(matrix.shape[-1]), int(matrix.shape[-2]))


# Tensors a function makes inside, larger than its output (or unsized before it runs): each
# within the tensor limit, checked before the call from its arguments. What each is, in
# the refusal's words.
Hidden = tuple[Callable[[tuple[Any, ...], dict[str, Any]], int], str]
ATTENTION_SCORES = (
    "attention scores of {numel:,} elements inside (one per query and key position and head)"
)
BROADCAST = "a tensor of {numel:,} elements inside (its inputs broadcast together)"
HIDDEN_SIZES: dict[Any, Hidden] = {
    F.scaled_dot_product_attention: (_sdpa_scores, ATTENTION_SCORES),
    torch.linalg.lstsq: (_solution, "a solution of {numel:,} elements"),
    **{
        function: (_broadcast, BROADCAST)
        for function in (
            torch.allclose,
            torch.dist,
            torch.masked_select,
            torch.Tensor.allclose,
            torch.Tensor.dist,
            torch.Tensor.masked_select,
            F.mse_loss,
            F.l1_loss,
            F.smooth_l1_loss,
            F.huber_loss,
            F.soft_margin_loss,
            F.kl_div,
            F.cosine_similarity,
            F.pairwise_distance,
        )
    },
}
BROADCASTING_LOSSES = (
    nn.MSELoss,
    nn.L1Loss,
    nn.SmoothL1Loss,
    nn.HuberLoss,
    nn.SoftMarginLoss,
    nn.KLDivLoss,
)
KERNEL_WORK: dict[Any, Callable[[Any, tuple[Any, ...], dict[str, Any]], int]] = {
    **{
        getattr(torch.linalg, name): _matrix_work
        for name in "inv solve det slogdet svd svdvals eigh eigvalsh qr cholesky pinv "
        "matrix_rank lstsq matrix_norm".split()
    },
    **{getattr(torch, name): _matrix_work for name in ("inverse", "det", "logdet", "slogdet")},
    **{getattr(F, name): _conv_work for name in ("conv1d", "conv2d")},
    **{getattr(F, name): _transposed_work for name in ("conv_transpose1d", "conv_transpose2d")},
    **{
        getattr(F, f"{reduction}_pool{dims}d"): _pool_work(dims)
        for reduction in ("max", "avg")
        for dims in (1, 2)
    },
}


def _integral_overflow(dtype: torch.dtype, dividend: Any, divisor: Any) -> bool:
    """Whether integer division of `dividend` by `divisor` in `dtype` meets the one quotient
    that does not fit: the smallest integer divided by -1 (any element of each), after both
    are cast to `dtype` as the kernel casts them (2**31 beside an int32 is -2**31)."""
    if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
        return False
    smallest = torch.iinfo(dtype).min
    if smallest == 0:
        return False
    return _holds(dividend, smallest, dtype) and _holds(divisor, -1, dtype)


def _holds(value: Any, wanted: int, dtype: torch.dtype) -> bool:
    if isinstance(value, int | torch.Tensor) and not isinstance(value, bool):
        tensor = torch.as_tensor(value)
        if tensor.is_meta:
            return False
        try:
            return bool((tensor.to(dtype) == wanted).any())
        except (RuntimeError, OverflowError):
            return True  # a number torch cannot cast: refused rather than guessed
    return False


def _truncated_division(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """torch.div and its aliases with rounding_mode="trunc": the kernel divides integers with
    the processor's own division, which stops the process for the smallest integer over -1."""
    if kwargs.get("rounding_mode") != "trunc":
        return False
    dividend, divisor = _first(args, kwargs, 0, "input"), _first(args, kwargs, 1, "other")
    try:
        dtype = torch.result_type(dividend, divisor)
    except (TypeError, RuntimeError):
        return False  # the call raises what torch raises
    return _integral_overflow(dtype, dividend, divisor)


def _pooled_division(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """avg_pool2d/3d of integers with divisor_override=-1: a window's sum (which may wrap
    round to the smallest integer) is divided by -1."""
    return _pooled_overflow(
        _first(args, kwargs, 0, "input"), _first(args, kwargs, 6, "divisor_override")
    )


def _pooled_overflow(tensor: Any, divisor: Any) -> bool:
    """Integers pooled with a divisor_override that is not a positive whole number (torch
    reads one given as a 0-d tensor as its number)."""
    if not isinstance(tensor, torch.Tensor) or tensor.is_floating_point() or tensor.is_complex():
        return False
    if divisor is None:
        return False
    try:
        return operator.index(divisor) < 1
    except TypeError:
        return True


# Calls whose native kernel would stop the process with a processor trap (SIGFPE) on these
# values, where it should raise: refused before they run, for the function and the tensor
# method alike.
TRAP = (
    "{qualname}: dividing the smallest integer of its type by -1 overflows, and PyTorch's "
    "kernel would crash instead of raising an error. Divide floating-point tensors, or use "
    "rounding_mode='floor'"
)
POOL_TRAP = (
    "{qualname}: pooling integers, divisor_override must be a positive whole number (-1 can "
    "divide the smallest integer by -1, which crashes PyTorch's kernel). Pool floating-point "
    "tensors"
)
TRAPS: dict[Any, tuple[Callable[[tuple[Any, ...], dict[str, Any]], bool], str]] = {
    **{
        function: (_truncated_division, TRAP)
        for function in (
            torch.div,
            torch.divide,
            torch.Tensor.div,
            torch.Tensor.div_,
            torch.Tensor.divide,
            torch.Tensor.divide_,
        )
    },
    F.avg_pool2d: (_pooled_division, POOL_TRAP),
    F.avg_pool3d: (_pooled_division, POOL_TRAP),
}


def check_traps(
    function: Any, qualname: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """Refuse a call that TRAPS says its kernel would crash on, before it runs."""
    trap = TRAPS.get(function)
    if trap is not None and trap[0](args, kwargs):
        raise refused(trap[1].format(qualname=qualname))


# Functions that write into tensors they are given (running statistics): those must be dense.
WRITTEN_ARGUMENTS: dict[Any, tuple[tuple[int, str], ...]] = {
    F.batch_norm: ((1, "running_mean"), (2, "running_var")),
}


def module_work(
    module: nn.Module, inputs: tuple[Any, ...], kwargs: dict[str, Any], output: Any
) -> int:
    """The work of one convolution or pooling module, as for the functions above."""
    sub: Any = module
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        return _numel_of(inputs) * int(sub.weight[0].numel())
    if isinstance(module, nn.modules.conv._ConvNd):
        return _numel_of(output) * int(sub.weight[0].numel())
    if isinstance(module, POOLING):
        return _pooled(output, inputs) * _window(module)
    return 0


POOLING = (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)


def _window(pool: nn.Module) -> int:
    """Elements of a pooling module's window (its 1d kind's a line, the others' a square)."""
    dims = 1 if type(pool).__name__.endswith("1d") else 2
    return _count(getattr(pool, "kernel_size", 1), dims)


def module_hidden_size(
    module: nn.Module, inputs: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[int, str]:
    """What a module makes inside, as for the functions above: a MultiheadAttention's
    scores, a loss's broadcast inputs."""
    if isinstance(module, BROADCASTING_LOSSES):
        return _broadcast(inputs, kwargs), BROADCAST
    if not isinstance(module, nn.MultiheadAttention):
        return 0, ""
    query, key = _first(inputs, kwargs, 0, "query"), _first(inputs, kwargs, 1, "key")
    return _attention_scores(query, key, module.num_heads, module.batch_first), ATTENTION_SCORES


def check_work(work: int, qualname: str) -> None:
    if work > MAX_KERNEL_WORK:
        raise too_big(
            f"{qualname} would do about {work:,} multiply-adds or comparisons; the limit is "
            f"{MAX_KERNEL_WORK:,}. Use smaller kernels, fewer channels or smaller inputs"
        )


def output_growth(module: nn.Module) -> float:
    """How many output elements a module may make per input element (1 for most)."""
    m: Any = module  # torch types these attributes as Tensor | Module
    if isinstance(module, nn.Linear | nn.Bilinear):
        return float(m.out_features) / float(getattr(m, "in_features", None) or m.in1_features)
    if isinstance(module, nn.Embedding):
        return float(m.embedding_dim)
    if isinstance(module, nn.RNNBase):
        return float(4.0 * m.hidden_size * m.num_layers / m.input_size)
    if isinstance(module, nn.RNNCellBase):
        return float(2.0 * m.hidden_size / m.input_size + 1)
    return 1.0


class Budget:
    """Counts work as the program runs; raises when a limit is passed."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps = 0
        self.elements = 0
        self.items = 0
        self.walked = 0

    def step(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > self.limits.max_steps:
            raise too_big(
                f"the program ran more than {self.limits.max_steps} steps "
                "(statements, loop turns and calls); is there an endless loop?"
            )

    def allocate(self, numel: int, what: str) -> None:
        if numel > self.limits.max_tensor_numel:
            raise too_big(
                f"{what} would make a tensor of {numel:,} elements; the limit is "
                f"{self.limits.max_tensor_numel:,}"
            )
        if self._over_total(numel):
            raise too_big(
                f"the program created more than {self.limits.max_total_numel:,} "
                "tensor elements in all"
            )

    def _over_total(self, numel: int) -> bool:
        self.elements += numel
        return self.elements > self.limits.max_total_numel

    def charge(self, numel: int, what: str) -> None:
        """Work of `numel` elements that makes no one tensor of that size (the backward passes
        torch runs for a jacobian): counted towards the total only."""
        if self._over_total(numel):
            raise too_big(
                f"{what} would work through more than {self.limits.max_total_numel:,} "
                "tensor elements in all"
            )

    def sequence(self, length: int, what: str = "a sequence") -> None:
        if length > self.limits.max_sequence_len:
            raise too_big(
                f"{what} would have {length:,} items; the limit is {self.limits.max_sequence_len:,}"
            )

    def create(self, length: int, what: str = "a sequence") -> None:
        """A new string or list: within the per-object limit, and counted towards the total
        (one `+` in a loop is cheap per step, but a million of them copy gigabytes)."""
        self.sequence(length, what)
        self.items += length
        if self.items > self.limits.max_total_items:
            raise too_big(
                f"the program built more than {self.limits.max_total_items:,} string "
                "characters and list items in all"
            )

    def walk(self, count: int, what: str) -> None:
        """Items that C code walks through nested values at once (comparing, hashing or
        sorting them): a value's size bounds its making, but not a walk of every path
        through it, which may be exponentially longer. At most `max_total_items` a walk,
        and WALKS_PER_RUN times that in all (a loop of walks each under the limit)."""
        if count > self.limits.max_total_items:
            raise too_big(
                f"{what} would walk through more than {self.limits.max_total_items:,} items "
                "of lists, tuples and dicts (a list held twice is walked twice); keep data "
                "flat"
            )
        self.walked += count
        if self.walked > self.limits.max_total_items * WALKS_PER_RUN:
            raise too_big(
                "the program's comparisons, searches, sorts and hashes of lists, tuples and "
                f"dicts would walk through more than "
                f"{self.limits.max_total_items * WALKS_PER_RUN:,} items in all; keep data flat"
            )

    def nesting(self, depth: int, what: str) -> None:
        if depth > self.limits.max_nesting:
            raise too_big(
                f"{what} nests more than {self.limits.max_nesting} levels deep; keep data flat "
                "(a list of rows, a dict of tuples)"
            )

    def integer(self, bits: int) -> None:
        if bits > self.limits.max_int_bits:
            raise too_big(
                f"an integer would have about {bits:,} bits; the limit is "
                f"{self.limits.max_int_bits:,}"
            )


class Guard:
    """Wraps each call from user code into torch."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        # A module runs on meta tensors to learn its sizes: the program's hooks on it do not
        # run then (they run once, in the real call), as the interpreter reads here.
        self.dry_running = 0
        # Told of each torch part's call inside a container holding a program's module
        # (part, args, kwargs, output), so that the calls can be recorded one by one.
        self.part_ran: Callable[[nn.Module, tuple[Any, ...], dict[str, Any], Any], None] = (
            lambda *_: None
        )

    def call(self, function: SafeFunction, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call a table function after checking arguments and, for allocating calls, sizes."""
        self.check_arguments(function.qualname, args, kwargs)
        self.check_pieces(function.qualname, args, kwargs)
        target = function.target
        self.check_inside(target, function.qualname, args, kwargs)
        check_traps(target, function.qualname, args, kwargs)
        sized = True
        if isinstance(target, type) and issubclass(target, nn.Module):
            self._check_module_size(function.qualname, target, args, kwargs)
        elif isinstance(target, type) and issubclass(target, torch.optim.Optimizer):
            args, kwargs = optimizer_arguments(function.qualname, target, args, kwargs)
        elif target is torch.nn.utils.rnn.pack_padded_sequence:
            _check_lengths(args, kwargs)
        elif target in WRITTEN_ARGUMENTS:
            for position, name in WRITTEN_ARGUMENTS[target]:
                written = _first(args, kwargs, position, name)
                if isinstance(written, torch.Tensor):
                    check_dense(written, f"{function.qualname}: {name}")
            sized = self.dry_run(function.qualname, target, args, kwargs)
        elif target is nn.Parameter:
            data = args[0] if args else kwargs.get("data")
            if isinstance(data, torch.Tensor):
                check_dense(data, "nn.Parameter(...)")
        elif function.dry_run:
            sized = self.dry_run(function.qualname, target, args, kwargs)
        self.check_value_sizes(function.qualname, args, kwargs)
        result = self.checked_result(function.qualname, target(*args, **kwargs), sized)
        if isinstance(result, torch.optim.Optimizer):
            check_optimizer(result)
        return result

    def call_method(
        self, receiver: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], dry_run: bool
    ) -> Any:
        """Call `receiver.name(...)`; `name` comes from an allowlist, never from user text alone.

        Which receivers may be called, with which names, is their kind's (app.worker.sandbox.kinds);
        the checks below are the particular methods' own (a tensor's sizes, a module's
        forward, an optimizer's parameters), by the torch class that has the method."""
        qualname = f"{type(receiver).__name__}.{name}"
        if isinstance(receiver, torch.Tensor) and name == "type":
            args = _tensor_type(args)
        self.check_arguments(qualname, args, kwargs)
        sized = True
        if isinstance(receiver, torch.Tensor):
            if name == "to":
                self._check_to(args)
            if name == "requires_grad_" and (
                args[0] if args else kwargs.get("requires_grad", True)
            ):
                check_dense(receiver, "a tensor that requires grad")
            self.check_pieces(qualname, (receiver, *args), kwargs)
            unbound = getattr(torch.Tensor, name, None)
            self.check_inside(unbound, qualname, (receiver, *args), kwargs)
            check_traps(unbound, qualname, (receiver, *args), kwargs)
            if dry_run and unbound is not None:  # a dry-run method is always Tensor's
                sized = self.dry_run(qualname, unbound, (receiver, *args), kwargs)
            self.check_value_sizes(qualname, (receiver, *args), kwargs)
        elif isinstance(receiver, nn.Module) and name == "forward":
            return self.run_module(receiver, receiver.forward, args, kwargs)
        elif isinstance(receiver, torch.optim.Optimizer) and name in {"step", "zero_grad"}:
            check_optimizer(receiver)
        result = self.checked_result(qualname, getattr(receiver, name)(*args, **kwargs), sized)
        if isinstance(receiver, nn.Module) and name in MODULE_CONVERSIONS:
            converted(receiver)
        return result

    def call_module(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run a module's forward pass, estimating its output size first."""
        self.check_arguments(type(module).__name__, args, kwargs)
        return self.run_module(module, module, args, kwargs)

    def run_module(
        self,
        module: nn.Module,
        call: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """`call(*args, **kwargs)` (the module, or its forward), sized before it runs.

        A torch container holding a module of the program (nn.Sequential(Net(), ...)) is not
        run on meta tensors as a whole: that would run the program's forward twice (its
        prints too). Each torch part is sized as torch reaches it, by a pre-hook; the
        program's modules size their own calls as they make them."""
        name = type(module).__name__
        parts = _torch_parts(module)
        if parts is None:
            sized = self._check_module_call(module, args, kwargs)
            return self.checked_result(name, call(*args, **kwargs), sized)
        handles = [
            part.register_forward_pre_hook(self._check_part, with_kwargs=True, prepend=True)
            for part in parts
        ] + [part.register_forward_hook(self._report_part, with_kwargs=True) for part in parts]
        try:
            result = call(*args, **kwargs)
        finally:
            for handle in handles:
                handle.remove()
        return self.checked_result(name, result, sized=False)

    def _report_part(
        self, part: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> None:
        if not self.dry_running:
            self.part_ran(part, args, kwargs, output)

    def _check_part(self, part: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if not self.dry_running:
            self.check_arguments(type(part).__name__, args, kwargs)
            self.budget.step()
            self._check_module_call(part, args, kwargs)

    def operator(self, symbol: str, function: Callable[..., Any], *operands: Any) -> Any:
        """Apply a Python operator to tensors, sized by a dry run first."""
        sized = self.dry_run(f"'{symbol}'", function, operands, {})
        return self.checked_result(f"'{symbol}'", function(*operands), sized)

    # Arguments -------------------------------------------------------------------------

    def check_arguments(self, qualname: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        for key, value in kwargs.items():
            if key in FORBIDDEN_KEYWORDS:
                raise refused(f"{qualname}: the argument '{key}=' is not allowed here")
            if key == "device" and value is not None and str(value) != "cpu":
                raise refused(f"{qualname}: only device='cpu' is available here")
            if key == "generator" and value is not None and not _own_generator(value):
                raise refused(
                    f"{qualname}: 'generator=' takes a generator the program made with "
                    "torch.Generator()"
                )
            if key == "dtype" and value is not None and value not in ALLOWED_DTYPES:
                raise refused(f"{qualname}: dtype {value!r} is not available here")
        for value in (*args, *kwargs.values()):
            self._check_value(qualname, value)

    def _check_value(self, qualname: str, value: Any) -> None:
        """No function or namespace of the program may reach torch; nested data is sized."""
        if not _is_safe_value(value, self.budget):
            raise refused(
                f"{qualname}: a {type(value).__name__} cannot be passed here; pass "
                "tensors, numbers, strings or lists of them"
            )
        if isinstance(value, PackedSequence):  # a tuple, checked against its data
            check_packed(value, qualname)
        elif _nested(value) and value and _nested(value[0]):
            self._check_nested_size(value)

    def _check_nested_size(self, data: list[Any] | tuple[Any, ...]) -> None:
        """`[[0]*1000]*1000` is small as Python objects but huge as a tensor."""
        numel = 1
        item: Any = data
        while _nested(item) and item:
            numel *= len(item)
            item = item[0]
        if isinstance(item, torch.Tensor):
            numel *= item.numel()
        self.budget.allocate(numel, "nested lists")

    def _check_to(self, args: tuple[Any, ...]) -> None:
        for value in args:
            if isinstance(value, str | torch.device) and str(value) != "cpu":
                raise refused("Tensor.to: only the cpu is available here")

    # Sizes -----------------------------------------------------------------------------

    def dry_run(
        self,
        qualname: str,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> bool:
        """Call `function` on meta tensors: shapes are computed, no memory is used.

        False when meta tensors cannot tell: the real call then raises the learner-facing
        error, or its output size depends on values (nonzero, unique) and is charged after.
        """

        known = _known_numel(function, args, kwargs)
        if known is not None:
            self.budget.allocate(known, qualname)
            return True
        work = KERNEL_WORK.get(function)

        def on_meta(arguments: tuple[Any, ...]) -> int | None:
            meta_args, meta_kwargs = arguments
            if "device" in meta_kwargs or _ignores_the_device_context(function, meta_args):
                # torch.randn(3, device="cpu") would compute on the CPU inside the meta
                # context, and draw the program's random numbers once more than it asked
                # (and allocate before the size is known), as torch.normal(0, 1, size) does
                # without a device.
                meta_kwargs = {**meta_kwargs, "device": "meta"}
            try:
                with torch.no_grad(), torch.device("meta"):
                    output = function(*meta_args, **meta_kwargs)
            except (NotImplementedError, RuntimeError, TypeError, ValueError, IndexError):
                return None
            if work is not None:
                check_work(work(output, meta_args, meta_kwargs), qualname)
            return _numel_of(output)

        numel = _remembered(
            function, args, kwargs, lambda: on_meta(tree_map(_to_meta, (args, kwargs)))
        )
        if numel is None and _holds_scalar_tensor((args, kwargs)):
            # A size given as a tensor (torch.arange(torch.tensor(2.5e8)), zeros(t), full((t,),
            # 1)) cannot be read from a meta tensor: the dry run is made again with one-element
            # tensors as the numbers they hold, and not remembered (the size depends on
            # values). The first argument stays a tensor if it can (the receiver of a method,
            # x.new_zeros(t)); if that fails, it may be a size too (torch.zeros(t)).
            first = tree_map(_to_meta, args[:1])
            rest = tree_map(_to_number_or_meta, (args[1:], kwargs))
            numel = on_meta(((*first, *rest[0]), rest[1]))
            if numel is None:
                numel = on_meta(tree_map(_to_number_or_meta, (args, kwargs)))
        if numel is None:
            # The estimates that need only the arguments (a matrix's work) still hold when
            # meta tensors cannot run the call.
            if work is not None:
                check_work(work(None, args, kwargs), qualname)
            return False
        self.budget.allocate(numel, qualname)
        return True

    def check_hidden(self, numel: int, qualname: str, what: str) -> None:
        """A tensor made inside a call (`what`: attention scores, broadcast inputs) is within
        the tensor limit."""
        if numel > self.budget.limits.max_tensor_numel:
            raise too_big(
                f"{qualname} would make {what.format(numel=numel)}; the limit is "
                f"{self.budget.limits.max_tensor_numel:,}. Use smaller tensors"
            )

    def check_inside(
        self, function: Any, qualname: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        """The tensors `function` would make inside (HIDDEN_SIZES), before it runs."""
        hidden = HIDDEN_SIZES.get(function)
        if hidden is not None:
            estimate, what = hidden
            self.check_hidden(estimate(args, kwargs), qualname, what)

    def check_pieces(self, qualname: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Calls returning one object per piece (unbind, split, tolist), before any run."""
        pieces = estimate_pieces(qualname, args, kwargs)
        if pieces is not None:
            self.budget.sequence(pieces, f"the result of {qualname}")

    def check_value_sizes(
        self, qualname: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        """Sizes meta tensors cannot know because they depend on values, estimated first."""
        estimate = estimate_size(qualname, args, kwargs)
        if estimate is None:
            return
        size, is_bits = estimate
        if is_bits:
            self.budget.integer(size)
        else:
            self.budget.allocate(size, qualname)

    def _check_module_size(
        self, qualname: str, cls: type[nn.Module], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        def measure() -> int | None:
            with torch.device("meta"):
                try:
                    probe = cls(*args, **kwargs)
                except Exception:
                    return None
            # Buffers too: BatchNorm2d(10**8, affine=False) has no parameters.
            return sum(t.numel() for t in itertools.chain(probe.parameters(), probe.buffers()))

        if issubclass(cls, nn.TransformerEncoder):
            # It deep-copies the layer it is given, num_layers times: sized before any copy
            # (a probe on the meta device would still copy the real layer's tensors).
            self.budget.allocate(_stack_size(args, kwargs), qualname)
            return
        if cls in CONTAINERS:
            return  # they hold modules and parameters made already, and charged then
        # The probe is built from the real arguments, so a size given as a tensor is read
        # from its value, which the signature does not hold.
        tensors = _holds_scalar_tensor((args, kwargs))
        numel = _linear_size(cls, args, kwargs)
        if numel is None:
            numel = _conv_size(cls, args, kwargs)
        if numel is None:
            numel = measure() if tensors else _remembered(cls, args, kwargs, measure)
        if numel is not None:
            self.budget.allocate(numel, qualname)

    def _check_module_call(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> bool:
        """Charge a module call's output before it runs; False if it must be charged after."""
        name = type(module).__name__
        numel, what = module_hidden_size(module, args, kwargs)  # a loss's, before any dry run
        self.check_hidden(numel, name, what)
        divisor = getattr(module, "divisor_override", None)
        if isinstance(module, nn.AvgPool2d | nn.AvgPool3d) and _pooled_overflow(
            _first(args, kwargs, 0, "input"), divisor
        ):
            raise refused(POOL_TRAP.format(qualname=name))
        if any(isinstance(sub, UserModule) for sub in module.modules()):
            # A Sequential of the program's own modules: their forward runs in the interpreter,
            # which hands every call inside to this guard, sized one by one. A dry run of the
            # whole would hand the program meta tensors, which the guard refuses.
            return False
        if any(isinstance(sub, DRY_RUN_MODULES) for sub in module.modules()):
            sizes = _conv_call_sizes(module, args, kwargs) or self._dry_run_module(
                module, args, kwargs
            )
            if sizes is None:
                return False  # the real call raises the learner-facing error, or is charged
            largest, total = sizes
            self.budget.allocate(largest, name)
            self.budget.allocate(total - largest, name)
            return True
        numel = _numel_of(args)  # a PackedSequence or (h, c) counts by its tensors
        for sub in module.modules():
            numel = math.ceil(numel * max(1.0, output_growth(sub)))
        self.budget.allocate(numel, name)
        return True

    def _check_measured(self, outputs: list[int], module: nn.Module) -> None:
        """When a later layer cannot run on meta tensors (BatchNorm2d(momentum=None) reads a
        count), the outputs measured before it still bound the real call's."""
        largest = max(outputs, default=0)
        if largest > self.budget.limits.max_tensor_numel:
            raise too_big(
                f"{type(module).__name__} would make a tensor of {largest:,} elements inside; "
                f"the limit is {self.budget.limits.max_tensor_numel:,}"
            )

    def _dry_run_module(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[int, int] | None:
        """(largest, total) elements of the outputs of every module inside `module`, from a
        run on meta tensors in place of its parameters, buffers and arguments; remembered
        by the modules' settings (every plain attribute: extra_repr leaves some out, such as
        MultiheadAttention's num_heads), the tensors' shapes and the arguments' signature."""
        state = dict(
            itertools.chain(
                module.named_parameters(remove_duplicate=False),
                module.named_buffers(remove_duplicate=False),
            )
        )
        try:
            key: Hashable = (
                tuple((type(s), s.extra_repr(), _settings(s)) for s in module.modules()),
                tuple((n, tuple(t.shape), t.dtype) for n, t in state.items()),
                signature(args),
                signature(kwargs),
            )
        except UnsizedError:
            key = None
        if key is not None:
            largest, total = DRY_RUN_SIZES.get((key, "largest")), DRY_RUN_SIZES.get(key)
            if largest is not None and total is not None:
                return largest, total
        outputs: list[int] = []

        def hook(
            sub: nn.Module, inputs: tuple[Any, ...], keywords: dict[str, Any], output: Any
        ) -> None:
            outputs.append(_numel_of(output))
            check_work(module_work(sub, inputs, keywords, output), type(sub).__name__)
            numel, what = module_hidden_size(sub, inputs, keywords)
            self.check_hidden(numel, type(sub).__name__, what)

        def before(sub: nn.Module, inputs: tuple[Any, ...], keywords: dict[str, Any]) -> None:
            # A pooling window larger than the whole input: its meta kernel refuses the sizes
            # (so the hook above never runs), but the CPU kernel's size arithmetic may
            # overflow into a loop over the window. Charged from the input, before it runs.
            if _window(sub) > _numel_of(inputs):
                check_work(module_work(sub, inputs, keywords, None), type(sub).__name__)

        handles = [sub.register_forward_hook(hook, with_kwargs=True) for sub in module.modules()]
        handles += [
            sub.register_forward_pre_hook(before, with_kwargs=True)
            for sub in module.modules()
            if isinstance(sub, POOLING)
        ]
        meta_state = {n: _to_meta(t) for n, t in state.items()}
        meta_args, meta_kwargs = tree_map(_to_meta, (args, kwargs))
        self.dry_running += 1
        try:
            with torch.no_grad():
                torch.func.functional_call(module, meta_state, meta_args, meta_kwargs)
        except (NotImplementedError, RuntimeError, TypeError, ValueError, IndexError):
            self._check_measured(outputs, module)
            return None
        except ArithmeticError:  # nn.Conv2d(..., stride=0): the real call says what is wrong
            self._check_measured(outputs, module)
            return None
        finally:
            self.dry_running -= 1
            for handle in handles:
                handle.remove()
        largest, total = max(outputs, default=0), sum(outputs)
        if key is not None:
            DRY_RUN_SIZES.put((key, "largest"), largest)
            DRY_RUN_SIZES.put(key, total)
        return largest, total

    # Results ---------------------------------------------------------------------------

    def checked_result(self, qualname: str, value: Any, sized: bool = True) -> Any:
        """Only kinds of value the interpreter handles may come back to the program.

        `sized=False`: no dry run could size the call, so its output is charged now.
        """
        if not sized:
            self.budget.allocate(_numel_of(value), qualname)
        if isinstance(value, int) and not isinstance(value, bool):
            self.budget.integer(value.bit_length())
        if isinstance(value, types.GeneratorType | Iterator) and not isinstance(
            value, torch.Tensor
        ):
            value = list(_bounded(value, self.budget))
        if isinstance(value, torch.Generator) and not _own_generator(value):
            return None  # torch.manual_seed returns the shared generator: a program never holds it
        if isinstance(value, torch.Tensor) and value.dtype not in ALLOWED_DTYPES:
            # A dtype named in no argument: by type promotion (half times a complex number is
            # complex32) or a dtype read from another tensor. The program never holds it, so
            # no further kernel of that dtype runs.
            raise refused(f"{qualname} made a tensor of {value.dtype}, which is not available here")
        if not _is_safe_value(value, self.budget):
            raise ProgramError(
                "Unsupported value",
                f"{qualname} returned a {type(value).__name__}, which this sandbox cannot use",
                slug="not-allowed",
            )
        return value


def _torch_parts(module: nn.Module) -> list[nn.Module] | None:
    """None for a module of torch's alone; else the largest parts of it that are torch's
    alone, reached through nn.Sequential containers (whose forward only calls their parts)
    and not inside the program's modules (whose forward runs in the interpreter)."""
    if isinstance(module, UserModule) or not any(
        isinstance(sub, UserModule) for sub in module.modules()
    ):
        return None
    parts: list[nn.Module] = []
    stack = [module]
    while stack:
        container = stack.pop()
        if not isinstance(container, nn.Sequential):
            raise refused(
                f"a module of the program cannot sit inside a {type(container).__name__}: "
                "call it from your own forward instead"
            )
        for part in container.children():
            if isinstance(part, UserModule):
                continue
            if any(isinstance(sub, UserModule) for sub in part.modules()):
                stack.append(part)
            else:
                parts.append(part)
    return parts


def _stack_size(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Elements of TransformerEncoder(layer, num_layers, norm): the layer's copies and norm."""
    layer = _first(args, kwargs, 0, "encoder_layer")
    count = _first(args, kwargs, 1, "num_layers")
    norm = _first(args, kwargs, 2, "norm")

    def size(module: Any) -> int:
        if not isinstance(module, nn.Module):
            return 0
        tensors = itertools.chain(module.parameters(), module.buffers())
        return sum(t.numel() for t in tensors)

    copies = count if isinstance(count, int) and count > 0 else 1
    return size(layer) * copies + size(norm)


def _known_numel(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """The output size of an elementwise call or a factory, from its arguments alone; None
    when it is not one of those or its arguments are not plain (a meta run then sizes it)."""
    try:
        if function in FACTORIES and FACTORY_KEYWORDS.issuperset(kwargs):
            sizes = args[0] if len(args) == 1 and isinstance(args[0], list | tuple) else args
            if sizes and all(type(size) is int and size >= 0 for size in sizes):
                return math.prod(sizes)
            return None
        if function in WHOLE_REDUCTIONS and len(args) == 1 and not kwargs:
            return 1 if _plain_tensor(args[0]) else None
        if function in MATMUL and len(args) == 2 and not kwargs:
            return _matmul_numel(*args)
        if function not in ELEMENTWISE or not ELEMENTWISE_KEYWORDS.issuperset(kwargs):
            return None
    except TypeError:  # an unhashable callable is in none of the sets
        return None
    shapes = []
    for value in (*args, *kwargs.values()):
        if _plain_tensor(value):
            shapes.append(value.shape)
        elif type(value) not in (bool, int, float, type(None)):
            return None
    return _broadcast_numel(shapes)


def _linear_size(cls: type[nn.Module], args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """Elements of nn.Linear(in, out, bias)'s weight and bias, from its arguments: the layer
    every model has, whose probe on the meta device initialises its weights first."""
    if cls is not nn.Linear or len(args) > 3 or not {"bias", "dtype"}.issuperset(kwargs):
        return None
    sizes = (*args, None, None)[:2]
    bias = args[2] if len(args) == 3 else kwargs.get("bias", True)
    if not all(type(size) is int and size >= 0 for size in sizes) or type(bias) is not bool:
        return None
    inputs, outputs = int(sizes[0]), int(sizes[1])
    return outputs * inputs + (outputs if bias else 0)


# Module classes that only hold modules or parameters given to them.
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.ParameterList, nn.ParameterDict)
CONVOLUTIONS: dict[type[nn.Module], int] = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}
# A convolution's keywords: those that size its parameters, and the rest.
CONVOLUTION_KEYWORDS = {"in_channels", "out_channels", "kernel_size", "groups", "bias"} | {
    "stride",
    "padding",
    "dilation",
    "padding_mode",
    "dtype",
}


def _conv_size(cls: type[nn.Module], args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """Elements of nn.Conv1d/2d/3d(in, out, kernel_size, ..., groups, bias)'s weight and
    bias, from its arguments: a CNN's every layer, whose probe on the meta device costs more
    than the layer's forward. Anything unusual (a size that is not an int, channels that
    groups do not divide) is left to the probe, which raises what torch raises."""
    dimensions = CONVOLUTIONS.get(cls)
    if dimensions is None or len(args) > 3 or not CONVOLUTION_KEYWORDS.issuperset(kwargs):
        return None
    names = ("in_channels", "out_channels", "kernel_size")
    given = dict(zip(names, args, strict=False)) | kwargs
    sized: list[Any] = [given.get(name) for name in names]
    inputs, outputs, kernel = sized
    groups, bias = given.get("groups", 1), given.get("bias", True)
    if type(kernel) is int:
        kernel = (kernel,) * dimensions
    sizes = (inputs, outputs, groups)
    if (
        not all(type(size) is int and size >= 0 for size in sizes)
        or not isinstance(kernel, tuple | list)
        or len(kernel) != dimensions
        or not all(type(size) is int and size > 0 for size in kernel)
        or type(bias) is not bool
        or groups == 0
        or inputs % groups
        or outputs % groups
    ):
        return None
    weight: int = outputs * (inputs // groups) * math.prod(kernel)
    return weight + (outputs if bias else 0)


def _conv_call_sizes(
    module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[int, int] | None:
    """(largest, total) elements a plain nn.Conv1d/2d/3d's call makes, from its input's shape
    and its settings, with its work checked as its dry run would: a CNN's every layer, whose
    meta run in a fresh job process costs more than the layer. Anything else (another
    input, padding by name, a subclass, channels that do not match) is left to the dry run,
    and the real call raises what torch raises."""
    dimensions = CONVOLUTIONS.get(type(module))
    conv: Any = module
    if dimensions is None or kwargs or len(args) != 1 or not _plain_tensor(args[0]):
        return None
    shape = tuple(args[0].shape)
    channels = (conv.in_channels, conv.out_channels)
    if (
        not all(type(count) is int for count in channels)
        or len(shape) not in (dimensions + 1, dimensions + 2)
        or shape[-dimensions - 1] != conv.in_channels
    ):
        return None
    settings = (conv.kernel_size, conv.stride, conv.padding, conv.dilation)
    if not all(
        isinstance(setting, tuple)
        and len(setting) == dimensions
        and all(type(value) is int for value in setting)
        for setting in settings
    ):
        return None  # padding by name ("same"), or settings changed after construction
    sizes = []
    for length, kernel, stride, padding, dilation in zip(
        shape[-dimensions:], *settings, strict=True
    ):
        if min(kernel, stride, dilation) < 1 or padding < 0:
            return None
        size = (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
        if size < 1:
            return None
        sizes.append(size)
    output = math.prod(shape[: -dimensions - 1]) * conv.out_channels * math.prod(sizes)
    check_work(output * int(conv.weight[0].numel()), type(module).__name__)
    return output, output


def _plain_tensor(value: Any) -> bool:
    """A dense tensor or parameter, not a subclass whose calls could size differently."""
    return (
        type(value) in (torch.Tensor, nn.Parameter)
        and value.layout == torch.strided
        and not value.is_nested
    )


def _matmul_numel(left: Any, right: Any) -> int | None:
    """Elements of `left @ right`; None where they do not multiply (the real call says so)."""
    if not (_plain_tensor(left) and _plain_tensor(right)) or not (left.dim() and right.dim()):
        return None
    a, b = tuple(left.shape), tuple(right.shape)
    rows = a[-2:-1]  # empty for a vector, as is `columns`
    columns = b[-1:] if len(b) > 1 else ()
    inner_right = b[-2] if len(b) > 1 else b[0]
    if a[-1] != inner_right:
        return None
    batch = _broadcast_numel([a[:-2], b[:-2]])
    return None if batch is None else batch * math.prod(rows) * math.prod(columns)


def _broadcast_numel(shapes: list[tuple[int, ...]] | list[torch.Size]) -> int | None:
    """Elements of the shape these broadcast to; None if they do not."""
    if not shapes:
        return None
    numel = 1
    for dim in range(1, max(map(len, shapes)) + 1):
        lengths = {shape[-dim] for shape in shapes if len(shape) >= dim} - {1}
        if len(lengths) > 1:
            return None  # the shapes do not broadcast: the real call says so
        numel *= lengths.pop() if lengths else 1
    return numel


def _remembered(
    function: Any, args: tuple[Any, ...], kwargs: dict[str, Any], measure: Callable[[], int | None]
) -> int | None:
    """`measure()`, remembered by the arguments' signature for every job of this worker.

    A loop, or a lesson sent again, then pays for one meta-tensor run (torch's Python
    decompositions, the costliest part of interpreting a call) instead of one per call.
    """
    try:
        key: Hashable = (function, signature(args), signature(kwargs))
    except UnsizedError:
        return measure()
    numel = DRY_RUN_SIZES.get(key)
    if numel is None:
        numel = measure()
        if numel is not None:
            DRY_RUN_SIZES.put(key, numel)
    return numel


def _tensor_type(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """x.type(torch.DoubleTensor) or x.type('torch.DoubleTensor') as x.type(torch.float64);
    other type names (CUDA ones) are refused."""
    if not args:
        return args
    wanted = args[0]
    if isinstance(wanted, TypeProxy) and wanted.construct is not None:  # x.type(torch.Tensor)
        wanted = wanted.construct
    if isinstance(wanted, SafeFunction) and wanted.qualname.removeprefix("torch.") in TYPED_TENSORS:
        return (TYPED_TENSORS[wanted.qualname.removeprefix("torch.")], *args[1:])
    if isinstance(wanted, str):
        if wanted not in TENSOR_TYPE_NAMES:
            raise refused(
                f"Tensor.type: '{wanted}' is not available here; use a dtype (torch.float64) "
                "or a CPU type name ('torch.DoubleTensor')"
            )
        return (TENSOR_TYPE_NAMES[wanted], *args[1:])
    return args


def _check_lengths(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """pack_padded_sequence trusts its lengths: with one longer than the padded sequence it
    reads past the input and packs batch_sizes that do not match the data."""
    source = _first(args, kwargs, 0, "input")
    lengths = _first(args, kwargs, 1, "lengths")
    batch_first = bool(_first(args, kwargs, 2, "batch_first"))
    if not isinstance(source, torch.Tensor) or source.dim() < 2:
        return  # the real call says what is wrong
    if isinstance(lengths, torch.Tensor):
        values = lengths.detach().tolist() if lengths.dim() == 1 else None
    else:
        values = list(lengths) if isinstance(lengths, list | tuple) else None
    steps, batch = source.shape[:2] if not batch_first else source.shape[1::-1]
    if (
        values is None
        or len(values) != batch
        or not all(isinstance(v, int | float) and 1 <= v <= steps for v in values)
    ):
        raise refused(
            f"pack_padded_sequence: lengths must be {batch} numbers from 1 to {steps} (one "
            "per sequence, none longer than the padded input)"
        )


def check_packed(packed: PackedSequence, qualname: str) -> None:
    """RNN kernels and pad_packed_sequence trust batch_sizes: a program can write into it in
    place (p.batch_sizes[0] = 100), so it is checked against the data at every use."""
    data, sizes = packed.data, packed.batch_sizes
    problem = None
    if not isinstance(data, torch.Tensor) or not isinstance(sizes, torch.Tensor):
        problem = "its fields are not tensors"
    elif sizes.dtype != torch.int64 or sizes.dim() != 1 or sizes.device.type != "cpu":
        problem = "batch_sizes is not a 1-d int64 tensor"
    elif data.dim() < 1 or not is_dense(data):
        problem = "data is not a dense tensor with a first dimension"
    elif sizes.numel() == 0 or bool((sizes < 1).any()) or bool((sizes[1:] > sizes[:-1]).any()):
        problem = "batch_sizes is not a non-increasing list of positive numbers"
    elif int(sizes.sum()) != data.shape[0]:
        problem = "batch_sizes does not add up to the rows of data"
    else:
        batch = int(sizes[0])
        for indices in (packed.sorted_indices, packed.unsorted_indices):
            if indices is None:
                continue
            if not isinstance(indices, torch.Tensor) or indices.dtype != torch.int64:
                problem = "its indices are not int64 tensors"
            elif indices.shape != (batch,) or not torch.equal(
                indices.sort().values, torch.arange(batch)
            ):
                problem = "its indices are not an order of the batch"
    if problem:
        raise refused(
            f"{qualname}: this PackedSequence was changed after packing ({problem}); pack "
            "again with torch.nn.utils.rnn.pack_padded_sequence"
        )


def _own_generator(value: Any) -> bool:
    """A generator the program made (torch.Generator()), not the process's shared one."""
    return (
        isinstance(value, torch.Generator)
        and value is not torch.default_generator
        and value.device.type == "cpu"
    )


def _to_meta(value: Any) -> Any:
    if isinstance(value, torch.Generator):
        return None  # a CPU generator cannot drive a meta run, and sizes do not depend on it
    if isinstance(value, torch.Tensor):
        return torch.empty(value.shape, dtype=value.dtype, device="meta")
    return value


def _is_scalar_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.numel() == 1 and value.dim() <= 1


def _ignores_the_device_context(function: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    """torch.normal(mean, std, size) with numbers for mean and std makes its tensor on the
    default device, whatever `with torch.device(...)` says (tests/test_known_sizes.py checks
    that every other creation of the allowlist follows it)."""
    return function is torch.normal and not any(isinstance(a, torch.Tensor) for a in args[:2])


PLAIN_SETTINGS = (int, float, bool, str, type(None))
UNSET = object()  # a setting that is not plain: left out of the key


def _settings(module: nn.Module) -> tuple[Any, ...]:
    """A module's plain attributes (numbers, strings, flags and tuples or lists of them),
    whatever they are named: what its output's size may depend on beyond its tensors."""

    def plain(value: Any) -> Any:
        if isinstance(value, PLAIN_SETTINGS):
            return value
        if isinstance(value, tuple | list):
            items = tuple(plain(item) for item in value)
            return items if all(item is not UNSET for item in items) else UNSET
        return UNSET

    found = ((name, plain(value)) for name, value in vars(module).items())
    return tuple(sorted((name, value) for name, value in found if value is not UNSET))


def _holds_scalar_tensor(value: Any) -> bool:
    return tree_any(_is_scalar_tensor, value)


def _to_number_or_meta(value: Any) -> Any:
    """A one-element tensor as the number (or list of one number) it holds; a size."""
    if _is_scalar_tensor(value) and value.dtype != torch.bool and not value.is_complex():
        return value.item() if value.dim() == 0 else value.tolist()
    return _to_meta(value)


def _numel_of(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel()
    if _nested(value):
        return sum(_numel_of(item) for item in value)
    return 0


def _nested(value: Any) -> bool:
    """A list or tuple (torch.Size and the named tuples torch returns too): data torch walks."""
    return kind_of(value).structure == Structure.SEQUENCE


def _bounded(items: Iterator[Any], budget: Budget) -> Iterator[Any]:
    for count, item in enumerate(items, start=1):
        budget.sequence(count)
        yield item


def range_length(numbers: range) -> int:
    """len() of a range, without the OverflowError len() raises past sys.maxsize."""
    return max(0, -((numbers.start - numbers.stop) // numbers.step))


def _is_safe_value(value: Any, budget: Budget) -> bool:
    """Scalars, tensors on the cpu, torch objects from the allowlist, and containers of them,
    nested no deeper than the limit (torch walks nested sequences recursively in C++)."""
    stack = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        budget.sequence(seen, "a nested value")
        budget.nesting(depth, "a value given to torch")
        match kind_of(item).passing:
            case Passing.LEAF:
                pass
            case Passing.RANGE:
                # torch.tensor(range(10**12)) or math.fsum(range(10**12)) walk every number.
                budget.sequence(range_length(item), "a range")
            case Passing.TENSOR:
                if (
                    item.device.type != "cpu"
                    or item.layout != torch.strided
                    or item.dtype not in ALLOWED_DTYPES
                ):
                    return False
            case Passing.SEQUENCE:
                stack.extend((child, depth + 1) for child in item)
            case Passing.MAPPING:
                stack.extend((child, depth + 1) for child in item)
                stack.extend((child, depth + 1) for child in item.values())
            case Passing.REFUSED:
                return False
    return True
