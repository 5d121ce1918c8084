"""Programs the way tutorials write them, none of them run by the server at start.

Each family makes a program from a random generator: the sizes, constants, activations and
names change from one call to the next, so a classroom of learners sends programs no cache
has seen and whose exact shapes no earlier request used. `FIRST_SEEN` are fixed members of
these families for the first-request figure; `examples_varied` changes the constants and
sizes of the page's own examples the way a learner edits them.
"""

import json
import random
import re
from collections.abc import Callable
from pathlib import Path

from bench.programs import Program

EXAMPLES = Path(__file__).resolve().parents[1] / "static" / "examples.json"
ACTIVATIONS = ["torch.tanh", "torch.relu", "torch.sigmoid"]
NAMES = ["model", "net", "mlp", "network", "clf"]


def mlp(rng: random.Random) -> Program:
    """A 3-layer MLP on a batch of 32, 16-64-64-1 or near it, as the first deep-learning
    lesson writes it: weights by hand, one activation, a mean squared error."""
    width = rng.choice([32, 48, 64])
    inputs = rng.choice([8, 16])
    act = rng.choice(ACTIVATIONS)
    return Program(
        "MLP 16-64-64-1, batch 32",
        f"""import torch
torch.manual_seed({rng.randrange(1000)})
X = torch.randn(32, {inputs})
y = torch.randn(32, 1)
W1 = torch.randn({inputs}, {width}, requires_grad=True)
b1 = torch.zeros({width}, requires_grad=True)
W2 = torch.randn({width}, {width}, requires_grad=True)
b2 = torch.zeros({width}, requires_grad=True)
W3 = torch.randn({width}, 1, requires_grad=True)
b3 = torch.zeros(1, requires_grad=True)
h1 = {act}(X @ W1 + b1)
h2 = {act}(h1 @ W2 + b2)
out = h2 @ W3 + b3
loss = ((out - y) ** 2).mean()
loss.backward()
""",
        "loss",
    )


def mlp_module(rng: random.Random) -> Program:
    """The same MLP with nn.Sequential and an optimiser step."""
    width = rng.choice([32, 64])
    act = rng.choice(["nn.Tanh()", "nn.ReLU()", "nn.Sigmoid()"])
    name = rng.choice(NAMES)
    return Program(
        "MLP, nn.Sequential",
        f"""import torch
from torch import nn
{name} = nn.Sequential(
    nn.Linear(16, {width}), {act},
    nn.Linear({width}, {width}), {act},
    nn.Linear({width}, 1),
)
optimizer = torch.optim.SGD({name}.parameters(), lr={rng.choice([0.1, 0.01, 0.05])})
x = torch.randn(32, 16)
y = torch.randn(32, 1)
optimizer.zero_grad()
loss = ((({name}(x)) - y) ** 2).mean()
loss.backward()
optimizer.step()
""",
        "loss",
    )


def attention(rng: random.Random) -> Program:
    """A small causal self-attention block written out: projections, masked scores,
    softmax, weighted sum, output projection."""
    d = rng.choice([8, 16, 32])
    t = rng.choice([4, 6, 8])
    return Program(
        "causal attention block",
        f"""import math
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed({rng.randrange(1000)})
d_model, T = {d}, {t}
x = torch.randn(2, T, d_model)
to_q = nn.Linear(d_model, d_model)
to_k = nn.Linear(d_model, d_model)
to_v = nn.Linear(d_model, d_model)
proj = nn.Linear(d_model, d_model)

q, k, v = to_q(x), to_k(x), to_v(x)
scores = q @ k.transpose(-2, -1) / math.sqrt(d_model)
mask = torch.tril(torch.ones(T, T)) == 0
scores = scores.masked_fill(mask, float("-inf"))
weights = F.softmax(scores, dim=-1)
out = proj(weights @ v)
loss = out.pow(2).mean()
loss.backward()
""",
        "loss",
    )


def cnn(rng: random.Random) -> Program:
    """A small CNN as a class: two convolutions, pooling, a linear classifier, NLL loss."""
    channels = rng.choice([4, 6, 8])
    size = rng.choice([12, 16])
    pool = rng.choice(["F.max_pool2d", "F.avg_pool2d"])
    return Program(
        "small CNN class",
        f"""import torch
from torch import nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, {channels}, 3, padding=1)
        self.conv2 = nn.Conv2d({channels}, {2 * channels}, 3, padding=1)
        self.fc = nn.Linear({2 * channels} * {size // 4} * {size // 4}, n_classes)

    def forward(self, x):
        x = {pool}(F.relu(self.conv1(x)), 2)
        x = {pool}(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return F.log_softmax(self.fc(x), dim=1)


net = SmallCNN()
images = torch.randn(4, 1, {size}, {size})
labels = torch.randint(0, 10, (4,))
loss = F.nll_loss(net(images), labels)
loss.backward()
""",
        "loss",
    )


def gru(rng: random.Random) -> Program:
    """A GRU cell unrolled by hand over a short sequence, a linear read-out."""
    hidden = rng.choice([8, 12, 16])
    steps = rng.choice([3, 4, 5])
    return Program(
        "GRU loop",
        f"""import torch
from torch import nn

torch.manual_seed({rng.randrange(1000)})
cell = nn.GRUCell(input_size=4, hidden_size={hidden})
readout = nn.Linear({hidden}, 1)
sequence = torch.randn({steps}, 3, 4)
h = torch.zeros(3, {hidden})
for x_t in sequence:
    h = cell(x_t, h)
prediction = readout(h)
loss = (prediction ** 2).mean()
loss.backward()
""",
        "loss",
    )


def lstm(rng: random.Random) -> Program:
    """nn.LSTM over a batch, the last step classified, cross-entropy, Adam."""
    hidden = rng.choice([8, 16])
    return Program(
        "LSTM classifier",
        f"""import torch
from torch import nn
import torch.nn.functional as F

lstm = nn.LSTM(input_size=5, hidden_size={hidden}, batch_first=True)
head = nn.Linear({hidden}, 3)
opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
x = torch.randn(4, {rng.choice([5, 7, 9])}, 5)
labels = torch.tensor([0, 2, 1, {rng.randrange(3)}])
output, (h_n, c_n) = lstm(x)
logits = head(output[:, -1, :])
loss = F.cross_entropy(logits, labels)
opt.zero_grad()
loss.backward()
opt.step()
""",
        "loss",
    )


def residual_block(rng: random.Random) -> Program:
    """A user nn.Module: layer norm, a GELU feed-forward, dropout 0, a residual sum."""
    d = rng.choice([8, 16, 24])
    return Program(
        "residual nn.Module",
        f"""import torch
from torch import nn


class FeedForward(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(0.0)

    def forward(self, x):
        return x + self.drop(self.down(nn.functional.gelu(self.up(self.norm(x)))))


block = FeedForward({d}, {4 * d})
x = torch.randn(6, {d}, requires_grad=True)
y = block(x)
loss = y.sum() * {rng.choice([0.5, 1.0, 2.0])}
loss.backward()
""",
        "loss",
    )


FAMILIES: list[Callable[[random.Random], Program]] = [
    mlp,
    mlp_module,
    attention,
    cnn,
    gru,
    lstm,
    residual_block,
]
# One fixed member of each family: the programs whose first request is timed.
FIRST_SEEN = [family(random.Random(7)) for family in FAMILIES]
_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+|[1-9]\d?)(?![\w.])")


def examples_varied(rng: random.Random) -> Program:
    """One of the page's examples with its numbers changed: a float scaled, a small integer
    (a size, a count) moved by one, as a learner tries another value. A variation that no
    longer runs (mismatched sizes) is an honest part of a classroom's load too."""
    examples = json.loads(EXAMPLES.read_text())
    example = rng.choice(examples)

    def vary(match: re.Match[str]) -> str:
        text = match.group(0)
        if "." in text:
            return f"{float(text) * rng.uniform(0.5, 1.5):.3f}"
        return text if rng.random() < 0.7 else str(max(1, int(text) + rng.choice([-1, 1])))

    return Program(f"example: {example['title']}", _NUMBER.sub(vary, example["code"]), "")


def classroom_program(rng: random.Random) -> Program:
    """What one learner sends next: half the time a varied example, else a family member."""
    if rng.random() < 0.5:
        return examples_varied(rng)
    return rng.choice(FAMILIES)(rng)
