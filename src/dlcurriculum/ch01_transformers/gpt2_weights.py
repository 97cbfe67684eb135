"""Load HuggingFace GPT-2 weights into our Transformer (a check that the maths is GPT-2's).

Ref: Radford et al. 2019 (GPT-2); HuggingFace `transformers` `modeling_gpt2.py`.

Works on any `GPT2LMHeadModel`: a tiny random one in tests, or the real one for users online:

    from transformers import GPT2LMHeadModel
    model = from_hf_gpt2(GPT2LMHeadModel.from_pretrained("gpt2"))

`transformers` is the optional extra `hf`; nothing here imports it.
"""

from typing import Any

import einops
import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.core.errors import DlcError

# HF activation names -> ours; gelu_pytorch_tanh is the same function as gelu_new.
_ACTIVATIONS = {
    "gelu_new": "gelu_new",
    "gelu_pytorch_tanh": "gelu_new",
    "gelu": "gelu",
    "relu": "relu",
}


def config_from_gpt2(hf_config: Any, fast_path: bool = False) -> TransformerConfig:
    """Our TransformerConfig for a HuggingFace `GPT2Config`.

    Raises:
        DlcError: the config uses a GPT-2 variant our model does not implement.
    """
    act = _ACTIVATIONS.get(hf_config.activation_function)
    if act is None:
        raise DlcError(
            f"GPT-2 activation {hf_config.activation_function!r} is not supported: "
            f"use one of {', '.join(_ACTIVATIONS)}"
        )
    if not hf_config.scale_attn_weights or hf_config.scale_attn_by_inverse_layer_idx:
        raise DlcError(
            "only GPT-2's standard 1/sqrt(d_head) attention scaling is supported "
            "(scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False)"
        )
    n_inner = hf_config.n_inner
    return TransformerConfig(
        d_vocab=hf_config.vocab_size,
        n_ctx=hf_config.n_positions,
        d_model=hf_config.n_embd,
        n_layers=hf_config.n_layer,
        n_heads=hf_config.n_head,
        d_mlp=n_inner if n_inner is not None else 4 * hf_config.n_embd,
        pos_embed="learned",
        tie_embeddings=bool(getattr(hf_config, "tie_word_embeddings", True)),
        act_fn=act,  # type: ignore[arg-type]
        layer_norm_eps=hf_config.layer_norm_epsilon,
        fast_path=fast_path,
    )


def _in_out(layer: Any) -> Tensor:
    """A projection's weight as [in, out].

    GPT-2's `Conv1D` already stores [in, out] (it computes x @ W); an `nn.Linear` stores
    [out, in] and needs a transpose. Ours are [in, out] like Conv1D.
    """
    weight = layer.weight
    assert isinstance(weight, Tensor)
    return weight.T if isinstance(layer, nn.Linear) else weight


def _attention_weights(hf_attn: Any, n_heads: int) -> dict[str, Tensor]:
    """W_Q..b_O from GPT-2's fused c_attn ([d_model, 3 d_model]) and c_proj."""
    qkv_w = _in_out(hf_attn.c_attn)  # [d_model, 3 * n_heads * d_head]
    qkv_b = hf_attn.c_attn.bias
    d_model = qkv_w.shape[0]
    out: dict[str, Tensor] = {}
    for name, w, b in zip("QKV", qkv_w.split(d_model, dim=1), qkv_b.split(d_model), strict=True):
        out[f"W_{name}"] = einops.rearrange(
            w, "d_model (n_heads d_head) -> n_heads d_model d_head", n_heads=n_heads
        )
        out[f"b_{name}"] = einops.rearrange(
            b, "(n_heads d_head) -> n_heads d_head", n_heads=n_heads
        )
    out["W_O"] = einops.rearrange(
        _in_out(hf_attn.c_proj),
        "(n_heads d_head) d_model -> n_heads d_head d_model",
        n_heads=n_heads,
    )
    out["b_O"] = hf_attn.c_proj.bias
    return out


def gpt2_state_dict(hf_model: Any, cfg: TransformerConfig) -> dict[str, Tensor]:
    """Our state dict (TransformerLens names) holding the weights of a HF GPT-2 model.

    `hf_model` is a `GPT2LMHeadModel` or `GPT2Model` (typed Any: transformers is optional).
    """
    base = getattr(hf_model, "transformer", hf_model)  # GPT2LMHeadModel or GPT2Model
    sd: dict[str, Tensor] = {"embed.W_E": base.wte.weight, "pos_embed.W_pos": base.wpe.weight}
    for i, hf_block in enumerate(base.h):
        p = f"blocks.{i}."
        sd[p + "ln1.w"], sd[p + "ln1.b"] = hf_block.ln_1.weight, hf_block.ln_1.bias
        sd[p + "ln2.w"], sd[p + "ln2.b"] = hf_block.ln_2.weight, hf_block.ln_2.bias
        for name, tensor in _attention_weights(hf_block.attn, cfg.n_heads).items():
            sd[p + "attn." + name] = tensor
        sd[p + "mlp.W_in"] = _in_out(hf_block.mlp.c_fc)
        sd[p + "mlp.b_in"] = hf_block.mlp.c_fc.bias
        sd[p + "mlp.W_out"] = _in_out(hf_block.mlp.c_proj)
        sd[p + "mlp.b_out"] = hf_block.mlp.c_proj.bias
    sd["ln_final.w"], sd["ln_final.b"] = base.ln_f.weight, base.ln_f.bias
    if not cfg.tie_embeddings:
        sd["unembed.W_U"] = _in_out(hf_model.lm_head)
    return {k: v.detach().clone().contiguous() for k, v in sd.items()}


def load_gpt2_weights(model: Transformer, hf_model: Any) -> Transformer:
    """Copy a HF GPT-2 model's weights into `model` (in place) and return it.

    Raises:
        DlcError: `model`'s config does not match the HF model's shapes.
    """
    expected = config_from_gpt2(hf_model.config, fast_path=model.cfg.fast_path)
    ours = {k: v for k, v in vars(model.cfg).items() if k not in ("dropout", "init_range")}
    theirs = {k: v for k, v in vars(expected).items() if k not in ("dropout", "init_range")}
    diff = {k: (ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]}
    if diff:
        detail = ", ".join(f"{k}: ours {a} vs GPT-2 {b}" for k, (a, b) in diff.items())
        raise DlcError(
            f"cannot load these GPT-2 weights: {detail}; build the model with from_hf_gpt2"
        )
    with torch.no_grad():
        model.load_state_dict(gpt2_state_dict(hf_model, model.cfg))
    return model


def from_hf_gpt2(hf_model: Any, fast_path: bool = False) -> Transformer:
    """A new Transformer with the config and weights of a HF `GPT2LMHeadModel`, in eval mode."""
    cfg = config_from_gpt2(hf_model.config, fast_path=fast_path)
    model = load_gpt2_weights(Transformer(cfg), hf_model)
    return model.eval()
