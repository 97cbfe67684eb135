"""Schedule, optimizer groups and one training step."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from dlcurriculum.ch01_transformers.lm_training import lm_loss, lr_at, make_optimizer, train_step
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch01_transformers.reversal import (
    evaluate_reversal,
    per_position_accuracy,
    reversal_batch,
)

from .helpers import tiny_model


def test_warmup_then_cosine_to_min_lr() -> None:
    assert lr_at(0, 1.0, 10, 100, 0.1) == pytest.approx(0.1)
    assert lr_at(9, 1.0, 10, 100, 0.1) == pytest.approx(1.0)
    assert lr_at(55, 1.0, 10, 100, 0.1) == pytest.approx(0.55)
    assert lr_at(100, 1.0, 10, 100, 0.1) == pytest.approx(0.1)
    assert lr_at(500, 1.0, 10, 100, 0.1) == pytest.approx(0.1)


def test_weight_decay_only_on_matrices() -> None:
    opt = make_optimizer(tiny_model(), lr=1e-3, weight_decay=0.1)
    decayed, plain = opt.param_groups
    assert all(p.ndim >= 2 for p in decayed["params"]) and decayed["weight_decay"] == 0.1
    assert all(p.ndim == 1 for p in plain["params"]) and plain["weight_decay"] == 0.0


def test_lm_loss_of_a_uniform_model_is_log_vocab() -> None:
    logits = torch.zeros(2, 5, 7)
    tokens = torch.randint(0, 7, (2, 5))
    assert lm_loss(logits, tokens).item() == pytest.approx(torch.log(torch.tensor(7.0)).item())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_lm_loss_and_its_gradient_equal_cross_entropy_on_the_shifted_tokens(dtype) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    logits = (3 * torch.randn(3, 9, 50)).to(dtype)
    tokens = torch.randint(0, 50, (3, 9))
    tokens[0, 4] = tokens[0, 3]  # a repeated target, and a row whose target is argmax
    ours_in, ref_in = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    ours = lm_loss(ours_in, tokens)
    ref = F.cross_entropy(ref_in[:, :-1].flatten(0, 1).float(), tokens[:, 1:].flatten())
    (2.5 * ours).backward()
    (2.5 * ref).backward()
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)
    assert ours_in.grad.dtype == dtype
    tol = 1e-7 if dtype == torch.float32 else 1e-2
    torch.testing.assert_close(ours_in.grad.float(), ref_in.grad.float(), atol=tol, rtol=tol)
    assert (ours_in.grad[:, -1] == 0).all()  # the last position predicts nothing


def test_lm_loss_refuses_a_second_backward_rather_than_give_a_wrong_gradient() -> None:
    logits = torch.randn(2, 5, 7, requires_grad=True)
    loss = lm_loss(logits, torch.randint(0, 7, (2, 5)))
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_train_step_lowers_the_loss_and_clips() -> None:
    model = tiny_model()
    opt = make_optimizer(model, lr=1e-2, weight_decay=0.0)
    tokens = torch.randint(0, 23, (4, 12))
    first, grad_norm = train_step(model, opt, tokens, lr=1e-2, max_grad_norm=1e-3)
    assert grad_norm > 1e-3  # reported before clipping
    for _ in range(30):
        last, _ = train_step(model, opt, tokens, lr=1e-2, max_grad_norm=1.0)
    assert last < 0.5 * first


@pytest.mark.parametrize("changes", [{}, {"tie_embeddings": True, "act_fn": "gelu"}], ids=str)
def test_fast_path_trains_like_the_reference_path(changes: dict) -> None:
    """Same init, same batches: the fast path's losses (fused kernels and fused AdamW, as
    train_lm runs it) follow the reference path's step for step."""
    ref = tiny_model(**changes)
    fast = Transformer(dataclasses.replace(ref.cfg, fast_path=True))
    fast.load_state_dict(ref.state_dict())
    g = torch.Generator().manual_seed(0)
    batches = 10 * list(torch.randint(0, ref.cfg.d_vocab, (4, 8, ref.cfg.n_ctx), generator=g))
    losses = []
    for model, fused in ((ref, False), (fast, True)):
        opt = make_optimizer(model, lr=1e-2, weight_decay=0.1, fused=fused)
        losses.append([train_step(model, opt, b, 1e-2, max_grad_norm=1.0)[0] for b in batches])
    assert losses[0][-1] < losses[0][0] - 0.5  # 4 batches, seen 10 times: it learns them
    torch.testing.assert_close(losses[1], losses[0], rtol=0, atol=1e-5)


def test_reversal_batch_layout() -> None:
    tokens = reversal_batch(3, 4, 8, torch.Generator().manual_seed(0))
    assert tokens.shape == (3, 9)
    assert (tokens[:, 0] == 8).all()
    assert torch.equal(tokens[:, 5:], tokens[:, 1:5].flip(1))


def test_per_position_accuracy_of_a_perfect_predictor() -> None:
    tokens = reversal_batch(5, 3, 6)
    logits = torch.nn.functional.one_hot(tokens[:, 1:], 7).float()
    logits = torch.cat([logits, torch.zeros(5, 1, 7)], dim=1)
    assert torch.equal(per_position_accuracy(logits, tokens), torch.ones(6))


def test_a_tiny_model_learns_only_the_second_half_of_reversal() -> None:
    torch.manual_seed(0)
    from dlcurriculum.ch01_transformers.config import TransformerConfig
    from dlcurriculum.ch01_transformers.model import Transformer

    L, V = 4, 8
    model = Transformer(
        TransformerConfig(
            d_vocab=V + 1,
            n_ctx=2 * L + 1,
            d_model=32,
            n_layers=1,
            n_heads=2,
            d_mlp=64,
            attn_only=True,
        )
    )
    opt = make_optimizer(model, lr=3e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    for step in range(300):
        train_step(model, opt, reversal_batch(64, L, V, g), lr_at(step, 3e-3, 30, 300, 3e-4), 1.0)
    result = evaluate_reversal(model, 2000, L, V)
    assert result["second_half_accuracy"] >= 0.99
    assert abs(result["first_half_accuracy"] - 1 / V) < 0.03
