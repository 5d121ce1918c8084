"""What kernels may assume of a tensor's memory, and what `.data =`/`.grad =` keep."""

import pytest
import torch
from torch._prims_common import is_non_overlapping_and_dense_or_false as reference

from app.contract.errors import ProgramError
from app.worker.sandbox.tensors import assign_data, assign_grad, is_dense, read_data


def test_dense_means_each_element_its_own_memory_in_one_block() -> None:
    x = torch.randn(4, 5, 6)
    views = [
        x,
        x.transpose(0, 2),
        x[::2],
        x[:, 1:],
        x[..., :1],
        x.unsqueeze(1).expand(4, 3, 5, 6),
        torch.ones(1).expand(5),
        x.unfold(0, 2, 1),
        torch.randn(3, 1, 4)[:, :, 1:],
        torch.randn(1, 1),
        torch.randn(0, 3),
        x.diagonal(),
        x.reshape(-1)[3:7],
        torch.randn(6, 4).t()[1:3],
        torch.randn(2, 3).mT,
        torch.randn(3, 2, dtype=torch.complex64).real,
    ]
    for view in views:
        assert is_dense(view) == reference(view), (tuple(view.shape), view.stride())


def test_data_assignment_keeps_shape_makes_dense_and_counts_as_a_write() -> None:
    w = torch.zeros(2, 3, requires_grad=True)
    version = w._version
    assign_data(w, torch.ones(3, 2).t())
    assert w.is_contiguous()
    assert torch.equal(w.detach(), torch.ones(2, 3))
    assert w._version > version
    for wrong in (torch.ones(3), torch.ones(2, 3, dtype=torch.float64), 1.0):
        with pytest.raises(ProgramError):
            assign_data(w, wrong)


def test_data_is_detach_sharing_the_version_counter() -> None:
    w = torch.ones(3, requires_grad=True)
    y = (w * w).sum()
    read_data(w).add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.backward(y)


def test_grad_assignment_stores_a_dense_copy_of_a_view() -> None:
    p = torch.ones(4, requires_grad=True)
    assign_grad(p, torch.full((1,), 2.0).expand(4))
    assert p.grad is not None
    assert p.grad.stride() == (1,)
    assert torch.equal(p.grad, torch.full((4,), 2.0))
    dense = torch.zeros(4)
    assign_grad(p, dense)
    assert p.grad is dense  # as in PyTorch, a dense gradient is the tensor given
    assign_grad(p, None)
    assert p.grad is None
    with pytest.raises(ProgramError):
        assign_grad(p, torch.ones(1))
