"""Activation patching: the metric by hand, the two ends of the scale (every head patched
recovers the clean run exactly, none leaves the corrupted one), and HuggingFace patching
against ours on the same GPT-2 weights."""

import pytest
import torch

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.gpt2_weights import from_hf_gpt2
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch08_interpretability import hf_patching as hfp
from dlcurriculum.ch08_interpretability import patching as pat
from dlcurriculum.ch08_interpretability.induction import repeated_random_tokens
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.hooks import hook_count
from dlcurriculum.lm import tiny_causal_lm

HALF, VOCAB = 6, 20


def _probe(batch: int = 3, low: int = 0, vocab: int = VOCAB) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    clean = repeated_random_tokens(batch, HALF, vocab, g, low=low)
    return clean, pat.corrupt_first_copy(clean, HALF, vocab, g, low=low)


def _model() -> Transformer:
    cfg = TransformerConfig(
        d_vocab=VOCAB, n_ctx=16, d_model=16, n_layers=2, n_heads=4, attn_only=True
    )
    torch.manual_seed(0)
    model = Transformer(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def test_corruption_and_answers() -> None:
    clean, corrupted = _probe()
    assert (corrupted[:, HALF:] == clean[:, HALF:]).all()
    assert (corrupted[:, :HALF] != clean[:, :HALF]).any()
    queries, right, wrong = pat.induction_answers(clean, corrupted, HALF)
    assert queries.tolist() == list(range(HALF, 2 * HALF - 1))  # T - 1 second-copy queries
    # query q predicts clean[q + 1], the repeat of clean[q + 1 - T]; copying from the
    # corrupted first copy would give corrupted[q + 1 - T]
    assert (right == clean[:, 1:HALF]).all() and (wrong == corrupted[:, 1:HALF]).all()


def test_logit_difference_and_recovery_by_hand() -> None:
    logits = torch.zeros(1, 3, 4)
    logits[0, 1] = torch.tensor([0.0, 2.0, -1.0, 0.5])
    logits[0, 2] = torch.tensor([1.0, 0.0, 3.0, 0.0])
    ld = pat.logit_difference(logits, torch.tensor([1, 2]), torch.tensor([[1, 2]]),
                              torch.tensor([[2, 0]]))  # fmt: skip
    assert ld == pytest.approx(((2.0 - -1.0) + (3.0 - 1.0)) / 2)
    assert pat.recovery(4.0, clean=4.0, corrupted=-2.0) == 1.0
    assert pat.recovery(-2.0, clean=4.0, corrupted=-2.0) == 0.0
    assert pat.recovery(1.0, clean=4.0, corrupted=-2.0) == 0.5


def test_every_head_recovers_the_clean_run_exactly_and_none_changes_nothing() -> None:
    model = _model()
    clean, corrupted = _probe()
    pa = pat.for_transformer(model, pat.patch_heads, clean, corrupted, HALF)
    assert pa.clean_ld != pytest.approx(pa.corrupted_ld)
    every = [(layer, h) for layer in range(2) for h in range(4)]
    assert pa.recovery(every) == pytest.approx(1.0, abs=1e-5)
    assert pa.recovery([]) == 0.0
    # every head at the second copy alone is already the whole clean run there (each
    # position's residual is its token, its position and the heads' outputs at it) ...
    assert pa.recovery(every, list(range(HALF, 2 * HALF))) == pytest.approx(1.0, abs=1e-5)
    # ... while at the first copy alone the second copy's heads still read corrupted tokens
    assert pa.recovery(every, list(range(HALF))) != pytest.approx(1.0, abs=0.05)
    # None means every position
    n = clean.shape[1]
    assert pa.recovery([(1, 2)]) == pytest.approx(pa.recovery([(1, 2)], list(range(n))))
    assert hook_count(model) == 0
    by_head = pa.by_head(2, 4)
    assert by_head.shape == (2, 4) and by_head[1, 2] == pytest.approx(pa.recovery([(1, 2)]))
    by_position = pa.by_position([(0, 1), (1, 3)])
    assert by_position.shape == (2, n)
    assert by_position[1, 7] == pytest.approx(pa.recovery([(1, 3)], [7]))
    # a layer-1 head patched at one query changes that query's logits only, linearly here
    # (nothing reads layer 1), so the per-position recoveries add up to the all-positions one
    assert float(by_position[1].sum()) == pytest.approx(pa.recovery([(1, 3)]), abs=1e-5)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_hf_every_head_recovers_exactly_and_none_changes_nothing(arch: str) -> None:
    model, _ = tiny_causal_lm(arch, seed=3)
    clean, corrupted = _probe(low=3, vocab=model.config.vocab_size)
    pa = hfp.for_hf(model, clean, corrupted, HALF)
    # with MLPs too: at the second copy's positions every block's input is then the clean one
    every = [(layer, h) for layer in range(2) for h in range(4)]
    assert pa.recovery(every) == pytest.approx(1.0, abs=1e-4)
    assert pa.recovery([]) == 0.0
    assert sum(len(m._forward_pre_hooks) for m in model.modules()) == 0


def test_hf_patching_equals_ours_on_the_same_gpt2_weights() -> None:
    hf, _ = tiny_causal_lm("gpt2", seed=4)
    ours = from_hf_gpt2(hf).eval()
    clean, corrupted = _probe(low=3, vocab=hf.config.vocab_size)
    with torch.no_grad():
        z_ours = pat.head_outputs(ours, clean)
        z_hf = hfp.hf_head_outputs(hf, clean)
        for layer in range(2):  # [b, h, p, e] vs [b, p, h * e]: the same numbers
            torch.testing.assert_close(
                z_ours[layer].transpose(1, 2).flatten(2), z_hf[layer], atol=1e-5, rtol=1e-4
            )
        for heads, positions in (([(0, 1)], None), ([(0, 0), (1, 3)], [2, 9]), ([(1, 2)], [7])):
            torch.testing.assert_close(
                pat.patch_heads(ours, corrupted, z_ours, heads, positions),
                hfp.hf_patch_heads(hf, corrupted, z_hf, heads, positions),
                atol=1e-4,
                rtol=1e-4,
            )


def test_hf_patching_names_the_models_it_does_not_know() -> None:
    with pytest.raises(DlcError, match=r"o_proj or \.attn\.c_proj"):
        hfp.output_projections(torch.nn.Sequential(torch.nn.Linear(2, 2)))
