"""Programs whose every number is checked against plain PyTorch (see test_gradients)."""

from tests.examples import EXAMPLES
from tests.seed_cells import (
    ACCUMULATION_LESSON,
    CHAIN_RULE_LESSON,
    CLASSIFIER_AUTOGRAD_LESSON,
    CLASSIFIER_MANUAL_LESSON,
    WHOLE_NOTEBOOK,
)

PROGRAMS: dict[str, str] = {
    "seed_chain_rule": CHAIN_RULE_LESSON,
    "seed_classifier_manual": CLASSIFIER_MANUAL_LESSON,
    "seed_classifier_autograd": CLASSIFIER_AUTOGRAD_LESSON,
    "seed_accumulation": ACCUMULATION_LESSON,
    "seed_whole_notebook": WHOLE_NOTEBOOK,
    "accumulate_twice": """
import torch
x = torch.tensor(2.0, requires_grad=True)
y = x ** 2
y.backward()
print(x.grad)
y = x ** 2
y.backward()
print(x.grad)
""",
    "no_backward_called": """
import torch
a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
b = (a * a).sum()
""",
    "non_scalar_root": """
import torch
a = torch.tensor([1.0, -2.0], requires_grad=True)
b = torch.exp(a) * 3
""",
    "mlp_sequential": """
import torch
from torch import nn
import torch.nn.functional as F
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
x = torch.randn(5, 4)
target = torch.tensor([0, 2, 1, 1, 0])
logits = model(x)
loss = F.cross_entropy(logits, target)
loss.backward()
""",
    "softmax_cross_entropy_by_hand": """
import torch
logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], requires_grad=True)
labels = torch.tensor([0, 1])
probs = torch.softmax(logits, dim=1)
picked = probs[torch.arange(2), labels]
loss = -torch.log(picked).mean()
loss.backward()
""",
    "rnn_loop": """
import torch
torch.manual_seed(1)
W = torch.randn(3, 3, requires_grad=True)
U = torch.randn(3, 2, requires_grad=True)
h = torch.zeros(3)
xs = [torch.randn(2) for _ in range(4)]
for x_t in xs:
    h = torch.tanh(W @ h + U @ x_t)
loss = h.pow(2).sum()
loss.backward()
""",
    "training_loop_sgd": """
import torch
from torch import nn
torch.manual_seed(0)
model = nn.Linear(2, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.MSELoss()
x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
y = torch.tensor([[1.0], [2.0]])
for step in range(3):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
final = loss_fn(model(x), y)
""",
    "adam_bce": """
import torch
import torch.nn as nn
torch.manual_seed(3)
net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
opt = torch.optim.Adam(net.parameters(), lr=0.01)
inputs = torch.rand(6, 3)
labels = torch.tensor([[0.0], [1.0], [1.0], [0.0], [1.0], [0.0]])
out = net(inputs)
loss = nn.BCELoss()(out, labels)
opt.zero_grad()
loss.backward()
opt.step()
""",
    "manual_sgd_no_grad": """
import torch
w = torch.tensor([0.5, -0.3], requires_grad=True)
b = torch.tensor(0.1, requires_grad=True)
x = torch.tensor([[1.0, 2.0], [2.0, 1.0], [0.0, 1.0]])
y = torch.tensor([1.0, 0.0, 1.0])
lr = 0.1
for epoch in range(5):
    pred = x @ w + b
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
    w.grad.zero_()
    b.grad.zero_()
pred = x @ w + b
loss = ((pred - y) ** 2).mean()
loss.backward()
""",
    "detach_and_retain_grad": """
import torch
a = torch.tensor([1.0, 2.0], requires_grad=True)
h = a * 3
h.retain_grad()
c = h.detach() * 2
d = (h * c).sum()
d.backward()
""",
    "higher_order_grad": """
import torch
x = torch.tensor(2.0, requires_grad=True)
y = x ** 3
(dy,) = torch.autograd.grad(y, x, create_graph=True)
dy.backward()
""",
    "tuple_unpack_slices_and_fstrings": """
import torch
t = torch.linspace(-1, 1, 6, requires_grad=True)
first, second = t[:3], t[3:]
total = (first * second).sum() + t[::2].relu().sum()
total.backward()
print(f"total = {total.item():.3f}, shape {tuple(t.shape)}")
""",
    "functional_losses": """
import torch
import torch.nn.functional as F
pred = torch.tensor([0.2, 0.8, 0.6], requires_grad=True)
target = torch.tensor([0.0, 1.0, 1.0])
loss = F.mse_loss(pred, target) + F.binary_cross_entropy(pred, target) + F.l1_loss(pred, target)
loss.backward()
""",
    "cat_stack_where_clamp": """
import torch
a = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
b = torch.tensor([0.5, 0.5, -0.5], requires_grad=True)
s = torch.stack([a, b]).sum(0)
c = torch.cat([a, b, s])
m = torch.where(c > 0, c, torch.zeros_like(c)).clamp(max=2.0)
out = m.sum() + torch.sigmoid(a).mean() * torch.tanh(b).sum()
out.backward()
""",
    "no_grad_constant": """
import torch
a = torch.tensor([1.0, 2.0], requires_grad=True)
with torch.no_grad():
    k = a * 2
out = (a * k).sum()
out.backward()
""",
    "requires_grad_switched_off": """
import torch
a = torch.tensor(3.0, requires_grad=True)
b = torch.tensor(2.0, requires_grad=True)
b.requires_grad_(False)
out = a * b + a ** 2
out.backward()
""",
    "shared_weight_two_paths": """
import torch
w = torch.tensor(1.5, requires_grad=True)
u = w * 2
v = w ** 2
r = u * v + torch.exp(w)
r.backward()
""",
    "python_subset": """
import math
import torch
import torch.nn as nn
from torch import optim

config = {"lr": 0.05, "steps": 3, "name": "demo"}
sizes = [n * 2 for n in range(1, 4) if n != 2]
total, count = 0, 0
while count < 3:
    total += count ** 2
    count += 1
label = config["name"].upper() + "-" + str(total)
pairs = {k: v for k, v in zip(["a", "b"], sizes)}


def scale(t, factor=2.0):
    def inner(u):
        return u * factor

    return inner(t) if factor > 1 else t


w = torch.arange(6, dtype=torch.float32).view(2, 3).clone().requires_grad_(True)
v = torch.ones(3, 2) * 0.5
h = scale(w @ v).T.reshape(-1)
s = h.sum() + w.data.mean().item() * 0 + abs(-1.5) + round(math.pi, 2)
ok = 0 < s.item() < 1000 and "demo" in config.values()
s.backward()
first, *rest = [p.item() for p in h]
with torch.no_grad():
    w -= config["lr"] * w.grad
print(f"{label} {sizes} {pairs} {first:.2f} {len(rest)} {ok} {w.shape} {tuple(h.shape)}")
print(min(sizes), max(3, 7), sum([1.5, 2.5]), sorted([3, 1, 2]), list(enumerate("ab")))
""",
    # Updates through .data write the tensor without bumping its version counter.
    "data_update_loop": """
import torch
W = torch.tensor([1.0, 2.0], requires_grad=True)
for k in range(3):
    loss = (W**2).sum()
    W.grad = None
    loss.backward()
    W.data += -0.1 * W.grad
""",
    "data_sub_and_grad_data_zero": """
import torch
torch.manual_seed(4)
W = torch.randn(3, 2, requires_grad=True)
b = torch.zeros(2, requires_grad=True)
x = torch.randn(5, 3)
for step in range(3):
    loss = ((x @ W + b) ** 2).mean()
    loss.backward()
    W.data.sub_(0.05 * W.grad)
    b.data.sub_(0.05 * b.grad)
    W.grad.data.zero_()
    b.grad.data.zero_()
""",
    "parameters_in_a_list_makemore_style": """
import torch
g = torch.manual_seed(2147483647)
C = torch.randn((7, 2))
W1 = torch.randn((6, 8))
b1 = torch.randn(8)
W2 = torch.randn((8, 7))
b2 = torch.randn(7)
parameters = [C, W1, b1, W2, b2]
for p in parameters:
    p.requires_grad = True
X = torch.tensor([[0, 5, 3], [5, 3, 3], [3, 3, 1]])
Y = torch.tensor([5, 3, 1])
for i in range(4):
    emb = C[X]
    h = torch.tanh(emb.view(-1, 6) @ W1 + b1)
    logits = h @ W2 + b2
    loss = torch.nn.functional.cross_entropy(logits, Y)
    for p in parameters:
        p.grad = None
    loss.backward()
    for p in parameters:
        p.data += -0.1 * p.grad
print(loss.item())
""",
    "data_zero_after_backward": """
import torch
w = torch.tensor([0.5, -1.5, 2.0], requires_grad=True)
out = (w * w).sum()
out.backward()
w.data.zero_()
w.grad.data.zero_()
""",
    # Every optimizer runs its single-tensor path here; the numbers are PyTorch's defaults'.
    "each_optimizer_steps_like_pytorch": """
import torch
torch.manual_seed(1)
x = torch.randn(4, 3)
for kind in range(5):
    w = torch.randn(3, requires_grad=True)
    if kind == 0:
        o = torch.optim.SGD([w], lr=0.1, momentum=0.9, nesterov=True)
    elif kind == 1:
        o = torch.optim.Adam([w], lr=0.1, amsgrad=True)
    elif kind == 2:
        o = torch.optim.AdamW([w], lr=0.1, fused=False)
    elif kind == 3:
        o = torch.optim.RMSprop([w], lr=0.1, momentum=0.5, centered=True)
    else:
        o = torch.optim.Adagrad([w], lr=0.1, foreach=False)
    for step in range(3):
        o.zero_grad()
        loss = ((x @ w) ** 2).mean()
        loss.backward()
        o.step()
    print(kind, w.tolist())
""",
    # A gradient set to an expand view is stored dense; the step's numbers are unchanged.
    "grad_set_to_an_expand_view": """
import torch
p = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
o = torch.optim.SGD([p], lr=0.5, momentum=0.9)
for step in range(2):
    p.grad = torch.ones(1).expand(3)
    o.step()
p.grad = None
y = (p * p).sum()
""",
    # `.data = v` rebinds: an alias taken before keeps the old values, as in PyTorch.
    "data_rebound_with_same_shape": """
import torch
W = torch.tensor([1.0, 2.0], requires_grad=True)
old = W.data
W.data = torch.tensor([5.0, 6.0])
W.data = W.data * 2
y = (W * old).sum()
y.backward()
print(old, W.data)
""",
    "class_learn_the_basics_network": """
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)


class NeuralNetwork(nn.Module):
    def __init__(self, hidden=8):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(6, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 3),
        )
        self.scale = 2.0
        self.register_buffer("offset", torch.zeros(3))

    def helper(self, x):
        return x * self.scale

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return self.helper(logits) + self.offset


model = NeuralNetwork()
print(model)
X = torch.randn(4, 2, 3)
y = torch.tensor([0, 2, 1, 1])
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model.train()
pred = model(X)
loss = F.cross_entropy(pred, y)
optimizer.zero_grad()
loss.backward()
optimizer.step()
for name, param in model.named_parameters():
    print(name, param.shape)
print(list(model.state_dict().keys()))
print(sum(p.numel() for p in model.parameters()))
model.eval()
print(model.training)
""",
    "class_lstm_classifier": """
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(3)


class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, num_classes):
        super(LSTMClassifier, self).__init__()
        self.hidden_dim = hidden_dim
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, num_classes)

    def forward(self, tokens):
        embedded = self.embedding(tokens)
        output, (hidden, cell) = self.lstm(embedded)
        return self.fc(hidden[-1])


model = LSTMClassifier(vocab_size=10, embedding_dim=4, hidden_dim=5, num_classes=2)
tokens = torch.tensor([[1, 4, 2], [3, 3, 9]])
labels = torch.tensor([1, 0])
logits = model(tokens)
loss = F.cross_entropy(logits, labels)
loss.backward()
print(model.hidden_dim, logits.shape)
""",
    "class_nested_submodules_and_plain_class": """
import torch
from torch import nn


class Layer(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.linear1 = nn.Linear(size, size)
        self.gain = nn.Parameter(torch.ones(size))

    def forward(self, x):
        return torch.tanh(self.linear1(x)) * self.gain


class Encoder(nn.Module):
    def __init__(self, size, depth):
        super().__init__()
        self.layers = nn.ModuleList([Layer(size) for _ in range(depth)])
        self.heads = nn.ModuleDict({"mean": nn.Linear(size, 1), "spread": nn.Linear(size, 1)})

    def forward(self, x):
        for layer in self.layers:
            x = layer(x) + x
        return self.heads["mean"](x) + self.heads["spread"](x).exp()


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder(3, 2)

    def forward(self, x):
        return self.encoder(x).sum()


class Point:
    def __init__(self, x, y=0.0):
        self.x = x
        self.y = y

    def norm2(self):
        return self.x ** 2 + self.y ** 2


torch.manual_seed(5)
model = Model()
x = torch.randn(4, 3)
out = model(x)
out.backward()
names = [name for name, p in model.named_parameters()]
print(names[0], len(names))
print(model.encoder.layers[1].gain.grad)
p = Point(3.0, y=4.0)
p.y = p.y + 1
print(p.norm2(), Point(1.0).norm2())
""",
    "custom_autograd_function_exp_and_relu": """
import torch


class MyExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        result = torch.exp(x)
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        (result,) = ctx.saved_tensors
        return grad_output * result


class ClampedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, limit):
        ctx.save_for_backward(x)
        ctx.limit = limit
        return x.clamp(min=0, max=limit)

    @staticmethod
    def backward(ctx, grad_output):
        x, = ctx.saved_tensors
        mask = (x > 0) & (x < ctx.limit)
        return grad_output * mask.float(), None


x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
y = MyExp.apply(x)
z = ClampedReLU.apply(y, 3.0)
loss = (z * torch.tensor([1.0, 2.0, 3.0])).sum()
loss.backward()
print(x.grad)
""",
    "python_try_lambda_decorator_and_input_name": """
import torch


def safe_div(a, b):
    try:
        result = a / b
    except ZeroDivisionError as e:
        print("caught:", e)
        result = 0.0
    else:
        print("fine")
    finally:
        print("done")
    return result


print(safe_div(1, 0), safe_div(4, 2))
try:
    torch.ones(2) + torch.ones(3)
except RuntimeError as err:
    print("torch says:", str(err)[:30])
try:
    raise ValueError("bad value", 3)
except (TypeError, ValueError) as e:
    print(type(e) if False else "ok", e.args)
try:
    {}["missing"]
except LookupError as e:
    print("lookup", e)
try:
    try:
        raise KeyError("k")
    except KeyError:
        raise
except Exception as e:
    print("reraised", repr(e) if False else e)
input = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
square = lambda t, p=2: t ** p
out = square(input).sum()
out.backward()
print(input.grad)


@torch.no_grad()
def update(w):
    w -= 0.1 * w.grad
    return w


update(input)
print(input)
""",
    "python_key_functions_format_and_type": """
import torch
from torch import nn

words = ["pear", "fig", "banana"]
print(sorted(words, key=len), sorted(words, key=lambda w: w[-1], reverse=True))
print(max(words, key=len), min(words, key=lambda w: len(w)), max(3, 7, 5))
print(list(map(lambda w: w.upper(), words)), list(filter(lambda n: n % 2, range(7))))
print(list(map(str, [1, 2])), sum(map(lambda a, b: a * b, [1, 2], [3, 4])))
words.sort(key=len)
print(words)
x = torch.tensor([1.0, 2.0], requires_grad=True)
loss = (x * x).sum()
print("epoch {}: loss {:.4f}".format(1, loss.item()))
print("{name}={value:>8.3f}".format(name="lr", value=0.1))
print("loss %.4f after %d steps, %s" % (loss, 3, "ok"), "%5.1f%%" % 99.5)
print("%(a)s and %(b)r" % {"a": 1, "b": "x"})
print(type(x), type(3) is int, type(x) == torch.Tensor, isinstance(x, torch.Tensor))
print(isinstance(3, (float, int)), isinstance(nn.Linear(1, 1), nn.Module))
print(isinstance(x, nn.Parameter))
print(type(1.5), type([]), type("s") == str, type(None))
""",
    "hooks_and_autograd_functional": """
import torch
from torch.autograd.functional import jacobian, hessian

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
seen = []


def double(grad):
    seen.append(grad.sum().item())
    return grad * 2


h = x.register_hook(double)
y = (x ** 2).sum()
y.backward()
print(x.grad, seen)
h.remove()
x.grad.zero_()
z = (x * 3).sum()
z.backward()
print(x.grad)


def f(v):
    return v ** 3


def energy(v):
    return (v ** 2).sum() * v[0]


J = jacobian(f, torch.tensor([1.0, 2.0]))
H = hessian(energy, torch.tensor([1.0, 2.0]))
out, vjp = torch.autograd.functional.vjp(f, torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0]))
print(J, H, vjp)
""",
    "module_forward_hooks": """
import torch
from torch import nn

torch.manual_seed(2)
model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
shapes = []


def remember(module, inputs, output):
    shapes.append(tuple(output.shape))


def halve(module, inputs):
    return (inputs[0] * 0.5,)


h1 = model[0].register_forward_hook(remember)
h2 = model[2].register_forward_pre_hook(halve)
x = torch.randn(2, 3)
loss = model(x).sum()
loss.backward()
h1.remove()
print(shapes)
""",
    "small_cnn_training_step": """
import torch
from torch import nn
import torch.nn.functional as F
model = nn.Sequential(
    nn.Conv2d(1, 2, kernel_size=3, padding=1),
    nn.BatchNorm2d(2),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(2 * 3 * 3, 3),
)
nn.init.kaiming_normal_(model[0].weight)
nn.init.zeros_(model[0].bias)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
x = torch.randn(2, 1, 6, 6)
y = torch.tensor([0, 2])
for step in range(2):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
print(sched.get_last_lr(), model[1].running_mean)
model.eval()
scores = model(x)
loss = F.cross_entropy(scores, y)
loss.backward()
""",
    "conv_pool_functions": """
import torch
import torch.nn.functional as F
x = torch.randn(1, 2, 5, 5, requires_grad=True)
w = torch.randn(3, 2, 3, 3, requires_grad=True)
h = F.conv2d(x, w, stride=2, padding=1)
h = F.avg_pool2d(F.relu(h), 2) + F.adaptive_max_pool2d(h, 2)
s = F.conv1d(x.flatten(2), w.flatten(2)[:, :, :3], padding=1)
g = F.group_norm(h, 3) + F.batch_norm(h, torch.zeros(3), torch.ones(3))
u = F.interpolate(g, scale_factor=2, mode='nearest')
t = F.conv_transpose2d(h, w, stride=2)
out = u.sum() + t.mean() + F.max_pool1d(s, 3).sum() + F.adaptive_avg_pool1d(s, 2).sum()
out.backward()
""",
    "attention_sdpa": """
import math
import torch
import torch.nn.functional as F
q = torch.randn(1, 2, 3, 4, requires_grad=True)
k = torch.randn(1, 2, 5, 4, requires_grad=True)
v = torch.randn(1, 2, 5, 4, requires_grad=True)
mask = torch.tensor([[True, True, False, False, False]]).expand(3, 5)
a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
c = F.scaled_dot_product_attention(q, q, q, is_causal=True)
scores = q @ k.transpose(-2, -1) / math.sqrt(4)
manual = torch.softmax(scores, dim=-1) @ v
loss = a.sum() + (c * c).mean() + manual.sum()
loss.backward()
""",
    "transformer_encoder_layer": """
import torch
from torch import nn
layer = nn.TransformerEncoderLayer(
    d_model=16, nhead=2, dim_feedforward=32, dropout=0.0, batch_first=True
)
mha = nn.MultiheadAttention(4, 2, batch_first=True)
x = torch.randn(1, 3, 16)
h = layer(x)
t = torch.randn(1, 3, 4)
att, weights = mha(t, t, t)
loss = h.pow(2).mean() + att.sum()
loss.backward()
""",
    "linalg_with_gradients": """
import torch
A = torch.tensor([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]], requires_grad=True)
b = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
x = torch.linalg.solve(A, b)
Ai = torch.linalg.inv(A)
d = torch.linalg.det(A) * torch.det(A) + torch.inverse(A).trace()
n = torch.linalg.norm(A) + torch.linalg.vector_norm(b, ord=1) + torch.linalg.matrix_norm(A)
sign, logabsdet = torch.linalg.slogdet(A)
S = A @ A.mT + torch.eye(3)  # cholesky and eigh read one triangle: symmetric by construction
L = torch.linalg.cholesky(S)
eigenvalues = torch.linalg.eigvalsh(S)
running = torch.cummax(b, dim=0).values + torch.cumprod(b, 0) + torch.logcumsumexp(b, 0)
loss = x.sum() + Ai.sum() + d + n + logabsdet + L.sum() + eigenvalues.sum() + running.sum()
loss.backward()
""",
    "multinomial_seeded_generator": """
import torch
g = torch.Generator().manual_seed(7)
probs = torch.softmax(torch.tensor([0.5, 1.0, 2.0]), dim=0)
draws = torch.multinomial(probs, 6, replacement=True, generator=g)
noise = torch.randn(3, generator=g)
g.manual_seed(7)
again = torch.multinomial(probs, 6, replacement=True, generator=g)
w = torch.randn(3, requires_grad=True)
logp = torch.log_softmax(w, dim=0)
loss = -logp[draws].sum() + (w * noise).sum()
loss.backward()
print(draws.tolist() == again.tolist(), g.initial_seed())
""",
    "packed_sequence_lstm": """
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence, pack_padded_sequence, pad_packed_sequence
seqs = [torch.randn(3, 2), torch.randn(1, 2), torch.randn(2, 2)]
padded = pad_sequence(seqs, batch_first=True)
lengths = torch.tensor([3, 1, 2])
packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
lstm = nn.LSTM(2, 3, batch_first=True)
out, (h, c) = lstm(packed)
unpacked, lens = pad_packed_sequence(out, batch_first=True)
gru = nn.GRU(2, 2)
g_out, g_h = gru(pack_padded_sequence(padded.transpose(0, 1)[:, :2], [3, 1]))
loss = unpacked.sum() + h.pow(2).sum() + g_h.sum()
loss.backward()
print(packed.batch_sizes.tolist(), lens.tolist())
""",
    "transformer_encoder_layer_small": """
import torch
from torch import nn
layer = nn.TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=8, dropout=0.0)
x = torch.randn(3, 1, 4)
h = layer(x)
loss = h.pow(2).mean()
loss.backward()
""",
    "typed_constructors_and_type": """
import torch
a = torch.Tensor([[1, 2], [3, 4]])
b = torch.LongTensor([0, 1])
w = torch.FloatTensor([0.5, -1.0]).requires_grad_()
d = a.type(torch.float64)
print(a.type(), b.type(), d.type(), a.type('torch.DoubleTensor').dtype)
y = (a[b] @ w).sum()
y.backward()
""",
    "example_scalar_engine": EXAMPLES["scalar-engine"]["code"],
    "user_class_operators_with_tensors": """
import torch
from torch import nn
torch.manual_seed(0)

class Affine:
    def __init__(self, n):
        self.w = torch.randn(n, requires_grad=True)
        self.b = torch.zeros(n, requires_grad=True)

    def __call__(self, x):
        return x * self.w + self.b

    def __radd__(self, other):
        return other + self.b

    def __rmul__(self, other):
        return other * self.w

    @property
    def size(self):
        return self.w.numel()

class Shift(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, n)

    def extra_repr(self):
        return "shifted"

    def forward(self, x):
        print("shift", x.shape)
        return self.fc(x) + 1

layer = Affine(3)
x = torch.tensor([1.0, -2.0, 0.5])
h = layer(x)
k = x + layer
m = x * layer
net = nn.Sequential(Shift(3), nn.Flatten(0), nn.Tanh())
out = net(h + k + m)
print(net, layer.size)
loss = out.pow(2).sum()
loss.backward()
""",
    # d2l's init_weights: by the class's identity, as the book writes it (not isinstance).
    "init_weights_by_type": """
import torch
from torch import nn

net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))

def init_weights(m):
    if type(m) == nn.Linear:
        nn.init.normal_(m.weight, std=0.01)
        nn.init.zeros_(m.bias)

def init_constant(m):
    if type(m) in (nn.Conv2d, nn.Linear) and type(m) is not nn.Conv2d:
        nn.init.constant_(m.weight, 0.1)

torch.manual_seed(0)
net.apply(init_weights)
net[2].apply(init_constant)
print([type(layer).__name__ for layer in net], type(net[1]) == nn.ReLU, type(net[0]))
X = torch.randn(5, 4)
loss = net(X).pow(2).mean()
loss.backward()
""",
    # Random numbers drawn with an explicit device: each call draws once, as in PyTorch.
    "random_draws_with_a_device": """
import torch

torch.manual_seed(0)
W = torch.randn(size=(3, 4), device="cpu", requires_grad=True)
b = torch.rand(4, device="cpu").requires_grad_()
order = torch.randperm(5, device="cpu")
labels = torch.randint(0, 4, (5,), device="cpu")
noise = torch.rand_like(torch.zeros(5, 3), device="cpu")
X = torch.randn(5, 3)[order] + noise
loss = torch.nn.functional.cross_entropy(X @ W + b, labels)
loss.backward()
""",
    # The PyTorch Quickstart's first lines, and code written for any device.
    "quickstart_device": """
import torch
from torch import nn

device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
other = torch.device("cuda" if torch.cuda.is_available() else "cpu")
mps = "mps" if torch.backends.mps.is_available() else "cpu"
torch.manual_seed(0)
torch.cuda.manual_seed_all(0)
print(f"Using {device} device", other, mps, torch.cuda.device_count())


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(nn.Linear(9, 6), nn.ReLU(), nn.Linear(6, 3))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


model = NeuralNetwork().to(device)
model = model.to(torch.float32).cpu()
X = torch.rand(2, 3, 3, device=device)
y = torch.tensor([0, 2]).to(other)
names = [layer.__class__.__name__ for layer in model.linear_relu_stack]
print(names, hasattr(model, "flatten"), hasattr(model, "weight"), hasattr(X, "grad"))
loss = nn.functional.cross_entropy(model(X.cpu()), y)
loss.backward()
""",
    # Every way to draw random numbers draws once: the guard's dry runs draw nothing.
    "random_creations_draw_once": """
import torch

torch.manual_seed(0)
g = torch.Generator().manual_seed(1)
base = torch.zeros(2, 3)
draws = [
    torch.rand(2), torch.randn(2, 3), torch.randint(0, 9, (4,)), torch.randperm(5),
    torch.normal(0.0, 1.0, (2, 2)), torch.normal(0, 1, size=(3,)), torch.normal(base, 1.0),
    torch.normal(base, torch.ones(2, 3)), torch.rand_like(base), torch.randn_like(base),
    torch.randint_like(base, 5), torch.multinomial(torch.ones(4), 2),
    torch.normal(0.0, 1.0, (2,), generator=g), torch.rand(2, generator=g), base.normal_(),
    base.uniform_(-1, 1), torch.nn.functional.dropout(torch.ones(6), 0.5),
]
w = torch.normal(0, 0.01, size=(3, 1), requires_grad=True)
after = torch.rand(3)
loss = (base @ w).sum() + sum(d.float().sum() for d in draws) * 0 + after.sum()
loss.backward()
""",
    # d2l 3.4 (linear regression from scratch) and 5.6 (dropout from scratch), as the book
    # writes them but for its data iterator's `yield`.
    "d2l_linear_regression_and_dropout": """
import torch
from torch import nn
from typing import List, Tuple


def synthetic_data(w, b, num_examples):
    X = torch.normal(0, 1, (num_examples, len(w)))
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))


true_w = torch.tensor([2, -3.4])
true_b = 4.2
torch.manual_seed(0)
features, labels = synthetic_data(true_w, true_b, 20)
w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)


def dropout_layer(X, dropout):
    assert 0 <= dropout <= 1
    if dropout == 1:
        return torch.zeros_like(X)
    mask = (torch.rand(X.shape) > dropout).float()
    return mask * X / (1.0 - dropout)


class Net(nn.Module):
    def __init__(self, num_inputs, num_hiddens, is_training=True):
        super().__init__()
        self.training = is_training
        self.lin1 = nn.Linear(num_inputs, num_hiddens)
        self.lin2 = nn.Linear(num_hiddens, 1)
        self.relu = nn.ReLU()

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        H = self.relu(self.lin1(X))
        if self.training:
            H = dropout_layer(H, 0.2)
        return self.lin2(H)


net = Net(2, 4)
print([name for name, _ in net.named_modules()], net.training)
pred = torch.matmul(features, w) + b + net(features) * 0.1
loss = ((pred - labels) ** 2 / 2).mean()
loss.backward()
""",
    # d2l 11.3: masked softmax for attention, with repeat_interleave over valid lengths.
    "d2l_masked_softmax": """
import math
import torch
from torch import nn


def sequence_mask(X, valid_len, value=0):
    maxlen = X.size(1)
    mask = torch.arange((maxlen), dtype=torch.float32)[None, :] < valid_len[:, None]
    X[~mask] = value
    return X


def masked_softmax(X, valid_lens):
    if valid_lens is None:
        return nn.functional.softmax(X, dim=-1)
    shape = X.shape
    if valid_lens.dim() == 1:
        valid_lens = torch.repeat_interleave(valid_lens, shape[1])
    else:
        valid_lens = valid_lens.reshape(-1)
    X = sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
    return nn.functional.softmax(X.reshape(shape), dim=-1)


torch.manual_seed(0)
queries = torch.randn(2, 1, 4, requires_grad=True)
keys = torch.randn(2, 5, 4)
values = torch.randn(2, 5, 3)
scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(4)
weights = masked_softmax(scores, torch.tensor([2, 4]))
out = torch.bmm(weights, values)
loss = out.pow(2).sum()
loss.backward()
""",
    # "What is torch.nn really?": TensorDataset and DataLoader, shuffled and not, a Dataset
    # of the program's own, random_split; every draw from the shared generator as PyTorch's.
    # A field of an f-string and of str.format, written alike, as Python writes them: a 0-d
    # tensor formats as its number in both.
    "format_fields_as_python": """import torch
w = torch.tensor(2.5, requires_grad=True)
loss = (w * 3) ** 2
loss.backward()
print(f"loss {loss} w.grad {w.grad:.3f} {[w.grad]!s}")
print("loss {} w.grad {:.3f} {}".format(loss, w.grad, [w.grad]))
print("{0!r} {1}".format(w.grad, (1, 2)))
""",
    "nn_tutorial_data_loader": """
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset, random_split

torch.manual_seed(0)
x_train = torch.randn(10, 3)
y_train = torch.randint(0, 2, (10,))
train_ds = TensorDataset(x_train, y_train)
train_dl = DataLoader(train_ds, batch_size=4, shuffle=True)
valid_dl = DataLoader(train_ds, batch_size=8)
model = nn.Linear(3, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(2):
    model.train()
    for xb, yb in train_dl:
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    with torch.no_grad():
        valid_loss = sum(nn.functional.cross_entropy(model(xb), yb) for xb, yb in valid_dl)
    print(epoch, valid_loss / len(valid_dl))


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": torch.tensor([float(i)]), "y": i * i}


for batch in DataLoader(Squares(5), batch_size=2, drop_last=True):
    print(batch["x"].shape, batch["y"])
first, second = random_split(train_ds, [0.7, 0.3])
g = torch.Generator().manual_seed(3)
order = [yb.tolist() for _, yb in DataLoader(first, batch_size=5, shuffle=True, generator=g)]
print(len(first), len(second), order)
xb, yb = next(iter(train_dl))
w = torch.rand(2, requires_grad=True)
final = (model(xb) * w).sum()
final.backward()
""",
    # Batch norm in training mode: its forward counts batches in a buffer; the gradient
    # check replays it leaf after leaf without counting in the program's.
    "conv_batch_norm_training": """
import torch
from torch import nn

torch.manual_seed(0)
net = nn.Sequential(
    nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 3 * 3, 2)
)
x = torch.randn(2, 2, 5, 5)
loss = net(x).pow(2).mean()
loss.backward()
print(net[1].num_batches_tracked)
""",
    # d2l 6.1: a Sequential of its own, with add_module, and its children run in turn.
    "d2l_my_sequential": """
import torch
from torch import nn


class MySequential(nn.Module):
    def __init__(self, *args):
        super().__init__()
        for idx, module in enumerate(args):
            self.add_module(str(idx), module)

    def forward(self, X):
        for module in self.children():
            X = module(X)
        return X


torch.manual_seed(0)
net = MySequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
net.register_module("head", nn.Tanh())
print(net)
X = torch.rand(3, 5)
loss = net(X).pow(2).sum()
loss.backward()
""",
}
