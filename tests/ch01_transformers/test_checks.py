"""The graders reject known-wrong versions with the right hint; `--impl` runs learner code.

That each check passes on the reference and fails on the skeleton is tested for every
chapter in tests/core/test_exercises.py.
"""

import dataclasses
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from dlcurriculum.ch01_transformers import checks
from dlcurriculum.ch01_transformers.attention import (
    Attention,
    attention,
    attention_pattern,
    causal_mask,
)
from dlcurriculum.ch01_transformers.chapter import EXERCISES
from dlcurriculum.ch01_transformers.config import PRESETS
from dlcurriculum.ch01_transformers.experiments import run_reverse
from dlcurriculum.ch01_transformers.model import (
    LayerNorm,
    Transformer,
    TransformerBlock,
    sinusoidal_pos_embed,
)
from dlcurriculum.core import exercises
from dlcurriculum.core.checks import ExerciseFailure


def test_every_exercise_has_its_check() -> None:
    for ex in EXERCISES:
        assert callable(getattr(checks, ex.check)), ex.check


def _swapped_pos_embed(n_ctx: int, d_model: int) -> Tensor:
    pe = sinusoidal_pos_embed(n_ctx, d_model)
    out = pe.clone()
    out[:, 0::2], out[:, 1::2] = pe[:, 1::2], pe[:, 0::2]
    return out


def _unscaled_pattern(q: Tensor, k: Tensor, mask: Tensor | None = None) -> Tensor:
    return attention_pattern(q * q.shape[-1] ** 0.5, k, mask)


def _unmasked_attention(q, k, v, mask=None, hook=None) -> Tensor:  # type: ignore[no-untyped-def]
    return attention(q, k, v, None, hook)


class _UnbiasedLayerNorm(LayerNorm):
    def forward(self, x: Tensor) -> Tensor:
        x = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + 1e-5)
        return x * self.w + self.b


class _UnmaskedAttention(Attention):
    def forward(self, x: Tensor, cache=None) -> Tensor:  # type: ignore[no-untyped-def]
        q, k, v = (
            torch.einsum("bpd,hde->bhpe", x, W) + b[:, None]
            for W, b in ((self.W_Q, self.b_Q), (self.W_K, self.b_K), (self.W_V, self.b_V))
        )
        z = F.scaled_dot_product_attention(q, k, v)
        return torch.einsum("bhpe,hed->bpd", z, self.W_O) + self.b_O


class _NoResidualBlock(TransformerBlock):
    def forward(self, resid_pre: Tensor, cache=None) -> Tensor:  # type: ignore[no-untyped-def]
        mid = self.attn(self.ln1(resid_pre), cache)
        return self.mlp(self.ln2(mid)) if self.mlp is not None else mid


class _PostLNBlock(TransformerBlock):
    def forward(self, resid_pre: Tensor, cache=None) -> Tensor:  # type: ignore[no-untyped-def]
        mid = self.ln1(resid_pre + self.attn(resid_pre, cache))
        return self.ln2(mid + self.mlp(mid)) if self.mlp is not None else mid


class _LeakyTransformer(Transformer):
    def forward(self, tokens: Tensor, cache=None) -> Tensor:  # type: ignore[no-untyped-def]
        logits = super().forward(tokens, cache)
        return logits + logits.mean(dim=1, keepdim=True)  # every position sees the future


class _NoOffsetTransformer(Transformer):
    def forward(self, tokens: Tensor, cache=None) -> Tensor:  # type: ignore[no-untyped-def]
        resid = self.embed(tokens) + self.pos_embed(tokens.shape[1])  # forgets cache.n_pos
        for i, block in enumerate(self.blocks):
            resid = block(resid, None if cache is None else cache.layers[i])
        return self.ln_final(resid) @ self.W_U


WRONG = [
    (checks.check_sinusoidal_pos_embed, _swapped_pos_embed, "swapped"),
    (checks.check_causal_mask, lambda n_q, n_k=None: ~causal_mask(n_q, n_k), "inverted"),
    (
        checks.check_causal_mask,
        lambda n_q, n_k=None: torch.ones(n_q, n_k or n_q).tril().bool(),
        "last n_q",
    ),
    (checks.check_attention_pattern, _unscaled_pattern, "sqrt"),
    (checks.check_attention, _unmasked_attention, "causal mask"),
    (checks.check_layer_norm, _UnbiasedLayerNorm, "unbiased"),
    (checks.check_multi_head_attention, _UnmaskedAttention, "nn.MultiheadAttention"),
    (checks.check_transformer_block, _NoResidualBlock, "residual connections are missing"),
    (checks.check_transformer_block, _PostLNBlock, "post-LN"),
    (checks.check_transformer, _LeakyTransformer, "must not see the future"),
    (checks.check_transformer, _NoOffsetTransformer, "cache.n_pos"),
]


@pytest.mark.parametrize(("check", "impl", "message"), WRONG, ids=[w[2] for w in WRONG])
def test_check_rejects_a_known_wrong_version(check, impl, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExerciseFailure, match=message):
        check(impl)


def test_impl_workspace_runs_end_to_end(tmp_path: Path) -> None:
    """A workspace holding correct code trains; one holding the skeleton stops at a stub."""
    exercises.start("ch01_transformers", tmp_path / "skeleton")
    with pytest.raises(NotImplementedError):
        run_reverse(
            dataclasses.replace(PRESETS["reverse"]["smoke"], impl=str(tmp_path / "skeleton")),
            tmp_path,
        )
    solved = tmp_path / "solved" / "ch01_transformers"
    solved.mkdir(parents=True)
    for module in ("attention", "model"):
        shutil.copy(exercises.reference_path("ch01_transformers", module), solved / f"{module}.py")
    # fast_path is ignored with impl: the learner's attention must run
    cfg = dataclasses.replace(
        PRESETS["reverse"]["smoke"], impl=str(tmp_path / "solved"), fast_path=True
    )
    assert not cfg.model_config(2, 2).fast_path
    run_dir = tmp_path / "run_solved"
    run_dir.mkdir()
    result = run_reverse(cfg, run_dir)
    assert result.summary["second_half_accuracy"] >= 0.99
