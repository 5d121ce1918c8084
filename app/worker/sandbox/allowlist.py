"""What a program may reach: namespaces resolved through tables, never `getattr` on a module.

Each table lists names; the real objects are looked up once, here, by our code. A program can
only ever hold what these tables hand out (and what those objects return, which the guard
checks). Anything missing is refused with its name, so adding a function is one line.
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn, optim

from app.contract.errors import refused
from app.worker.sandbox.classes import BaseClass, TypeProxy
from app.worker.sandbox.tensors import clip_grad_norm_, clip_grad_value_


@dataclass(frozen=True, repr=False)
class SafeFunction:
    """A real callable that user code may call, with its arguments checked by the guard.

    `dry_run` says whether the call is first made on meta tensors to learn output sizes
    before any memory is used; functions that only read or mutate in place do not need it.
    """

    qualname: str
    target: Callable[..., Any]
    dry_run: bool = True

    def __repr__(self) -> str:
        """As Python shows the class or function, never this stand-in."""
        if isinstance(self.target, type):
            return f"<class '{self.target.__module__}.{self.target.__qualname__}'>"
        return f"<function {self.qualname}>"


@dataclass(frozen=True)
class Namespace:
    """A module as user code sees it: a fixed table of names."""

    qualname: str
    members: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<module '{self.qualname}'>"


@dataclass(frozen=True)
class Defined:
    """A namespace the interpreter makes for each program, by running sandbox Python of ours
    (torch.utils.data: app/worker/sandbox/prelude_data.py), in place of torch's."""

    qualname: str


def _functions(
    module: Any, prefix: str, names: Iterable[str], dry_run: bool = True
) -> dict[str, SafeFunction]:
    return {
        name: SafeFunction(f"{prefix}.{name}", getattr(module, name), dry_run) for name in names
    }


DTYPES: dict[str, torch.dtype] = {
    name: getattr(torch, name)
    for name in tuple(
        """
    float16 half bfloat16 float32 float float64 double int8 int16 int32 int int64 long uint8
    bool complex64 cfloat complex128
""".split()
    )
}

# Pure functions of their arguments: maths, reductions, shape changes, creation.
TORCH_FUNCTIONS = tuple(
    """
    tensor as_tensor zeros ones full zeros_like ones_like full_like rand randn randint
    rand_like randn_like randint_like randperm arange linspace logspace eye sin cos tan asin
    acos atan atan2 sinh cosh tanh asinh acosh atanh exp exp2 expm1 log log2 log10 log1p
    sqrt rsqrt abs neg sign sigmoid relu clamp clip floor ceil round trunc frac pow square
    reciprocal erf lerp sum mean prod std var std_mean var_mean max min amax amin argmax
    argmin norm dist cumsum cumprod logsumexp softmax log_softmax matmul mm bmm mv dot outer
    inner einsum tensordot addmm cat concat stack hstack vstack split chunk unbind where
    gather index_select masked_select transpose t permute reshape flatten squeeze unsqueeze
    diag diagonal trace tril triu maximum minimum add sub subtract mul multiply div divide
    true_divide remainder fmod allclose isclose equal eq ne lt le gt ge all any isnan isinf
    isfinite nan_to_num numel sort argsort topk flip roll clone detach broadcast_to meshgrid
    cross kron cdist count_nonzero nonzero unique bincount histc is_tensor is_floating_point
    heaviside inverse det logdet slogdet cummax cummin logcumsumexp multinomial normal
    clamp_min clamp_max repeat_interleave
""".split()
)

# torch.linalg functions that autograd differentiates (eig and friends give complex results).
LINALG_FUNCTIONS = tuple(
    """
    norm vector_norm matrix_norm inv solve det slogdet svd svdvals eigh eigvalsh qr cholesky
    pinv matrix_power matrix_rank lstsq vecdot cross multi_dot
""".split()
)

# Functions that touch global state the worker resets between jobs, or that only read it.
TORCH_STATE_FUNCTIONS = tuple(
    """
    is_grad_enabled no_grad enable_grad set_grad_enabled inference_mode
""".split()
)


def generator(device: Any = "cpu") -> torch.Generator:
    """torch.Generator(): a new CPU generator of the program's own (the guard refuses other
    devices); seeding or drawing from it leaves every other generator as it was."""
    return torch.Generator(device="cpu")


# What a program may do with a generator it made: seed it, read the seed, pass it on.
GENERATOR_METHODS = frozenset({"manual_seed", "initial_seed"})


# torch.Tensor(data) and the typed constructors: data only, as torch.tensor(data, dtype=...).
TYPED_TENSORS: dict[str, torch.dtype] = {
    "Tensor": torch.float32,
    "FloatTensor": torch.float32,
    "DoubleTensor": torch.float64,
    "HalfTensor": torch.float16,
    "LongTensor": torch.int64,
    "IntTensor": torch.int32,
    "ShortTensor": torch.int16,
    "ByteTensor": torch.uint8,
    "BoolTensor": torch.bool,
}
# x.type('torch.DoubleTensor') names a CPU type by its constructor's name.
TENSOR_TYPE_NAMES = {f"torch.{name}": dtype for name, dtype in TYPED_TENSORS.items()}


def typed_tensor(name: str) -> Callable[..., torch.Tensor]:
    dtype = TYPED_TENSORS[name]

    def construct(*data: Any) -> torch.Tensor:
        if not data:
            return torch.zeros(0, dtype=dtype)
        if len(data) == 1 and isinstance(data[0], list | tuple | torch.Tensor):
            if isinstance(data[0], torch.Tensor):
                return data[0].to(dtype)
            if not isinstance(data[0], torch.Size):
                return torch.tensor(data[0], dtype=dtype)
        raise refused(
            f"torch.{name}(sizes) gives uninitialised memory; use torch.zeros(...) for a "
            f"tensor of a size, or torch.{name}([...]) / torch.tensor([...]) for data"
        )

    return construct


def manual_seed(seed: int) -> torch.Generator:
    """torch.manual_seed for a process without accelerators: the same CPU generator, seeded
    the same way, without queueing lazy CUDA/XPU/MTIA seeding, which formats a stack trace
    each time, a sizeable share of evaluating a small model."""
    return torch.default_generator.manual_seed(int(seed))


TORCH_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}


def is_cpu(value: Any) -> bool:
    """'cpu', 'cpu:0' or torch.device('cpu'): the one device there is here."""
    if isinstance(value, torch.device):
        return value.type == "cpu"
    return isinstance(value, str) and value in {"cpu", "cpu:0"}


def cpu_device(type: Any = "cpu", index: Any = None) -> torch.device:
    """torch.device(...) of the cpu; any other is refused as the learner's code asks for it
    (`torch.device("cuda" if torch.cuda.is_available() else "cpu")` asks for the cpu)."""
    if not is_cpu(type) or index not in (None, 0):
        raise refused(f"torch.device({type!r}): only the cpu is available here")
    return torch.device("cpu")


def _no_accelerator(*args: Any, **kwargs: Any) -> bool:
    return False


def _no_devices(*args: Any, **kwargs: Any) -> int:
    return 0


def _nothing_to_seed(seed: Any = None) -> None:
    """torch.cuda.manual_seed(_all): there is no other device's generator to seed."""


def _accelerators() -> dict[str, Any]:
    """What a program asks before choosing a device: no accelerator, the cpu only."""
    cuda = Namespace(
        "torch.cuda",
        {
            "is_available": SafeFunction("torch.cuda.is_available", _no_accelerator, False),
            "device_count": SafeFunction("torch.cuda.device_count", _no_devices, False),
            "manual_seed": SafeFunction("torch.cuda.manual_seed", _nothing_to_seed, False),
            "manual_seed_all": SafeFunction("torch.cuda.manual_seed_all", _nothing_to_seed, False),
        },
    )
    mps = Namespace(
        "torch.backends.mps",
        {"is_available": SafeFunction("torch.backends.mps.is_available", _no_accelerator, False)},
    )
    accelerator = Namespace(
        "torch.accelerator",
        {"is_available": SafeFunction("torch.accelerator.is_available", _no_accelerator, False)},
    )
    return {
        "device": SafeFunction("torch.device", cpu_device, dry_run=False),
        "cuda": cuda,
        "backends": Namespace("torch.backends", {"mps": mps}),
        "accelerator": accelerator,
    }


NN_MODULES = tuple(
    """
    Linear Bilinear Sequential ModuleList Identity Flatten Unflatten ReLU Sigmoid Tanh
    Softmax LogSoftmax GELU LeakyReLU ELU SiLU Softplus ReLU6 Hardtanh Dropout MSELoss
    L1Loss BCELoss BCEWithLogitsLoss CrossEntropyLoss NLLLoss HuberLoss SmoothL1Loss
    KLDivLoss Embedding LayerNorm BatchNorm1d RNN RNNCell GRU GRUCell LSTM LSTMCell
    Parameter Conv1d Conv2d ConvTranspose1d ConvTranspose2d MaxPool1d MaxPool2d AvgPool1d
    AvgPool2d AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveMaxPool1d AdaptiveMaxPool2d
    BatchNorm2d GroupNorm Dropout1d Dropout2d MultiheadAttention TransformerEncoderLayer
    TransformerEncoder TransformerDecoderLayer
""".split()
)

NN_INIT = tuple(
    """
    zeros_ ones_ constant_ normal_ uniform_ xavier_uniform_ xavier_normal_ kaiming_uniform_
    kaiming_normal_ eye_ trunc_normal_ orthogonal_ calculate_gain
""".split()
)

F_FUNCTIONS = tuple(
    """
    relu relu6 sigmoid tanh softmax log_softmax gelu leaky_relu elu silu softplus hardtanh
    mse_loss l1_loss binary_cross_entropy binary_cross_entropy_with_logits cross_entropy
    nll_loss smooth_l1_loss huber_loss kl_div linear one_hot dropout normalize pad embedding
    layer_norm cosine_similarity logsigmoid softmin conv1d conv2d conv_transpose1d
    conv_transpose2d max_pool1d max_pool2d avg_pool1d avg_pool2d adaptive_avg_pool1d
    adaptive_avg_pool2d adaptive_max_pool1d adaptive_max_pool2d batch_norm group_norm
    dropout1d dropout2d interpolate scaled_dot_product_attention
""".split()
)

OPTIMIZERS = tuple(
    """
    SGD Adam AdamW RMSprop Adagrad
""".split()
)

# Learning-rate schedulers. LambdaLR and MultiplicativeLR call a function of the program at
# each step: the interpreter hands them a wrapper that runs it (see Interpreter.call).
LR_SCHEDULERS = tuple(
    """
    StepLR MultiStepLR ExponentialLR CosineAnnealingLR LinearLR ConstantLR OneCycleLR
    LambdaLR MultiplicativeLR
""".split()
)
# The schedulers above whose `lr_lambda` is a function (or a list of them, one per group).
LAMBDA_SCHEDULERS = frozenset({"LambdaLR", "MultiplicativeLR"})
SCHEDULER_ATTRIBUTES = frozenset({"last_epoch", "base_lrs"})
SCHEDULER_METHODS = frozenset({"step", "get_last_lr"})

# Methods a tensor exposes; the guard checks their arguments like any torch function. Of
# torch's functions, those a tensor has as methods (torch.cdist, not x.cdist).
TENSOR_METHODS = frozenset(
    (set(TORCH_FUNCTIONS) & set(dir(torch.Tensor)))
    - set(
        """
    tensor as_tensor zeros ones full rand randn randint randperm arange linspace logspace
    eye meshgrid cat concat stack hstack vstack zeros_like ones_like full_like rand_like
    randn_like randint_like is_tensor einsum broadcast_to
""".split()
    )
    | set(
        """
    view view_as reshape_as expand expand_as repeat contiguous float double half long int
    bool to type_as new_zeros new_ones new_full new_tensor masked_fill add_ sub_ mul_ div_
    pow_ clamp_ copy_ fill_ zero_ normal_ uniform_ masked_fill_ abs_
    neg_ exp_ log_ sigmoid_ tanh_ relu_ sqrt_ requires_grad_ retain_grad detach_ item tolist
    size dim ndimension nelement element_size is_contiguous stride unfold sum_to_size
    backward square_ index_fill scatter scatter_add narrow split chunk unbind masked_select
    type cpu
""".split()
    )
)

# Tensor methods that allocate nothing new or only read: no meta dry run is needed.
TENSOR_METHODS_WITHOUT_DRY_RUN = frozenset(
    set(
        """
    item tolist size dim ndimension nelement numel element_size is_contiguous stride
    backward retain_grad requires_grad_ detach detach_ zero_ fill_ normal_ uniform_
    is_floating_point equal allclose cpu
""".split()
    )
)

TENSOR_ATTRIBUTES = frozenset(
    set(
        """
    grad data shape T mT dtype requires_grad is_leaf grad_fn ndim device real imag
    retains_grad itemsize
""".split()
    )
)
TENSOR_SETTABLE = frozenset({"data", "grad", "requires_grad"})

# Attributes of module and optimizer objects a program may read (parameters and submodules
# are also readable by name).
MODULE_ATTRIBUTES = frozenset(
    set(
        """
    in_features out_features training hidden_size input_size num_layers num_embeddings
    embedding_dim normalized_shape eps negative_slope p dim reduction in_channels
    out_channels kernel_size stride padding dilation groups num_features momentum affine
    track_running_stats num_groups num_channels output_size embed_dim num_heads batch_first
    bidirectional proj_size nonlinearity padding_idx max_norm elementwise_affine ceil_mode
    return_indices inplace approximate head_dim kdim vdim padding_mode output_padding
    transposed scale_factor mode align_corners start_dim end_dim unflattened_size
    label_smoothing ignore_index beta delta margin log_target
""".split()
    )
)
MODULE_METHODS = frozenset(
    set(
        """
    parameters named_parameters children named_children modules named_modules buffers
    named_buffers zero_grad train eval requires_grad_ state_dict float double forward append
    to cpu
""".split()
    )
)
# Methods a module of the program has for registering tensors and modules under a name.
MODULE_REGISTRATION = frozenset(
    {"register_buffer", "register_parameter", "add_module", "register_module"}
)
OPTIMIZER_ATTRIBUTES = frozenset({"param_groups", "defaults"})
OPTIMIZER_METHODS = frozenset({"step", "zero_grad"})
NODE_ATTRIBUTES = frozenset({"next_functions", "name", "variable"})

MATH_FUNCTIONS = tuple(
    """
    sin cos tan asin acos atan atan2 sinh cosh tanh exp log log2 log10 log1p expm1 sqrt fabs
    floor ceil trunc isclose isfinite isinf isnan hypot degrees radians erf copysign fsum
    gcd comb perm factorial prod
""".split()
)
TYPING_NAMES = tuple(
    """
    Any Callable Dict FrozenSet Iterable Iterator List Literal Mapping Optional Sequence Set
    Tuple Type Union
""".split()
)
MATH_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf, "nan": math.nan}


AUTOGRAD_FUNCTIONAL = ("jacobian", "hessian", "vjp", "jvp", "vhp", "hvp")


def _build_namespaces() -> dict[str, Namespace]:
    functional = Namespace("torch.nn.functional", _functions(F, "torch.nn.functional", F_FUNCTIONS))
    init = Namespace("torch.nn.init", _functions(nn.init, "torch.nn.init", NN_INIT, False))
    rnn_module = torch.nn.utils.rnn
    rnn = Namespace(
        "torch.nn.utils.rnn",
        {
            **_functions(rnn_module, "torch.nn.utils.rnn", ("pad_sequence",)),
            # Their outputs are no larger than their inputs (pad_packed_sequence's
            # total_length is estimated in value_sizes); lengths are checked by the guard.
            **_functions(
                rnn_module,
                "torch.nn.utils.rnn",
                ("pack_padded_sequence", "pad_packed_sequence", "pack_sequence"),
                dry_run=False,
            ),
        },
    )
    utils = Namespace(
        "torch.nn.utils",
        {
            "rnn": rnn,
            "clip_grad_norm_": SafeFunction(
                "torch.nn.utils.clip_grad_norm_", clip_grad_norm_, dry_run=False
            ),
            "clip_grad_value_": SafeFunction(
                "torch.nn.utils.clip_grad_value_", clip_grad_value_, dry_run=False
            ),
        },
    )
    nn_ns = Namespace(
        "torch.nn",
        {
            **_functions(nn, "torch.nn", NN_MODULES, dry_run=False),
            # Containers and the base of a program's own modules (class Net(nn.Module)).
            **_functions(nn, "torch.nn", ("ModuleDict",), dry_run=False),
            "Module": BaseClass("torch.nn.Module", "module"),
            "functional": functional,
            "init": init,
            "utils": utils,
        },
    )
    scheduler = Namespace(
        "torch.optim.lr_scheduler",
        _functions(optim.lr_scheduler, "torch.optim.lr_scheduler", LR_SCHEDULERS, False),
    )
    optim_ns = Namespace(
        "torch.optim",
        {**_functions(optim, "torch.optim", OPTIMIZERS, False), "lr_scheduler": scheduler},
    )
    autograd_functional = Namespace(
        "torch.autograd.functional",
        _functions(
            torch.autograd.functional,
            "torch.autograd.functional",
            AUTOGRAD_FUNCTIONAL,
            dry_run=False,
        ),
    )
    autograd = Namespace(
        "torch.autograd",
        {
            **_functions(torch.autograd, "torch.autograd", ("grad", "backward"), dry_run=False),
            "Function": BaseClass("torch.autograd.Function", "function"),
            # Functions of a program's function: the interpreter calls them (see
            # Interpreter.functional_call), torch calls back a wrapper of ours.
            "functional": autograd_functional,
        },
    )
    linalg = Namespace("torch.linalg", _functions(torch.linalg, "torch.linalg", LINALG_FUNCTIONS))
    torch_utils = Namespace("torch.utils", {"data": Defined("torch.utils.data")})
    torch_ns = Namespace(
        "torch",
        {
            "Generator": SafeFunction("torch.Generator", generator, dry_run=False),
            **{name: SafeFunction(f"torch.{name}", typed_tensor(name)) for name in TYPED_TENSORS},
            "linalg": linalg,
            **_functions(torch, "torch", TORCH_FUNCTIONS),
            **_functions(torch, "torch", TORCH_STATE_FUNCTIONS, dry_run=False),
            "manual_seed": SafeFunction("torch.manual_seed", manual_seed, dry_run=False),
            # For isinstance(x, torch.Tensor) and type(x) == torch.Tensor: not the real type;
            # called, it takes data, as the typed constructors do.
            "Tensor": TypeProxy(
                "torch.Tensor", SafeFunction("torch.Tensor", typed_tensor("Tensor"))
            ),
            **DTYPES,
            **TORCH_CONSTANTS,
            "nn": nn_ns,
            "optim": optim_ns,
            "autograd": autograd,
            "utils": torch_utils,
            **_accelerators(),
        },
    )
    math_ns = Namespace(
        "math", {**_functions(math, "math", MATH_FUNCTIONS, dry_run=False), **MATH_CONSTANTS}
    )
    # For annotations, which are never evaluated: the names only, printable.
    typing_ns = Namespace("typing", {name: TypeProxy(f"typing.{name}") for name in TYPING_NAMES})
    return {
        "torch": torch_ns,
        "torch.nn": nn_ns,
        "torch.nn.functional": functional,
        "torch.optim": optim_ns,
        "torch.optim.lr_scheduler": scheduler,
        "torch.nn.init": init,
        "torch.nn.utils": utils,
        "torch.nn.utils.rnn": rnn,
        "torch.linalg": linalg,
        "torch.autograd": autograd,
        "torch.autograd.functional": autograd_functional,
        "math": math_ns,
        "typing": typing_ns,
        "torch.utils": torch_utils,
    }


NAMESPACES: dict[str, Namespace] = _build_namespaces()


def _classes(namespaces: Iterable[Namespace]) -> dict[type, SafeFunction]:
    """Each class the namespaces hold (nn.Linear, optim.SGD...), by its real class: what
    type(x) gives for one of its objects, so that `type(m) == nn.Linear` holds as in Python."""
    found: dict[type, SafeFunction] = {}
    for namespace in namespaces:
        for member in namespace.members.values():
            if isinstance(member, SafeFunction) and isinstance(member.target, type):
                found.setdefault(member.target, member)
    return found


CLASSES: dict[type, SafeFunction] = _classes(NAMESPACES.values())

# Names that people try, with the reason they are refused (the rest: "not available").
REFUSED_NAMES: dict[str, str] = {}
REFUSED_TORCH_NAMES: dict[str, str] = {
    "empty": "it returns uninitialised memory; use torch.zeros",
    "empty_like": "it returns uninitialised memory; use torch.zeros_like",
    "empty_strided": "it returns uninitialised memory",
    "as_strided": "it can read memory outside the tensor",
    "from_file": "it reads and writes files",
    "load": "it unpickles files",
    "save": "it writes files",
    "set_default_dtype": "it changes state other programs would see",
    "set_default_device": "it changes state other programs would see",
    "set_num_threads": "it changes state other programs would see",
    "set_printoptions": "it changes state other programs would see",
    "default_generator": "it is shared by every program; make your own with torch.Generator()",
    "get_rng_state": "the generator's state is not available; seed it with torch.manual_seed",
    "set_rng_state": "the generator's state is not available; seed it with torch.manual_seed",
    "seed": "it seeds from the clock; use torch.manual_seed(number)",
    "from_numpy": "NumPy is not available here; make tensors with torch.tensor([...])",
}
# Tensor methods people try, with what to use instead.
REFUSED_TENSOR_METHODS: dict[str, str] = {
    "numpy": (
        "NumPy is not available here; use .tolist() for Python numbers, or keep working "
        "with torch functions"
    ),
    "cuda": "only the cpu is available here",
}
REFUSED_NAMES.update({f"torch.{name}": reason for name, reason in REFUSED_TORCH_NAMES.items()})
