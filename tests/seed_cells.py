"""The code cells of the seed notebook (tests/seed/autograd-notebook.txt), verbatim, in order."""

SEED_NOTEBOOK = "tests/seed/autograd-notebook.txt"

IMPORTS = "import math\nimport torch"

DERIVATIVE_BY_HAND = """# y = x^2
# dy_dx = 2*x

def dy_dx(x):
    return 2*x

dy_dx(3)"""

CHAIN_RULE_BY_HAND = """# z = sin(y) 
# chain rule -> dz_dx = dz_dy * dy_dx
# dz_dy = cos(y) = cos(x^2)

def dz_dx(x):
    return 2*x*math.cos(x**2)

dz_dx(3)"""  # noqa: W291 - the notebook has that trailing space

BCE_COMMENT = "# -[ylog(y_hat)+(1-y)log(1-y_hat)]"

CHAIN_RULE = [
    "x = torch.tensor(3.0, requires_grad=True) #requires_grad is False by default",
    "y = x**2",
    "x",
    "y",
    "# y.backward()",
    "x.grad",
    "z = torch.sin(y)\nz",
    "z.backward()",
    "x.grad",
    "y.grad",
]

CLASSIFIER_INPUTS = """# inputs 
x = torch.tensor(6.7) # cgpa
y = torch.tensor(0.0) # not placed

# parameters
w = torch.tensor(1.0) #weight
b = torch.tensor(0.0) #bias"""  # noqa: W291

BCE_LOSS = """# Binary cross entropy for loss function
def binary_cross_entropy_loss(y_predicted, y_target):
    epsilon = 1e-8 # to prevent log(0)

    y_predicted = torch.clamp(y_predicted, epsilon, 1-epsilon)

    return -(y_target*torch.log(y_predicted) + (1-y_target)*torch.log(1-y_predicted))"""

FORWARD_PASS = """# forward pass

# 1. linear transform
z = w * x + b

# 2. sigmoid
y_predicted = torch.sigmoid(z)

# 3. compute loss
loss = binary_cross_entropy_loss(y_predicted, y)"""

MANUAL_BACKWARD = """# backpropagation

# 1. dL/d(y_pred): Loss with respect to the prediction (y_pred)
dloss_dy_pred = (y_predicted - y)/(y_predicted* (1-y_predicted) )
# 2. dy_pred/dz: Prediction (y_pred) with respect to z (sigmoid derivative)
dy_pred_dz = y_predicted * (1 - y_predicted)
# 3. dz/dw and dz/db: z with respect to w and b
dz_dw = x
dz_db = 1
# dz/dw = x|
# dz/db = 1 (bias contributes directly to z)
dL_dw = dloss_dy_pred * dy_pred_dz * dz_dw
dL_db = dloss_dy_pred * dy_pred_dz * dz_db"""

MANUAL_PRINT = """print(f"Manual gradient of loss wrt weight dw: {dL_dw}")
print(f"Manual gradient of loss wrt bias db: {dL_db}")"""

CLASSIFIER_MANUAL = [
    CLASSIFIER_INPUTS,
    BCE_LOSS,
    FORWARD_PASS,
    "loss",
    MANUAL_BACKWARD,
    MANUAL_PRINT,
]

CLASSIFIER_AUTOGRAD = [
    "x = torch.tensor(6.7)\ny = torch.tensor(0.0)",
    "w = torch.tensor(1.0, requires_grad=True)\nb = torch.tensor(0.0, requires_grad=True)",
    "z = w*x + b\nz",
    "y_predicted = torch.sigmoid(z)\ny_predicted",
    "loss = binary_cross_entropy_loss(y_predicted, y)\nloss",
    "loss.backward()",
    "print(w.grad)",
    "print(b.grad)",
]

ACCUMULATION = [
    "x = torch.tensor(2.0, requires_grad=True)\nx",
    "y = x**2\ny",
    "y.backward()",
    "x.grad",
    "x.grad.zero_()",
    "# x.requires_grad_(False) \n# use this when grad needs to be turned off",
]

CELLS = [
    IMPORTS,
    DERIVATIVE_BY_HAND,
    CHAIN_RULE_BY_HAND,
    BCE_COMMENT,
    *CHAIN_RULE,
    *CLASSIFIER_MANUAL,
    *CLASSIFIER_AUTOGRAD,
    *ACCUMULATION,
]
WHOLE_NOTEBOOK = "\n\n".join(CELLS)
# What the whole notebook prints, as plain PyTorch prints it.
WHOLE_NOTEBOOK_STDOUT = (
    "Manual gradient of loss wrt weight dw: 6.691762447357178\n"
    "Manual gradient of loss wrt bias db: 0.998770534992218\n"
    "tensor(6.6918)\n"
    "tensor(0.9988)\n"
)


def lesson(*cells: str) -> str:
    return "\n\n".join(cells)


CHAIN_RULE_LESSON = lesson(IMPORTS, *CHAIN_RULE)
CLASSIFIER_MANUAL_LESSON = lesson(IMPORTS, *CLASSIFIER_MANUAL)
CLASSIFIER_AUTOGRAD_LESSON = lesson(IMPORTS, BCE_LOSS, *CLASSIFIER_AUTOGRAD)
ACCUMULATION_LESSON = lesson(IMPORTS, *ACCUMULATION)
