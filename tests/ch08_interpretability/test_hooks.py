"""core.hooks: capture and patch are context managers that never leave a hook behind."""

import pytest
import torch
from torch import nn

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.hooks import capture, hook_count, patch


@pytest.fixture
def model():
    cfg = TransformerConfig(d_vocab=11, n_ctx=8, d_model=16, n_layers=2, n_heads=2, attn_only=True)
    return Transformer(cfg).eval()


def test_capture_records_patterns_that_are_probabilities(model):
    tokens = torch.randint(0, 11, (3, 8))
    names = ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_z"]
    with capture(model, names) as cache:
        model(tokens)
    assert cache[names[0]].shape == (3, 2, 8, 8)
    assert cache[names[1]].shape == (3, 2, 8, 8)
    torch.testing.assert_close(cache[names[0]].sum(-1), torch.ones(3, 2, 8))
    assert not cache[names[0]].requires_grad
    assert hook_count(model) == 0


def test_capture_can_keep_the_graph(model):
    tokens = torch.randint(0, 11, (2, 8))
    with capture(model, ["blocks.0.hook_resid_post"], detach=False) as cache:
        model(tokens)
    assert cache["blocks.0.hook_resid_post"].requires_grad


def test_patch_replaces_an_activation(model):
    tokens = torch.randint(0, 11, (2, 8))
    clean = model(tokens)
    with patch(model, {"blocks.1.hook_resid_post": torch.zeros_like}):
        zeroed = model(tokens)
    # A zero residual stream through the final LayerNorm gives logits b @ W_U (b = 0 at init).
    torch.testing.assert_close(zeroed, torch.zeros_like(zeroed))
    torch.testing.assert_close(model(tokens), clean)
    assert hook_count(model) == 0


def test_hooks_are_removed_when_the_forward_pass_raises(model):
    def boom(x):
        raise RuntimeError("hook failed")

    with pytest.raises(RuntimeError, match="hook failed"):
        with (
            capture(model, ["blocks.0.attn.hook_pattern"]),
            patch(model, {"blocks.0.attn.hook_z": boom}),
        ):
            model(torch.zeros(1, 8, dtype=torch.long))
    assert hook_count(model) == 0


def test_nested_contexts_stack_and_unwind(model):
    tokens = torch.randint(0, 11, (1, 8))
    double = {"blocks.0.hook_attn_out": lambda x: 2 * x}
    with capture(model, ["blocks.0.hook_attn_out"]) as outer:
        with patch(model, double), capture(model, ["blocks.0.hook_resid_mid"]) as inner:
            model(tokens)
            assert hook_count(model) == 3
        assert hook_count(model) == 1
    assert hook_count(model) == 0
    # capture registered first, so it saw the activation before the patch doubled it...
    resid_pre = inner["blocks.0.hook_resid_mid"] - 2 * outer["blocks.0.hook_attn_out"]
    with capture(model, ["blocks.0.hook_resid_pre"]) as clean:
        model(tokens)
    # ...and the patched output is what reached the residual stream.
    torch.testing.assert_close(resid_pre, clean["blocks.0.hook_resid_pre"])


def test_unknown_name_is_a_clear_error(model):
    with pytest.raises(DlcError, match=r"similar names: .*hook_pattern"):
        with capture(model, ["blocks.7.attn.hook_pattern"]):
            pass
    assert hook_count(model) == 0


def test_tuple_outputs_are_unwrapped():
    class Pair(nn.Module):
        def forward(self, x):
            return x + 1, "extra"

    outer = nn.Sequential(Pair())
    with capture(outer, ["0"]) as cache, patch(outer, {"0": lambda x: -x}):
        out = outer(torch.ones(2))
    assert out[1] == "extra"
    torch.testing.assert_close(out[0], -2 * torch.ones(2))
    torch.testing.assert_close(cache["0"], 2 * torch.ones(2))
