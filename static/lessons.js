// The lessons of the seed notebook (../shared/seed/autograd-notebook.txt), as examples for
// the page's menu. Every lesson's code is run by tests/test_teaching.py and checked against
// plain PyTorch, so the array is plain JSON: tests read it with a JSON parser.
// {id, title, lesson (what to look at), code, output? (variable to draw), error? (it fails
// on purpose, to show the explanation)}
export const LESSONS = [
  {
    "id": "derivative-by-hand",
    "title": "1. A derivative by hand, then by autograd",
    "lesson": "y = x², so dy/dx = 2x: 6 at x = 3. Autograd finds the same number; the gradient check below does it a third way, with finite differences.",
    "code": "import torch\n\ndef dy_dx(x):\n    return 2*x\n\nx = torch.tensor(3.0, requires_grad=True)\ny = x**2\ny.backward()\nprint(\"by hand:\", dy_dx(3))\nprint(\"autograd:\", x.grad)\n"
  },
  {
    "id": "chain-rule",
    "title": "2. The chain rule",
    "lesson": "z = sin(y) with y = x². The chain rule multiplies the local derivatives: dz/dx = cos(y) · 2x. Open “explain” for x to see each factor.",
    "code": "import math\nimport torch\n\ndef dz_dx(x):\n    return 2*x*math.cos(x**2)\n\nx = torch.tensor(3.0, requires_grad=True)\ny = x**2\nz = torch.sin(y)\nz.backward()\nprint(\"by hand:\", dz_dx(3))\nprint(\"autograd:\", x.grad)\n"
  },
  {
    "id": "requires-grad-and-grad-fn",
    "title": "3. requires_grad and grad_fn",
    "lesson": "Tensors do not require grad by default. Every result computed from one that does records how it was made in grad_fn: the nodes of the graph.",
    "code": "import torch\na = torch.tensor(2.0)                      # requires_grad is False by default\nx = torch.tensor(3.0, requires_grad=True)\ny = x * a\nz = y + 1\nprint(a.requires_grad, a.grad_fn)\nprint(x.requires_grad, x.grad_fn)\nprint(y.requires_grad, y.grad_fn.name())\nprint(z.requires_grad, z.grad_fn.name())\nz.backward()\n"
  },
  {
    "id": "leaf-and-non-leaf",
    "title": "4. backward(), leaf and non-leaf .grad",
    "lesson": "backward() fills .grad of the leaves only. Reading .grad of a non-leaf gives None, and PyTorch warns; retain_grad() asks it to keep one.",
    "code": "import torch\nx = torch.tensor(3.0, requires_grad=True)\ny = x**2\nz = torch.sin(y)\nw = z * 2\nw.retain_grad()\nout = w + 1\nout.backward()\nprint(x.is_leaf, y.is_leaf)\nprint(x.grad)\nprint(w.grad)   # kept, thanks to retain_grad()\nprint(y.grad)   # None: y is not a leaf\n"
  },
  {
    "id": "classifier-by-hand",
    "title": "5. A classifier's gradients by hand",
    "lesson": "One neuron, sigmoid and binary cross-entropy, differentiated by hand as the notebook does. Nothing requires grad, so there is no graph: compare the printed numbers with the next lesson.",
    "code": "import math\nimport torch\n\n# inputs \nx = torch.tensor(6.7) # cgpa\ny = torch.tensor(0.0) # not placed\n\n# parameters\nw = torch.tensor(1.0) #weight\nb = torch.tensor(0.0) #bias\n\n# Binary cross entropy for loss function\ndef binary_cross_entropy_loss(y_predicted, y_target):\n    epsilon = 1e-8 # to prevent log(0)\n\n    y_predicted = torch.clamp(y_predicted, epsilon, 1-epsilon)\n\n    return -(y_target*torch.log(y_predicted) + (1-y_target)*torch.log(1-y_predicted))\n\n# forward pass\n\n# 1. linear transform\nz = w * x + b\n\n# 2. sigmoid\ny_predicted = torch.sigmoid(z)\n\n# 3. compute loss\nloss = binary_cross_entropy_loss(y_predicted, y)\n\nloss\n\n# backpropagation\n\n# 1. dL/d(y_pred): Loss with respect to the prediction (y_pred)\ndloss_dy_pred = (y_predicted - y)/(y_predicted* (1-y_predicted) )\n# 2. dy_pred/dz: Prediction (y_pred) with respect to z (sigmoid derivative)\ndy_pred_dz = y_predicted * (1 - y_predicted)\n# 3. dz/dw and dz/db: z with respect to w and b\ndz_dw = x\ndz_db = 1\n# dz/dw = x|\n# dz/db = 1 (bias contributes directly to z)\ndL_dw = dloss_dy_pred * dy_pred_dz * dz_dw\ndL_db = dloss_dy_pred * dy_pred_dz * dz_db\n\nprint(f\"Manual gradient of loss wrt weight dw: {dL_dw}\")\nprint(f\"Manual gradient of loss wrt bias db: {dL_db}\")\n"
  },
  {
    "id": "classifier-autograd",
    "title": "6. The same classifier by autograd",
    "lesson": "The same forward pass with requires_grad=True on w and b: backward() gives the numbers computed by hand. The gradient check agrees too.",
    "code": "import math\nimport torch\n\n# Binary cross entropy for loss function\ndef binary_cross_entropy_loss(y_predicted, y_target):\n    epsilon = 1e-8 # to prevent log(0)\n\n    y_predicted = torch.clamp(y_predicted, epsilon, 1-epsilon)\n\n    return -(y_target*torch.log(y_predicted) + (1-y_target)*torch.log(1-y_predicted))\n\nx = torch.tensor(6.7)\ny = torch.tensor(0.0)\n\nw = torch.tensor(1.0, requires_grad=True)\nb = torch.tensor(0.0, requires_grad=True)\n\nz = w*x + b\nz\n\ny_predicted = torch.sigmoid(z)\ny_predicted\n\nloss = binary_cross_entropy_loss(y_predicted, y)\nloss\n\nloss.backward()\n\nprint(w.grad)\n\nprint(b.grad)\n"
  },
  {
    "id": "accumulation",
    "title": "7. Gradients accumulate; zero_() resets them",
    "lesson": "Each backward() adds to .grad: 4, then 8. x.grad.zero_() resets it. The passes timeline shows every step.",
    "code": "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x**2\ny.backward()\nprint(x.grad)     # 4\ny = x**2\ny.backward()\nprint(x.grad)     # 8: the second gradient was added\nx.grad.zero_()\nprint(x.grad)     # 0\ny = x**2\ny.backward()\nprint(x.grad)     # 4 again\n"
  },
  {
    "id": "gradients-off",
    "title": "8. Switching gradients off",
    "lesson": "Three ways to keep a tensor out of the graph: requires_grad_(False), .detach() and torch.no_grad(). Each shows as a greyed constant with a dashed edge: no gradient flows back into it.",
    "code": "import torch\nx = torch.tensor(2.0, requires_grad=True)\n\nw = torch.tensor(3.0, requires_grad=True)\nw.requires_grad_(False)     # 1. switched off\n\nd = (x * 4).detach()        # 2. detached: a constant copy\n\nwith torch.no_grad():       # 3. nothing recorded in here\n    n = x * 5\n\ny = x**2 + w * x + d * x + n * x\ny.backward()\nprint(x.grad)   # 2x + w + d + n = 4 + 3 + 8 + 10\n"
  },
  {
    "id": "training-loop",
    "title": "9. A module, an optimiser, zero_grad() and step()",
    "lesson": "Parameters are leaves named by their path (model.weight). optimizer.zero_grad() resets the gradients and step() moves the values: the passes timeline shows both.",
    "code": "import torch\nfrom torch import nn\ntorch.manual_seed(0)\nmodel = nn.Linear(2, 1)\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\nx = torch.tensor([[1.0, 2.0], [3.0, 4.0]])\ny = torch.tensor([[1.0], [2.0]])\nfor step in range(3):\n    optimizer.zero_grad()\n    loss = ((model(x) - y) ** 2).mean()\n    loss.backward()\n    optimizer.step()\n    print(step, round(loss.item(), 4))\n"
  },
  {
    "id": "higher-order",
    "title": "10. Higher-order gradients",
    "lesson": "With create_graph=True, autograd.grad returns a gradient with its own graph: dy/dx = 3x² = 12 can be backpropagated again, giving d²y/dx² = 6x = 12.",
    "code": "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x**3\n(dy,) = torch.autograd.grad(y, x, create_graph=True)\nprint(dy)\ndy.backward()\nprint(x.grad)\n"
  },
  {
    "id": "backward-twice",
    "title": "11. backward() twice through the same graph",
    "lesson": "backward() frees what the graph saved, so a second backward() through it fails. The error says why in plain words; compute the forward pass again, or pass retain_graph=True.",
    "code": "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x**2\ny.backward()\ny.backward()\n",
    "error": true
  }
];
