"""The Triton fused Adam equals torch.optim.Adam over many steps (interpreted on CPU)."""

import pytest
import torch

from dlcurriculum.ch03_training_at_scale import fused_adam
from tests.extras import require


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 20), torch.nn.Tanh(), torch.nn.Linear(20, 3))


def test_fused_adam_equals_torch_adam(monkeypatch: pytest.MonkeyPatch) -> None:
    require("triton", "gpu")
    if not torch.cuda.is_available():
        monkeypatch.setenv("TRITON_INTERPRET", "1")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ours, ref = _model().to(device), _model().to(device)
    opt = fused_adam.FusedAdam(ours.parameters(), lr=1e-2, weight_decay=1e-2)
    ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-2, weight_decay=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(25):
        x = torch.randn(16, 6, generator=g).to(device)
        for model, o in ((ours, opt), (ref, ref_opt)):
            o.zero_grad()
            model(x).pow(2).mean().backward()
            o.step()
    for p, q in zip(ours.parameters(), ref.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), (p - q).abs().max()
    # the parameters really live in the one flat buffer the kernel updates
    first = next(ours.parameters())
    assert first.data_ptr() == opt.flat.data_ptr()


def test_without_gpu_or_interpreter_it_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    t = torch.zeros(4)
    with pytest.raises(fused_adam.DlcError, match="TRITON_INTERPRET=1"):
        fused_adam.fused_adam_update(t, t, t, t, 1, 1e-3)
