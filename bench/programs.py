"""The programs the benchmark runs, each through the project and through torchviz.

The seed programs are the notebook's own lessons; the MLP and the RNNs are the shapes its
goals name (an RNN reuses one weight at every step, the case that makes `dot` slow).
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
