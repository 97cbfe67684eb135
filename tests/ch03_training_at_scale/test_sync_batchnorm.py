"""Our global-batch BatchNorm equals nn.BatchNorm2d in one process (outputs, grads, stats)."""

import torch
from torch import nn

from dlcurriculum.ch03_training_at_scale.comm import SingleComm
from dlcurriculum.ch03_training_at_scale.sync_batchnorm import SyncBatchNorm2d


def test_matches_batchnorm2d() -> None:
    torch.manual_seed(0)
    ref = nn.BatchNorm2d(3)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-1, 1)
    ours_bn = nn.BatchNorm2d(3)
    ours_bn.load_state_dict(ref.state_dict())
    ours = SyncBatchNorm2d(ours_bn, SingleComm())
    x = torch.randn(4, 3, 5, 5, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    y_ref, y = ref(x), ours(x2)
    assert torch.allclose(y, y_ref, atol=1e-5)
    w = torch.randn_like(y)
    (y_ref * w).sum().backward()
    (y * w).sum().backward()
    assert torch.allclose(x2.grad, x.grad, atol=1e-5)
    assert torch.allclose(ours.weight.grad, ref.weight.grad, atol=1e-5)
    assert torch.allclose(ours.running_var, ref.running_var, atol=1e-6)
    assert torch.allclose(ours.running_mean, ref.running_mean, atol=1e-6)
    ours.eval()
    ref.eval()
    assert torch.allclose(ours(x2), ref(x), atol=1e-5)
