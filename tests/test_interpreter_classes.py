"""What learners write with classes, checked against plain Python and PyTorch running the same
program: operator dunders (a micrograd-style engine), properties, class and static methods,
exception classes, *args/**kwargs, learning-rate schedulers, Module.apply, and modules whose
forward (or hooks) print exactly once."""

import re

import pytest

from app.contract.errors import ProgramError
from app.contract.schemas import GraphData, GraphRequest
from app.contract.settings import Limits
from app.worker.evaluate import evaluate
from tests.reference import run_reference

# A scalar autograd engine and a small MLP in the style of micrograd: operators and their
# reflections on a class, a set of children, closures stored as `_backward`, a topological
# sort by a nested recursive function, **kwargs, random.uniform. Its gradients are printed
# next to PyTorch's for the same expression.
SCALAR_ENGINE = """
import math
import random
import torch

class Scalar:
    def __init__(self, data, _children=(), _op=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, Scalar) else Scalar(other)
        out = Scalar(self.data + other.data, (self, other), '+')
        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Scalar) else Scalar(other)
        out = Scalar(self.data * other.data, (self, other), '*')
        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        assert isinstance(exponent, (int, float)), "int/float powers only"
        out = Scalar(self.data ** exponent, (self,), f'**{exponent}')
        def _backward():
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Scalar(t, (self,), 'tanh')
        def _backward():
            self.grad += (1 - t ** 2) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        order = []
        seen = set()
        def visit(node):
            if node not in seen:
                seen.add(node)
                for child in node._prev:
                    visit(child)
                order.append(node)
        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other ** -1

    def __rtruediv__(self, other):
        return other * self ** -1

    def __repr__(self):
        return f"Scalar(data={self.data:.6f}, grad={self.grad:.6f})"


class Module:
    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self):
        return []


class Neuron(Module):
    def __init__(self, nin, nonlin=True):
        self.w = [Scalar(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Scalar(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        return f"{'Tanh' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    def __init__(self, nin, nouts):
        sizes = [nin] + nouts
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))
        ]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


def expression(a, b):
    # The same arithmetic on Scalars and on tensors.
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).tanh()
    e = c - d
    f = e ** 2
    g = f / 2.0
    return g + 10.0 / f


a = Scalar(-4.0)
b = Scalar(2.0)
g = expression(a, b)
g.backward()
print("scalar", a, b, g)

at = torch.tensor(-4.0, dtype=torch.float64, requires_grad=True)
bt = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
gt = expression(at, bt)
gt.backward()
print("torch", f"{at.grad.item():.6f}", f"{bt.grad.item():.6f}", f"{gt.item():.6f}")

random.seed(1337)
model = MLP(3, [4, 4, 1])
print(model)
print(len(model.parameters()), "parameters")
xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
ys = [1.0, -1.0, -1.0, 1.0]
for step in range(4):
    predictions = [model(x) for x in xs]
    loss = sum((p - y) ** 2 for p, y in zip(predictions, ys))
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data += -0.05 * p.grad
    print(step, f"{loss.data:.10f}")
print([f"{p.data:.6f}" for p in model.parameters()[:4]])
"""

OPERATORS = """
import torch

class V:
    def __init__(self, x):
        self.x = x
    def __add__(self, o):
        return V(self.x + (o.x if isinstance(o, V) else o))
    def __radd__(self, o):
        return V(o + self.x)
    def __mul__(self, o):
        return V(self.x * (o.x if isinstance(o, V) else o))
    __rmul__ = __mul__
    def __iadd__(self, o):
        self.x = self.x + o
        return self
    def __eq__(self, o):
        return isinstance(o, V) and self.x == o.x
    def __hash__(self):
        return hash(self.x)
    def __lt__(self, o):
        return self.x < o.x
    def __repr__(self):
        return f"V({self.x})"
    def __len__(self):
        return 3
    def __getitem__(self, i):
        if i >= 3:
            raise IndexError("end")
        return self.x + i
    def __call__(self, y, scale=1):
        return self.x * y * scale
    def __contains__(self, y):
        return y == self.x
    def __neg__(self):
        return V(-self.x)
    def __abs__(self):
        return V(abs(self.x))
    def __pow__(self, p):
        return V(self.x ** p)
    def __truediv__(self, o):
        return V(self.x / o)
    def __sub__(self, o):
        return self + (-o)
    def __bool__(self):
        return self.x != 0
    def __float__(self):
        return float(self.x)

class Bag:
    def __init__(self, *items):
        self.items = list(items)
    def __iter__(self):
        return iter(self.items)
    def __len__(self):
        return len(self.items)

class Countdown:
    def __init__(self, n):
        self.n = n
    def __iter__(self):
        return self
    def __next__(self):
        if self.n == 0:
            raise StopIteration
        self.n -= 1
        return self.n

t = torch.tensor([1.0, 2.0])
a = V(2)
print(a + 1, 1 + a, a * 3, 3 * a, -a, abs(V(-3)), a ** 2, a / 4, a - 1)
print(t + a, a + t, t * a)
print(sorted([V(3), V(1), V(2)]), len(a), list(a), a(2, scale=3), 2 in a, 5 in a)
print({V(1), V(1), V(2)} == {V(1), V(2)}, V(1) == V(1), V(1) != V(2), V(1) in [V(0), V(1)])
print(sum([V(1), V(2)]), max([V(1), V(5), V(2)]), min(V(3), V(1)), float(V(4)))
print({V(1): "one"}[V(1)], [x for x in a], bool(V(0)), "yes" if V(3) else "no")
b = a
b += 5
print(a, b, a is b)
print(list(Bag(1, 2, 3)), len(Bag(4)), sum(Bag(1, 2)), 2 in Bag(1, 2), list(Countdown(3)))
it = iter([1, 2, 3])
print(next(it), next(it), list(it), next(it, "done"))
seen = set()
seen.add(a)
seen.update([V(7), V(7)])
print(a in seen, len(seen), sorted(seen), {1, 2}.union([3]), {1, 2, 3}.difference({2}))
d = {"w": 1}
print(d.keys(), d.values(), d.items(), "w" in d.keys(), len(d.items()))
try:
    print(t - object_free)
except NameError as error:
    print("NameError", error)
try:
    print(V(1) @ V(2))
except TypeError as error:
    print("TypeError", error)
try:
    print(len(V(1).x))
except TypeError as error:
    print("TypeError", error)

class Plain:
    def __repr__(self):
        return f"{type(self).__name__}()"

class Money:
    def __init__(self, cents):
        self.cents = cents
    def __format__(self, spec):
        return f"${self.cents / 100:{spec or '.2f'}}"
    def __str__(self):
        return f"{self}"

print(f"{Money(1234)} {Money(5):.3f}", str(Money(99)), "{:.1f}".format(Money(250)))

class A:
    def __add__(self, o):
        return "A.add"

class B(A):
    def __radd__(self, o):
        return "B.radd"  # a subclass's reflection comes first, as in Python

print(A() + B(), B() + A())
try:
    print(round(Plain()))
except TypeError as error:
    print("TypeError", error)

print(t == Plain(), Plain() == t, t != Plain(), Plain(), type(t).__name__, V.__name__)
try:
    print(t < Plain())
except TypeError as error:
    print("TypeError", error)
try:
    print(len({Bag(), Bag()}))
    print({V(1): 1, Plain(): 2}[V(1)])
except TypeError as error:
    print("TypeError", error)
"""

PROPERTIES = """
class Temperature:
    created = 0

    def __init__(self, celsius):
        self._celsius = celsius
        Temperature.created += 1

    @property
    def fahrenheit(self):
        return self._celsius * 9 / 5 + 32

    @fahrenheit.setter
    def fahrenheit(self, value):
        self._celsius = (value - 32) * 5 / 9

    @property
    def celsius(self):
        return self._celsius

    @staticmethod
    def unit():
        return "C"

    @classmethod
    def freezing(cls):
        return cls(0)

class Kelvin(Temperature):
    @classmethod
    def describe(cls):
        return f"{cls.unit()} via {cls.freezing().fahrenheit}"

t = Temperature.freezing()
print(t.fahrenheit, Temperature.unit(), t.unit(), Temperature.created)
t.fahrenheit = 212
print(t.celsius, t.fahrenheit, Kelvin.describe(), type(Kelvin.freezing()))
try:
    t.celsius = 5
except AttributeError as error:
    print("AttributeError", error)
"""

EXCEPTIONS = """
class MyError(Exception):
    pass

class BadInput(ValueError):
    def __init__(self, what, code):
        super().__init__(f"bad {what}")
        self.code = code

class Quiet(MyError):
    def __str__(self):
        return "quiet!"

def check(x):
    if x < 0:
        raise BadInput("sign", 7)
    if x == 0:
        raise MyError("zero", x)
    return x

for value in [1, -1, 0]:
    try:
        print("ok", check(value))
    except (BadInput, MyError) as e:
        print(type(e), e, e.args, repr(e), isinstance(e, ValueError), isinstance(e, Exception))
try:
    try:
        raise Quiet
    except MyError as e:
        print("caught", e, e.args)
        raise BadInput("again", 1)
except ValueError as e:
    print("outer", e, e.code)
try:
    raise MyError("a", "b")
except ValueError:
    print("not here")
except Exception as e:
    print("generic", str(e))
"""

ARGUMENTS = """
def f(*args, **kwargs):
    return args, kwargs

def g(a, *rest, key=3, **others):
    return a, rest, key, others

def h(a, b=2, *, c, d=4):
    return a + b + c + d

options = {"key": 5, "z": 1}
print(f(1, 2, x=3), g(1, 2, 3, **options), g(*[1, 2]), f(*(1,), **{}))
print(h(1, c=3), h(1, 2, c=3, d=0), (lambda *xs, **kw: (xs, kw))(1, a=2))
print("{a} and {b:.2f}".format_map({"a": 1, "b": 2.5}))
"""

TORCH_EXTRAS = """
import torch
from torch import nn
from torch.optim.lr_scheduler import StepLR, LambdaLR, ExponentialLR, CosineAnnealingLR
from torch.optim.lr_scheduler import OneCycleLR
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))

def init(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)

print(model.apply(init) is model, model[0].bias)
makers = [
    lambda o: StepLR(o, step_size=2, gamma=0.5),
    lambda o: LambdaLR(o, lambda epoch: 0.9 ** epoch),
    lambda o: LambdaLR(o, lr_lambda=[lambda epoch: 1 / (epoch + 1)]),
    lambda o: ExponentialLR(o, 0.8),
    lambda o: CosineAnnealingLR(o, T_max=5),
    lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10),
]
x = torch.randn(8, 3)
for make in makers:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = make(optimizer)
    rates = []
    for step in range(4):
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()
        scheduler.step()
        rates.append(round(scheduler.get_last_lr()[0], 8))
    print(type(scheduler), rates, scheduler.last_epoch)

class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.n = n
        self.fc = nn.Linear(n, n)

    def extra_repr(self):
        return f"n={self.n}"

    def forward(self, x):
        return self.fc(x)

print(Block(2))
print(model.state_dict().keys())
print(list(model.state_dict().keys()), "0.weight" in model.state_dict().keys())
"""

# A module of the program inside nn.Sequential with layers torch sizes on meta tensors,
# and hooks on such a layer: each forward and each hook prints once, as in PyTorch.
ONCE = """
import torch
from torch import nn
torch.manual_seed(0)

class Show(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        print("forward", x.shape)
        return self.conv(x)

conv = nn.Conv2d(1, 1, 3)

def look(module, inputs, output):
    print("hook", output.shape)

def before(module, inputs):
    print("pre-hook", inputs[0].shape)

conv.register_forward_hook(look)
conv.register_forward_pre_hook(before)
x = torch.randn(1, 1, 6, 6)
y = conv(x)
z = conv.forward(x)
stack = nn.Sequential(Show(), nn.Flatten(), nn.BatchNorm1d(32))
out = stack(torch.randn(2, 1, 6, 6))
print(out.shape)
nested = nn.Sequential(nn.Sequential(Show(), nn.ReLU()), nn.Flatten())
print(nested(x).shape, nested.forward(x).shape)
print(nn.Sequential(nn.Conv2d(1, 1, 3), conv, nn.Flatten())(x).shape)
loss = out.sum() + y.sum()
loss.backward()
"""

PROGRAMS = {
    "scalar_engine": SCALAR_ENGINE,
    "operators": OPERATORS,
    "properties": PROPERTIES,
    "exceptions": EXCEPTIONS,
    "arguments": ARGUMENTS,
    "torch_extras": TORCH_EXTRAS,
    "once": ONCE,
}


def run(code: str) -> GraphData:
    return evaluate(GraphRequest(code=code), Limits())


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_output_is_plain_pythons(name: str) -> None:
    code = PROGRAMS[name]
    assert run(code).stdout == run_reference(code).stdout


def test_scalar_engine_gradients_are_pytorchs() -> None:
    """The engine's gradients, as the sandbox ran it, against torch.autograd's."""
    lines = run(SCALAR_ENGINE).stdout.splitlines()
    engine = next(line for line in lines if line.startswith("scalar"))
    grads = [float(g) for g in re.findall(r"grad=(-?[\d.]+)", engine)]
    torch_line = next(line for line in lines if line.startswith("torch")).split()
    assert grads[:2] == pytest.approx([float(torch_line[1]), float(torch_line[2])], abs=1e-6)
    losses = [float(line.split()[1]) for line in lines if re.match(r"\d \d", line)]
    assert len(losses) == 4
    assert losses[-1] < losses[0]  # the training step learns


def test_each_forward_and_hook_prints_once() -> None:
    stdout = run(ONCE).stdout
    # conv(x) and conv inside the last Sequential; conv.forward(x) runs no hooks, as in PyTorch
    assert stdout.count("pre-hook") == 2
    assert stdout.count("\nhook torch.Size") == 2
    assert stdout.count("forward") == 3


@pytest.mark.parametrize(
    ("code", "position", "words"),
    [
        ("class A:\n    def __getattr__(self, name):\n        return 1", (2, 5), "__getattr__"),
        ("class A:\n    pass\nb = A().__dict__", (3, 5), "'__dict__'"),
        ("class A:\n    def f(self):\n        pass\n    __del__ = f", (4, 5), "'__del__'"),
        ("class A:\n    @print\n    def f(self):\n        pass", (2, 6), "@property"),
        (
            "import torch\nclass N(torch.nn.Module):\n    def __add__(self, other):\n"
            "        return other",
            (3, 5),
            "torch calls its own",
        ),
        ("class A:\n    pass\nx = len(A())", (3, 5), "has no len()"),
        ("class A:\n    pass\nx = A()[0]", (3, 5), "not subscriptable"),
        ("class A:\n    pass\nx = A()(1)", (3, 5), "not callable"),
        ("class A:\n    pass\nfor x in A():\n    pass", (3, 1), "not iterable"),
    ],
)
def test_what_stays_refused_says_what_and_where(
    code: str, position: tuple[int, int], words: str
) -> None:
    with pytest.raises(ProgramError) as caught:
        run(code)
    assert (caught.value.line, caught.value.column) == position
    assert words in caught.value.detail
