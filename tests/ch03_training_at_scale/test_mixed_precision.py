"""Mixed precision: our dynamic loss scaler behaves like torch.amp.GradScaler; bf16 is close."""

import torch
import torch.nn.functional as F

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.lm_training import lm_loss
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch03_training_at_scale.mixed_precision import (
    DynamicLossScaler,
    autocast,
    fp16_representable,
)


def _run(scaler, overflow_steps: set[int]) -> tuple[list[float], list[bool], torch.Tensor]:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scales, stepped = [], []
    g = torch.Generator().manual_seed(1)
    for step in range(12):
        x = torch.randn(8, 4, generator=g)
        opt.zero_grad()
        loss = F.mse_loss(model(x), torch.zeros(8, 2))
        if step in overflow_steps:
            loss = loss * float("inf")  # an fp16 overflow, as the backward pass would see it
        before = model.weight.detach().clone()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        stepped.append(not torch.equal(before, model.weight))
        scales.append(scaler.get_scale())
    return scales, stepped, model.weight.detach()


def test_loss_scaler_matches_grad_scaler_through_overflows_and_growth() -> None:
    overflow = {2, 3, 9}
    kwargs = {"init_scale": 2.0**10, "growth_interval": 3}
    ours = _run(DynamicLossScaler(**kwargs), overflow)
    theirs = _run(torch.amp.GradScaler("cpu", **kwargs), overflow)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
    assert torch.allclose(ours[2], theirs[2])
    # the behaviour itself: skip + halve on overflow, double after 3 clean steps
    assert ours[1][2] is False and ours[0][2] == 2.0**9 and ours[0][3] == 2.0**8
    assert ours[0][6] == 2.0**9  # steps 4, 5, 6 clean


def test_unscale_then_clip_then_step() -> None:
    scaler = DynamicLossScaler(init_scale=8.0)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    scaler.scale(model(torch.ones(1, 2)).sum()).backward()
    scaler.unscale_(opt)
    assert torch.allclose(model.weight.grad, torch.ones(1, 2))
    assert scaler.step(opt) is True


def test_loss_scaling_rescues_small_gradients_from_fp16_underflow() -> None:
    grads = torch.full((100,), 1e-8)
    assert fp16_representable(grads) == 0.0
    assert fp16_representable(grads, scale=2.0**16) == 1.0


def test_bf16_autocast_stays_close_to_fp32() -> None:
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(d_vocab=64, n_ctx=16, d_model=32, n_heads=4, d_mlp=64))
    tokens = torch.randint(64, (4, 16))
    fp32 = lm_loss(model(tokens), tokens)
    with autocast("cpu", "bf16"):
        logits = model(tokens)
    assert logits.dtype == torch.bfloat16
    bf16 = lm_loss(logits, tokens)
    assert abs(bf16.item() - fp32.item()) < 0.02 * fp32.item()


def _fp16_training(scaler) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(d_vocab=64, n_ctx=16, d_model=32, n_heads=4, d_mlp=64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    tokens = torch.randint(64, (8, 16))
    losses, scales = [], []
    for _ in range(15):
        opt.zero_grad()
        with autocast("cpu", "fp16"):
            logits = model(tokens)
        loss = lm_loss(logits, tokens)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
        scales.append(scaler.get_scale())
    return losses, scales


def test_fp16_training_backs_off_real_overflows_like_grad_scaler() -> None:
    """Starting at S=2^24 the fp16 backward overflows; both scalers back off identically."""
    kwargs = {"init_scale": 2.0**24, "growth_interval": 5}
    ours = _fp16_training(DynamicLossScaler(**kwargs))
    theirs = _fp16_training(torch.amp.GradScaler("cpu", **kwargs))
    assert ours[1] == theirs[1]
    assert ours[0] == theirs[0]
    assert ours[1][0] < 2.0**24  # real overflows happened
    assert ours[0][-1] < ours[0][0] - 0.5  # and training still made progress
