"""Trusted programs the evaluation zygote runs once, before it forks any job process.

A job process is forked from the zygote and ends with its job, so whatever a job warms up
dies with it. What the zygote warms, every job inherits: torch's first calls of an operation
(dispatch tables, lazily imported Python decompositions, the meta kernels the guard sizes
calls with), the interpreter's and capture's first paths through a construct, and the guard's
remembered output sizes (`app.worker.sandbox.guard.DRY_RUN_SIZES`) of these programs' calls. Without
this, every request that used an operation the zygote never ran paid for its first call, as
each runs in a fresh process.

These are fixed programs written here, never a request: the remembered sizes are the same
for every job whoever sent what, so they say nothing about another user's program. They
cover what tutorials write: the page's examples (static/examples.json, run as well), MLPs by
hand and with nn.Sequential, nn.Module classes, CNNs with convolution, pooling and batch
norm, RNN/LSTM/GRU modules and cells, attention by hand and as modules, the usual losses and
optimisers. Their sizes are the common ones of tutorials (batches of 32, layers 16 to 64
wide, 28x28 images), so a learner's program often meets them exactly.
"""

# Several small programs rather than one large one: a program that fails (an operation
# refused on this platform) costs the warm-up of that program only.
TUTORIAL_PROGRAMS = (
    # Tensors and elementwise arithmetic, reductions and shape changes.
    """
import math
import torch
a = torch.randn(4, 3, requires_grad=True)
b = torch.rand(3)
c = torch.arange(12.0).reshape(4, 3)
d = torch.linspace(-1, 1, 12).view(3, 4).t()
e = (a * b + c - d) / 2.0
f = e.exp().log1p() + e.abs().sqrt() + e.clamp(min=0.0) ** 2 + torch.sin(e) * torch.cos(e)
g = torch.cat([f, f.flip(0)], dim=1).permute(1, 0).contiguous().flatten()
h = torch.stack([g[:6], g[6:12]]).sum(dim=0).max() + g.mean() + g.std() + g.norm()
k = torch.where(e > 0, e, torch.zeros_like(e)).sum() + e.min() + e.var() + e.prod()
loss = h + k + torch.dot(g[:3], g[3:6]) + e.unsqueeze(0).squeeze(0).sum(dim=1).mean()
loss.backward()
print(a.grad.shape, loss.item(), math.pi)
""",
    # An MLP by hand on a batch: matrix products, each activation, mean squared error.
    """
import torch
torch.manual_seed(0)
X = torch.randn(32, 16)
y = torch.randn(32, 1)
W1 = torch.randn(16, 64, requires_grad=True)
b1 = torch.zeros(64, requires_grad=True)
W2 = torch.randn(64, 64, requires_grad=True)
b2 = torch.zeros(64, requires_grad=True)
W3 = torch.randn(64, 1, requires_grad=True)
b3 = torch.zeros(1, requires_grad=True)
for act in (torch.tanh, torch.relu, torch.sigmoid):
    h1 = act(X @ W1 + b1)
    h2 = act(torch.matmul(h1, W2) + b2)
    out = h2.mm(W3) + b3
    loss = ((out - y) ** 2).mean()
loss.backward()
with torch.no_grad():
    for p in (W1, b1, W2, b2, W3, b3):
        p -= 0.01 * p.grad
        p.grad.zero_()
""",
    # nn.Sequential MLPs, every common activation and loss, each optimiser's step.
    """
import torch
from torch import nn
import torch.nn.functional as F
torch.manual_seed(1)
x = torch.randn(32, 16)
target = torch.randn(32, 1)
labels = torch.randint(0, 4, (32,))
activations = (nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(0.1), nn.GELU(), nn.ELU())
for act in (*activations, nn.SiLU(), nn.Softplus()):
    model = nn.Sequential(nn.Linear(16, 64), act, nn.Linear(64, 64), act, nn.Linear(64, 1))
    loss = nn.MSELoss()(model(x), target) + F.l1_loss(model(x), target)
    loss = loss + F.smooth_l1_loss(model(x), target) + F.huber_loss(model(x), target)
classifier = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 4))
optim = torch.optim
for make in (optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad):
    optimizer = make(classifier.parameters(), lr=0.01)
    optimizer.zero_grad()
    logits = classifier(x)
    loss = F.cross_entropy(logits, labels) + nn.CrossEntropyLoss()(logits, labels)
    loss = loss + F.nll_loss(F.log_softmax(logits, dim=1), labels)
    loss = loss + nn.NLLLoss()(logits.log_softmax(-1), labels)
    loss.backward()
    optimizer.step()
momentum = torch.optim.SGD(classifier.parameters(), lr=0.1, momentum=0.9)
momentum.step()
probs = torch.sigmoid(classifier(x)[:, 0])
flags = (labels > 1).float()
loss = F.binary_cross_entropy(probs, flags)
loss = loss + F.binary_cross_entropy_with_logits(classifier(x)[:, 1], flags)
loss = loss + nn.BCELoss()(probs, flags) + nn.BCEWithLogitsLoss()(classifier(x)[:, 2], flags)
log_p, p = F.log_softmax(classifier(x), 1), F.softmax(classifier(x), 1)
loss = loss + F.kl_div(log_p, p, reduction="batchmean")
loss = loss + F.one_hot(labels, 4).float().mul(F.softmax(classifier(x), dim=-1)).sum()
loss.backward()
classifier.eval()
with torch.no_grad():
    accuracy = (classifier(x).argmax(dim=1) == labels).float().mean()
classifier.train()
print(classifier, accuracy.item())
""",
    # nn.Module classes, as a first model is written.
    """
import torch
from torch import nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_hidden)
        self.fc3 = nn.Linear(n_hidden, n_out)
        self.norm = nn.LayerNorm(n_hidden)
        self.drop = nn.Dropout(p=0.1)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = self.drop(self.norm(torch.tanh(self.fc2(x)) + x))
        return self.fc3(F.gelu(x))


class Residual(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.ln = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x + self.scale * self.ff(self.ln(x))


torch.manual_seed(2)
net = Net(8, 32, 3)
block = Residual(16)
opt = torch.optim.Adam(list(net.parameters()) + list(block.parameters()), lr=1e-3)
x = torch.randn(10, 8)
labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
loss = F.cross_entropy(net(x), labels) + block(torch.randn(6, 16, requires_grad=True)).sum()
opt.zero_grad()
loss.backward()
opt.step()
print(sum(p.numel() for p in net.parameters()), net.fc1.weight.grad.shape)
for name, p in block.named_parameters():
    print(name, p.shape)
""",
    # CNNs: convolutions, pooling, batch norm, flatten, as a class and as a Sequential.
    """
import torch
from torch import nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc = nn.Linear(16 * 7 * 7, n_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return F.log_softmax(self.fc(x), dim=1)


torch.manual_seed(3)
net = SmallCNN()
images = torch.randn(4, 1, 28, 28)
labels = torch.randint(0, 10, (4,))
loss = F.nll_loss(net(images), labels)
features = nn.Sequential(
    nn.Conv2d(3, 6, 5), nn.ReLU(), nn.AvgPool2d(2),
    nn.Conv2d(6, 12, 3, stride=2), nn.BatchNorm2d(12), nn.ReLU(),
    nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(12, 2),
)
loss = loss + F.cross_entropy(features(torch.randn(2, 3, 16, 16)), torch.tensor([0, 1]))
x = torch.randn(2, 3, 12, 12)
y = F.avg_pool2d(F.conv2d(x, torch.randn(4, 3, 3, 3, requires_grad=True), padding=1), 2)
y = F.adaptive_max_pool2d(F.dropout2d(y, 0.0), 2) + F.adaptive_avg_pool2d(y, 2)
signal = nn.Conv1d(2, 4, 3)(torch.randn(3, 2, 10))
signal = nn.MaxPool1d(2)(nn.BatchNorm1d(4)(signal)) + F.avg_pool1d(signal, 2)
loss = loss + y.sum() + signal.mean()
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
opt.zero_grad()
loss.backward()
opt.step()
net.eval()
print(net(images).argmax(1))
""",
    # Recurrent networks: modules over a batch, and cells unrolled by hand.
    """
import torch
from torch import nn
import torch.nn.functional as F
torch.manual_seed(4)
x = torch.randn(4, 6, 5)
labels = torch.tensor([0, 2, 1, 0])
head = nn.Linear(16, 3)
lstm = nn.LSTM(input_size=5, hidden_size=16, batch_first=True)
output, (h_n, c_n) = lstm(x)
loss = F.cross_entropy(head(output[:, -1, :]), labels)
gru = nn.GRU(5, 16, num_layers=2, batch_first=True)
output, h_n = gru(x)
loss = loss + F.cross_entropy(head(h_n[-1]), labels)
rnn = nn.RNN(5, 16, nonlinearity="tanh")
output, h_n = rnn(x.transpose(0, 1), torch.zeros(1, 4, 16))
loss = loss + output.pow(2).mean()
gru_cell = nn.GRUCell(input_size=5, hidden_size=16)
lstm_cell = nn.LSTMCell(5, 16)
rnn_cell = nn.RNNCell(5, 16)
h = torch.zeros(4, 16)
hc = (torch.zeros(4, 16), torch.zeros(4, 16))
r = torch.zeros(4, 16)
for t in range(x.size(1)):
    h = gru_cell(x[:, t], h)
    hc = lstm_cell(x[:, t, :], hc)
    r = rnn_cell(x[:, t], r)
loss = loss + (head(h) ** 2).mean() + hc[0].sum() + r.sum()
W_xh = torch.randn(5, 16, requires_grad=True)
W_hh = torch.randn(16, 16, requires_grad=True)
state = torch.zeros(16)
for x_t in x[0]:
    state = torch.tanh(x_t @ W_xh + state @ W_hh)
loss = loss + state.sum()
embedding = nn.Embedding(20, 5)
tokens = torch.tensor([[1, 4, 7, 2], [3, 3, 9, 0]])
out, _ = lstm(embedding(tokens))
loss = loss + out.mean() + F.embedding(tokens, embedding.weight).sum()
opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
opt.zero_grad()
loss.backward()
nn.utils.clip_grad_norm_(lstm.parameters(), 1.0)
opt.step()
""",
    # Attention: written out with a causal mask, PyTorch's function, and the modules.
    """
import math
import torch
from torch import nn
import torch.nn.functional as F
torch.manual_seed(5)
B, T, C = 2, 8, 16
x = torch.randn(B, T, C)
query, key, value = nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C)
q, k, v = query(x), key(x), value(x)
scores = q @ k.transpose(-2, -1) / math.sqrt(C)
mask = torch.tril(torch.ones(T, T))
scores = scores.masked_fill(mask == 0, float("-inf"))
weights = F.softmax(scores, dim=-1)
out = weights @ v
heads = q.view(B, T, 2, C // 2).transpose(1, 2)
multi = torch.softmax(heads @ heads.transpose(-2, -1) * (C // 2) ** -0.5, dim=-1) @ heads
multi = multi.transpose(1, 2).contiguous().view(B, T, C)
fused = F.scaled_dot_product_attention(heads, heads, heads, is_causal=True)
mha = nn.MultiheadAttention(embed_dim=C, num_heads=2, batch_first=True)
attended, attention = mha(x, x, x, attn_mask=torch.triu(torch.ones(T, T), diagonal=1).bool())
layer = nn.TransformerEncoderLayer(
    d_model=C, nhead=2, dim_feedforward=32, dropout=0.0, batch_first=True
)
encoded = layer(x, src_mask=torch.ones(T, T).triu(1).bool())
inner = nn.TransformerEncoderLayer(C, 2, 32, 0.0, batch_first=True)
stack = nn.TransformerEncoder(inner, num_layers=2)
frequencies = torch.exp(torch.arange(0, C, 2) * (-math.log(10000.0) / C))
position = torch.arange(T).unsqueeze(1) * frequencies
pe = torch.zeros(T, C)
pe[:, 0::2] = torch.sin(position)
pe[:, 1::2] = torch.cos(position)
logits = nn.Linear(C, 10)(F.layer_norm(out + multi + attended + encoded + stack(x + pe), (C,)))
loss = F.cross_entropy(logits.view(-1, 10), torch.randint(0, 10, (B * T,)))
loss = loss + fused.sum() + torch.einsum("bhtd,bhsd->bhts", heads, heads).mean()
loss = loss + torch.bmm(q, k.transpose(1, 2)).mean()
loss.backward()
print(attention.shape, loss)
""",
    # Data as the nn tutorial loads it: TensorDataset, a shuffled DataLoader, random_split.
    """
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset, random_split
torch.manual_seed(0)
data = TensorDataset(torch.randn(12, 4), torch.randint(0, 3, (12,)))
train, valid = random_split(data, [0.75, 0.25])
model = nn.Linear(4, 3)
for xb, yb in DataLoader(train, batch_size=4, shuffle=True):
    loss = nn.functional.cross_entropy(model(xb), yb)
loss.backward()
print(len(valid), [batch[1].shape for batch in DataLoader(valid, batch_size=2)])
""",
)
