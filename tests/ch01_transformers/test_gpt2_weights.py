"""Our model with GPT-2 weights gives HuggingFace GPT2LMHeadModel's logits (tiny random config)."""

import pytest
import torch

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.gpt2_weights import from_hf_gpt2, load_gpt2_weights
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch01_transformers.sampling import generate
from dlcurriculum.core.errors import DlcError
from tests.extras import require

transformers = require("transformers", "hf")


def _hf_model(**changes: object) -> "transformers.GPT2LMHeadModel":
    config = transformers.GPT2Config(
        vocab_size=61,
        n_positions=24,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=0,
        eos_token_id=0,
        **changes,
    )
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # HF inits biases and LayerNorms to 0 and 1: randomize so a swap shows
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("fast_path", [False, True])
@pytest.mark.parametrize(
    "changes",
    [{}, {"tie_word_embeddings": False}, {"n_inner": 40, "activation_function": "gelu"}],
    ids=str,
)
def test_logits_equal_huggingface_gpt2(fast_path: bool, changes: dict) -> None:
    hf = _hf_model(**changes)
    ours = from_hf_gpt2(hf, fast_path=fast_path)
    tokens = torch.randint(0, 61, (3, 24))
    with torch.no_grad():
        expected = hf(tokens).logits
    torch.testing.assert_close(ours(tokens), expected, atol=1e-5, rtol=1e-5)
    assert ours.cfg.tie_embeddings == changes.get("tie_word_embeddings", True)


def test_greedy_generation_equals_huggingface() -> None:
    hf = _hf_model()
    ours = from_hf_gpt2(hf)
    prompt = torch.randint(0, 61, (2, 5))
    expected = hf.generate(
        prompt,
        max_new_tokens=8,
        do_sample=False,
        pad_token_id=0,
        attention_mask=torch.ones_like(prompt),
    )
    assert torch.equal(generate(ours, prompt, 8, temperature=0.0), expected)


def test_loading_into_a_model_of_another_shape_is_a_clear_error() -> None:
    hf = _hf_model()
    wrong = Transformer(
        TransformerConfig(d_vocab=61, n_ctx=24, d_model=32, n_layers=3, n_heads=4, d_mlp=128)
    )
    with pytest.raises(DlcError, match="n_layers: ours 3 vs GPT-2 2"):
        load_gpt2_weights(wrong, hf)


def test_unsupported_gpt2_variants_are_refused() -> None:
    with pytest.raises(DlcError, match="activation"):
        from_hf_gpt2(_hf_model(activation_function="silu"))
    with pytest.raises(DlcError, match="scaling"):
        from_hf_gpt2(_hf_model(scale_attn_by_inverse_layer_idx=True))
