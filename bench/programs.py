"""The programs the benchmark runs, each through the project and through torchviz.

The seed programs are the notebook's own lessons; the MLP and the RNNs are the shapes its
goals name (an RNN reuses one weight at every step, the case that makes `dot` slow); the
hub loops reuse a tensor that is not a leaf, and the models are first real ones, written as a
user would write them.
"""

from dataclasses import dataclass

from tests.seed_cells import CHAIN_RULE_LESSON, CLASSIFIER_AUTOGRAD_LESSON


@dataclass(frozen=True)
class Program:
    name: str
    code: str
    output: str  # the root both sides draw from


MLP = """import torch
from torch import nn
import torch.nn.functional as F
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
x = torch.randn(32, 8)
target = torch.randint(0, 4, (32,))
loss = F.cross_entropy(model(x), target)
loss.backward()
"""


def rnn(steps: int) -> str:
    """A tanh RNN whose single weight matrix W feeds every step."""
    return f"""import torch
torch.manual_seed(0)
W = torch.randn(4, 4, requires_grad=True)
xs = torch.randn({steps}, 4)
h = torch.zeros(4)
for t in range({steps}):
    h = torch.tanh(W @ h + xs[t])
loss = h.sum()
loss.backward()
"""


SEED_SIZED = [
    Program("seed chain rule", CHAIN_RULE_LESSON, "z"),
    Program("seed classifier", CLASSIFIER_AUTOGRAD_LESSON, "loss"),
    Program("MLP, batch 32", MLP, "loss"),
    Program("RNN, 30 steps", rnn(30), "loss"),
]
RNN_STEPS = [100, 1000]


def shared_transpose(steps: int) -> str:
    """A loop over a tensor that is not a leaf: `Wt = W.t()` once, then `Wt @ h` each step."""
    return f"""import torch
torch.manual_seed(0)
W = torch.randn(8, 8, requires_grad=True)
Wt = W.t()
h = torch.zeros(8)
for t in range({steps}):
    h = torch.tanh(Wt @ h + 1)
loss = h.sum()
loss.backward()
"""


def scaled_weight(steps: int) -> str:
    """The same with `V = W * 0.1` made before the loop and used at every step."""
    return f"""import torch
torch.manual_seed(0)
W = torch.randn(8, 8, requires_grad=True)
V = W * 0.1
h = torch.ones(8)
for t in range({steps}):
    h = torch.tanh(V @ h)
loss = h.sum()
loss.backward()
"""


TRANSFORMER = """import torch
from torch import nn
torch.manual_seed(0)
layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True)
encoder = nn.TransformerEncoder(layer, num_layers=2)
x = torch.randn(2, 10, 32)
loss = encoder(x).pow(2).mean()
loss.backward()
"""

CNN = """import torch
from torch import nn
import torch.nn.functional as F
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
    nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
)
x = torch.randn(4, 3, 16, 16)
target = torch.randint(0, 10, (4,))
loss = F.cross_entropy(model(x), target)
loss.backward()
"""

LSTM = """import torch
from torch import nn
torch.manual_seed(0)
lstm = nn.LSTMCell(8, 16)
head = nn.Linear(16, 1)
xs = torch.randn(50, 1, 8)
h = torch.zeros(1, 16)
c = torch.zeros(1, 16)
for x in xs:
    h, c = lstm(x, (h, c))
loss = head(h).pow(2).mean()
loss.backward()
"""

HUB_STEPS = [100, 1000]
HUB_LOOPS = [
    Program(f"{name}, {steps} steps", make(steps), "loss")
    for steps in HUB_STEPS
    for name, make in (
        ("shared Wt = W.t()", shared_transpose),
        ("shared V = W * 0.1", scaled_weight),
    )
]
MODELS = [
    Program("transformer encoder, 2 layers", TRANSFORMER, "loss"),
    Program("CNN, conv-bn-relu x3", CNN, "loss"),
    Program("LSTM, 50 steps", LSTM, "loss"),
]
# torchviz hands `dot` one box per tensor, joined to every use: on a loop over shared
# weights it ran for minutes (the LSTM's 50 steps, the hub loops), so it is timed on these.
TORCHVIZ_RUNS = {"transformer encoder, 2 layers", "CNN, conv-bn-relu x3"}
