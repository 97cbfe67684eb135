"""The model: config validation, oracles for its parts, the causal property, the fast path."""

import dataclasses
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from dlcurriculum.ch01_transformers.attention import KVCache
from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.model import (
    LayerNorm,
    Transformer,
    count_params,
    sinusoidal_pos_embed,
)
from dlcurriculum.core.config import ConfigError
from dlcurriculum.core.errors import DlcError

from .helpers import TINY, tiny_model


def test_config_derives_d_head_and_rejects_bad_shapes() -> None:
    assert TINY.d_head == 4
    with pytest.raises(ConfigError, match="d_model=10 must be divisible by n_heads=4"):
        TransformerConfig(d_model=10, n_heads=4)
    with pytest.raises(ConfigError, match=r"^dropout must be in \[0, 1\), got 1.0$"):
        TransformerConfig(dropout=1.0)
    # beartype refuses a bad Literal under pytest; without it, __post_init__ does
    unchecked = SimpleNamespace(**{**dataclasses.asdict(TINY), "act_fn": "tanh"})
    with pytest.raises(ConfigError, match="act_fn must be one of gelu_new, gelu, relu"):
        TransformerConfig.__post_init__(unchecked)  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        TINY.d_model = 32  # type: ignore[misc]


def test_parameter_names_follow_transformerlens() -> None:
    names = {n for n, _ in tiny_model().named_parameters()}
    for expected in (
        "embed.W_E",
        "pos_embed.W_pos",
        "unembed.W_U",
        "blocks.1.attn.W_Q",
        "blocks.1.attn.b_V",
        "blocks.1.attn.W_O",
        "blocks.0.mlp.W_in",
        "blocks.0.mlp.b_out",
        "blocks.0.ln1.w",
        "ln_final.b",
    ):
        assert expected in names
    p = dict(tiny_model().named_parameters())
    assert p["blocks.0.attn.W_Q"].shape == (TINY.n_heads, TINY.d_model, TINY.d_head)
    assert p["blocks.0.attn.W_O"].shape == (TINY.n_heads, TINY.d_head, TINY.d_model)
    assert p["unembed.W_U"].shape == (TINY.d_model, TINY.d_vocab)


def test_sinusoidal_embedding_matches_the_closed_form() -> None:
    pe = sinusoidal_pos_embed(50, 16)
    for pos, i in [(0, 0), (3, 2), (49, 7)]:
        angle = pos / 10000 ** (2 * i / 16)
        assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert sinusoidal_pos_embed(4, 5).shape == (4, 5)


def test_sinusoidal_dot_products_depend_only_on_the_offset() -> None:
    pe = sinusoidal_pos_embed(64, 32)
    for k in (1, 5):
        dots = (pe[:-k] * pe[k:]).sum(-1)  # <PE(p), PE(p + k)> for every p
        torch.testing.assert_close(dots, dots[0].expand_as(dots), atol=1e-5, rtol=0)


@pytest.mark.parametrize("fast_path", [False, True])
def test_layer_norm_equals_torch_layer_norm(fast_path: bool) -> None:
    cfg = dataclasses.replace(TINY, fast_path=fast_path)
    ours, theirs = LayerNorm(cfg), nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
    with torch.no_grad():
        theirs.weight.copy_(torch.randn(cfg.d_model))
        theirs.bias.copy_(torch.randn(cfg.d_model))
        ours.w.copy_(theirs.weight)
        ours.b.copy_(theirs.bias)
    x = 3 * torch.randn(2, 5, cfg.d_model) + 1
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


VARIANTS = [
    {},
    {"pos_embed": "sinusoidal"},
    {"attn_only": True},
    {"tie_embeddings": True},
    {"fast_path": True},
    {"n_layers": 1, "attn_only": True, "act_fn": "relu"},
]


@pytest.mark.parametrize("changes", VARIANTS, ids=str)
def test_changing_token_j_leaves_logits_before_j_unchanged(changes: dict) -> None:
    model = tiny_model(**changes)
    tokens = torch.randint(0, TINY.d_vocab, (2, TINY.n_ctx))
    logits = model(tokens)
    for j in range(TINY.n_ctx):
        changed = tokens.clone()
        changed[:, j] = (
            changed[:, j] + 1 + torch.randint(0, TINY.d_vocab - 1, (2,))
        ) % TINY.d_vocab
        new_logits = model(changed)
        if j > 0:
            assert (new_logits[:, :j] - logits[:, :j]).abs().max().item() <= 1e-6
        assert not torch.allclose(new_logits[:, j:], logits[:, j:])  # the change is visible


@pytest.mark.parametrize("changes", VARIANTS, ids=str)
def test_fast_path_equals_reference_path(changes: dict) -> None:
    ref = tiny_model(**{**changes, "fast_path": False})
    fast = Transformer(dataclasses.replace(ref.cfg, fast_path=True)).eval()
    fast.load_state_dict(ref.state_dict())
    tokens = torch.randint(0, TINY.d_vocab, (3, TINY.n_ctx))
    torch.testing.assert_close(fast(tokens), ref(tokens), atol=1e-5, rtol=1e-5)


def test_attention_only_and_tied_models_have_no_mlp_or_w_u() -> None:
    attn_only = tiny_model(attn_only=True)
    assert not any(".mlp." in n or ".ln2." in n for n, _ in attn_only.named_parameters())
    tied = tiny_model(tie_embeddings=True)
    assert tied.unembed is None
    assert count_params(tied) == count_params(tiny_model()) - TINY.d_model * TINY.d_vocab
    assert torch.equal(tied.W_U, tied.embed.W_E.T)


def test_sinusoidal_positions_are_a_buffer_not_a_parameter() -> None:
    model = tiny_model(pos_embed="sinusoidal")
    assert "pos_embed.W_pos" not in dict(model.named_parameters())
    assert "pos_embed.W_pos" not in model.state_dict()
    torch.testing.assert_close(
        model.pos_embed.W_pos, sinusoidal_pos_embed(TINY.n_ctx, TINY.d_model)
    )


def test_a_sequence_longer_than_the_context_is_a_clear_error() -> None:
    model = tiny_model()
    with pytest.raises(DlcError, match="longer than the model's context"):
        model(torch.zeros(1, TINY.n_ctx + 1, dtype=torch.long))
    cache = KVCache(TINY.n_layers)
    model(torch.zeros(1, TINY.n_ctx, dtype=torch.long), cache)
    with pytest.raises(DlcError, match="n_ctx=12"):
        model(torch.zeros(1, 1, dtype=torch.long), cache)


@pytest.mark.parametrize("changes", VARIANTS, ids=str)
def test_cached_forward_equals_full_forward(changes: dict) -> None:
    model = tiny_model(**changes)
    tokens = torch.randint(0, TINY.d_vocab, (2, 10))
    cache = KVCache(TINY.n_layers if not changes.get("n_layers") else changes["n_layers"])
    parts = [model(tokens[:, :4], cache)] + [
        model(tokens[:, i : i + 1], cache) for i in range(4, 10)
    ]
    torch.testing.assert_close(torch.cat(parts, dim=1), model(tokens), atol=1e-5, rtol=1e-5)


def test_hook_points_are_named_modules() -> None:
    names = {n for n, _ in tiny_model().named_modules()}
    for expected in (
        "blocks.0.attn.hook_pattern",
        "blocks.1.hook_resid_post",
        "blocks.0.hook_attn_out",
        "blocks.0.hook_mlp_out",
        "hook_embed",
    ):
        assert expected in names


def test_hook_points_see_the_residual_stream() -> None:
    model = tiny_model()
    seen: dict[str, torch.Tensor] = {}
    handles = [
        m.register_forward_hook(lambda mod, i, o, name=name: seen.__setitem__(name, o))
        for name, m in model.named_modules()
        if name.endswith(("hook_resid_pre", "hook_resid_post"))
    ]
    try:
        model(torch.randint(0, TINY.d_vocab, (2, 6)))
    finally:
        for h in handles:
            h.remove()
    torch.testing.assert_close(seen["blocks.1.hook_resid_pre"], seen["blocks.0.hook_resid_post"])


def test_dropout_is_active_in_training_only() -> None:
    model = tiny_model(dropout=0.5)
    tokens = torch.randint(0, TINY.d_vocab, (2, 6))
    torch.testing.assert_close(model(tokens), model(tokens))
    model.train()
    assert not torch.allclose(model(tokens), model(tokens))
