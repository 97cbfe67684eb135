"""Typical single mistakes in chapter 1's exercises: each fails its check, and the message
names the mistake (tests/mutations.py)."""

import sys

import pytest

from dlcurriculum.core.exercises import check
from tests.mutations import (
    Mutation,
    assert_named,
    lay_out,
)

SLUG = "ch01_transformers"
SIN_COS = (
    "    pe[:, 0::2] = torch.sin(angles)\n    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])\n"
)
ANGLES = (
    "    pos = torch.arange(n_ctx, dtype=torch.float64)[:, None]\n"
    "    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)\n"
)
SCALE = "    scores = scores / math.sqrt(q.shape[-1])\n"
MASK_FILL = '        scores = scores.masked_fill(~mask, float("-inf"))\n'
SOFTMAX = "    return scores.softmax(dim=-1)\n"
HOOK = "        pattern = hook(pattern)\n"
MEAN_VAR = (
    "        mean = x.mean(dim=-1, keepdim=True)\n"
    "        var = x.var(dim=-1, keepdim=True, correction=0)\n"
)
LN = "        return (x - mean) / torch.sqrt(var + self.cfg.layer_norm_eps) * self.w + self.b\n"
LN_STUB = MEAN_VAR + LN
MHA_MASK = "        mask = causal_mask(q.shape[-2], k.shape[-2], device=x.device)\n"
ATTN_OUT = "self.attn(self.ln1(resid_pre), cache)"
RESID_MID = "self.hook_resid_mid(resid_pre + attn_out)"
MLP_IN = "self.mlp(self.ln2(resid_mid))"
POS = "self.pos_embed(tokens.shape[1], offset)"

MUTATIONS = [
    # sinusoidal_pos_embed
    Mutation(
        "sinusoidal_pos_embed",
        SIN_COS,
        SIN_COS.replace("sin(", "COS(").replace("cos(", "sin(").replace("COS(", "cos("),
        r"[Ss]wapped",
    ),
    Mutation("sinusoidal_pos_embed", ANGLES, ANGLES.replace("float64", "float32"), r"float64"),
    Mutation(
        "sinusoidal_pos_embed",
        "torch.arange(0, d_model, 2, dtype=torch.float64) / d_model",
        "torch.arange(0, d_model // 2, dtype=torch.float64) / d_model",
        r"step torch\.arange\(0, d_model, 2\)",
    ),
    Mutation(
        "sinusoidal_pos_embed",
        SIN_COS,
        "    half = (d_model + 1) // 2\n"
        "    pe[:, :half] = torch.sin(angles)\n"
        "    pe[:, half:] = torch.cos(angles[:, : d_model // 2])\n",
        r"[Ii]nterleave",
    ),
    # attention_pattern
    Mutation("attention_pattern", SCALE, "", r"divide the scores by sqrt\(d_head\)"),
    Mutation(
        "attention_pattern",
        SCALE,
        SCALE.replace("math.sqrt(q.shape[-1])", "q.shape[-1]"),
        r"sqrt\(d_head\), not (by )?d_head",
    ),
    Mutation(
        "attention_pattern",
        "    if mask is not None:\n" + MASK_FILL + SOFTMAX,
        "    pattern = scores.softmax(dim=-1)\n"
        "    if mask is not None:\n"
        "        pattern = pattern.masked_fill(~mask, 0.0)\n"
        "    return pattern\n",
        r"before the softmax",
    ),
    Mutation("attention_pattern", SOFTMAX, SOFTMAX.replace("-1", "-2"), r"over the keys"),
    Mutation("attention_pattern", "masked_fill(~mask", "masked_fill(mask", r"True means"),
    # attention
    Mutation("attention", HOOK, "        hook(pattern)\n", r"what the hook returns"),
    Mutation("attention", "    if hook is not None:\n" + HOOK, "", r"call the hook once"),
    Mutation(
        "attention", "attention_pattern(q, k, mask)", "attention_pattern(q, k)", r"Pass the mask on"
    ),
    Mutation(
        "attention",
        "einops.einsum(pattern, v,",
        "einops.einsum(pattern, k,",
        r"values, not the keys",
    ),
    # causal_mask
    Mutation("causal_mask", "return k_abs <= q_abs", "return k_abs < q_abs", r"attend to itself"),
    Mutation("causal_mask", " + (n_k - n_q)", "", r"last n_q"),
    Mutation("causal_mask", " + (n_k - n_q)", " + (n_k - n_q + 1)", r"Off by one.*future"),
    Mutation("causal_mask", "return k_abs <= q_abs", "return k_abs > q_abs", r"inverted"),
    Mutation("causal_mask", "return k_abs <= q_abs", "return k_abs >= q_abs", r"transposed"),
    # layer_norm
    Mutation("layer_norm", ", correction=0", "", r"unbiased"),
    Mutation(
        "layer_norm",
        "torch.sqrt(var + self.cfg.layer_norm_eps)",
        "(torch.sqrt(var) + self.cfg.layer_norm_eps)",
        r"inside the square root",
    ),
    Mutation("layer_norm", MEAN_VAR, MEAN_VAR.replace("dim=-1", "dim=1"), r"not over positions"),
    Mutation("layer_norm", " * self.w + self.b\n", " * self.w\n", r"add the bias b"),
    Mutation("layer_norm", "return (x - mean) /", "return x /", r"[Ss]ubtract the mean"),
    # multi_head_attention
    Mutation("multi_head_attention", MHA_MASK, "        mask = None\n", r"Apply the causal mask"),
    Mutation(
        "multi_head_attention",
        "einops.einsum(x, self.W_Q, to_heads) + self.b_Q[:, None, :]",
        "einops.einsum(x, self.W_Q, to_heads)",
        r"bias b_Q",
    ),
    Mutation(
        "multi_head_attention",
        "            k, v = cache.append(k, v)\n",
        "            cache.append(k, v)\n",
        r"Attend to all keys",
    ),
    Mutation(
        "multi_head_attention",
        MHA_MASK,
        MHA_MASK.replace("k.shape[-2]", "q.shape[-2]"),
        r"last n_new of the n_all keys",
    ),
    Mutation("multi_head_attention", "from_heads) + self.b_O", "from_heads)", r"bias b_O"),
    Mutation("multi_head_attention", "mask, hook=self.hook_pattern)", "mask)", r"hook_pattern"),
    # transformer_block
    Mutation(
        "transformer_block",
        RESID_MID,
        "self.hook_resid_mid(attn_out)",
        r"attention's residual connection",
    ),
    Mutation(
        "transformer_block",
        "return self.hook_resid_post(resid_mid + mlp_out)",
        "return self.hook_resid_post(mlp_out)",
        r"MLP's residual connection",
    ),
    Mutation(
        "transformer_block",
        f"        attn_out = self.hook_attn_out(self.dropout({ATTN_OUT}))\n",
        "        resid_pre = self.ln1(resid_pre)\n"
        "        attn_out = self.hook_attn_out(self.dropout(self.attn(resid_pre, cache)))\n",
        r"residual stream itself",
    ),
    Mutation("transformer_block", MLP_IN, "self.mlp(self.ln1(resid_mid))", r"own LayerNorm"),
    Mutation("transformer_block", MLP_IN, "self.mlp(self.ln2(resid_pre))", r"not resid_pre"),
    # transformer
    Mutation(
        "transformer",
        "self.ln_final(resid) @ self.W_U",
        "resid @ self.W_U",
        r"final LayerNorm \(ln_final\)",
    ),
    Mutation("transformer", "embed + pos_embed", "embed", r"Add the positional embedding"),
    Mutation(
        "transformer",
        POS,
        "self.pos_embed(tokens.shape[1])",
        r"first new token's position is `offset`",
    ),
    Mutation(
        "transformer",
        "None if cache is None else cache.layers[i]",
        "None",
        r"cache\.layers\[i\]\), so new tokens",
    ),
    Mutation(
        "transformer",
        LN_STUB,
        '        raise NotImplementedError("forward: see the docstring")\n',
        r"LayerNorm\.forward is not written yet",
        module="model",
    ),
]
OFFLINE = [m for m in MUTATIONS if m.exercise == "transformer"]


@pytest.mark.parametrize("mutation", OFFLINE, ids=str)
def test_the_mistake_is_named_without_transformers(  # type: ignore[no-untyped-def]
    mutation: Mutation, tmp_path, monkeypatch
) -> None:
    """Without the `hf` extra the offline GPT-2 oracle is as strict as HF's."""
    monkeypatch.setitem(sys.modules, "transformers", None)
    assert_named(SLUG, mutation, tmp_path)


def test_the_check_says_when_gpt2_is_absent(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "transformers", None)
    lay_out(SLUG, tmp_path, OFFLINE[0])
    [result] = check(SLUG, tmp_path, "transformer")
    assert "transformers is not installed" in result.message, result.message


def test_a_pass_says_when_gpt2_is_absent(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "transformers", None)
    lay_out(SLUG, tmp_path)
    [result] = check(SLUG, tmp_path, "transformer")
    assert result.passed, result.message
    assert "transformers is not installed" in capsys.readouterr().out


def test_minus_1e4_for_masked_scores_passes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A large negative score instead of -inf is a fine way to mask."""
    lay_out(SLUG, tmp_path, Mutation("attention_pattern", 'float("-inf")', "-1e4", None))
    for name in ("attention_pattern", "attention", "multi_head_attention", "transformer"):
        [result] = check(SLUG, tmp_path, name)
        assert result.passed, result.message
