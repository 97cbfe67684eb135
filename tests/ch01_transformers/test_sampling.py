"""Sampling: the filters on known distributions, and the KV cache changing nothing."""

import pytest
import torch

from dlcurriculum.ch01_transformers.sampling import filter_logits, generate, sample_next_token
from dlcurriculum.core.errors import DlcError

from .helpers import TINY, tiny_model

PROBS = torch.tensor([[0.5, 0.3, 0.15, 0.05]])


def _kept(logits: torch.Tensor) -> set[int]:
    return set(torch.nonzero(logits[0] > float("-inf")).flatten().tolist())


def test_top_k_keeps_the_k_largest() -> None:
    assert _kept(filter_logits(PROBS.log(), top_k=2)) == {0, 1}
    assert _kept(filter_logits(PROBS.log(), top_k=10)) == {0, 1, 2, 3}


@pytest.mark.parametrize(
    ("p", "kept"), [(0.5, {0}), (0.79, {0, 1}), (0.81, {0, 1, 2}), (1.0, {0, 1, 2, 3})]
)
def test_top_p_keeps_the_smallest_nucleus_covering_p(p: float, kept: set[int]) -> None:
    shuffled = torch.tensor([[2, 0, 3, 1]])  # the order of the vocabulary must not matter
    logits = PROBS.log()[:, shuffled[0]]
    assert {int(shuffled[0, i]) for i in _kept(filter_logits(logits, top_p=p))} == kept


def test_bad_filter_arguments_raise() -> None:
    with pytest.raises(ValueError, match="top_k"):
        filter_logits(PROBS.log(), top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        filter_logits(PROBS.log(), top_p=0.0)


def test_temperature_zero_is_greedy_and_sampling_follows_the_distribution() -> None:
    logits = torch.randn(5, 11)
    assert torch.equal(sample_next_token(logits, temperature=0.0), logits.argmax(-1))
    g = torch.Generator().manual_seed(0)
    samples = sample_next_token(PROBS.log().expand(20_000, 4), temperature=1.0, generator=g)
    freq = torch.bincount(samples, minlength=4).float() / 20_000
    torch.testing.assert_close(freq, PROBS[0], atol=0.015, rtol=0)
    # T = 0.5 squares the probabilities (then renormalizes)
    sharp = sample_next_token(PROBS.log().expand(20_000, 4), temperature=0.5, generator=g)
    expected = PROBS[0] ** 2 / (PROBS[0] ** 2).sum()
    torch.testing.assert_close(
        torch.bincount(sharp, minlength=4).float() / 20_000, expected, atol=0.015, rtol=0
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": 0.0},
        {"temperature": 1.0},
        {"temperature": 0.7, "top_k": 5},
        {"temperature": 1.3, "top_p": 0.9},
    ],
    ids=str,
)
@pytest.mark.parametrize("changes", [{}, {"pos_embed": "sinusoidal", "fast_path": True}], ids=str)
def test_kv_cache_gives_the_same_tokens(kwargs: dict, changes: dict) -> None:
    model = tiny_model(**changes)
    prompt = torch.randint(0, TINY.d_vocab, (3, 4))
    # 20 new tokens run past n_ctx = 12, so the sliding window is exercised too
    with_cache = generate(
        model, prompt, 20, use_cache=True, generator=torch.Generator().manual_seed(1), **kwargs
    )
    without = generate(
        model, prompt, 20, use_cache=False, generator=torch.Generator().manual_seed(1), **kwargs
    )
    assert with_cache.shape == (3, 24)
    assert torch.equal(with_cache[:, :4], prompt)
    assert torch.equal(with_cache, without)


def test_banned_tokens_are_never_chosen() -> None:
    logits = PROBS.log().expand(500, 4)
    assert torch.equal(
        sample_next_token(logits, 0.0, banned=[0]), torch.ones(500, dtype=torch.long)
    )
    samples = sample_next_token(
        logits, 1.0, generator=torch.Generator().manual_seed(0), banned=[0, 2]
    )
    assert set(samples.tolist()) == {1, 3}
    # the last token banned: the inverse-CDF draw must stop short of the CDF's end
    samples = sample_next_token(logits, 1.0, generator=torch.Generator().manual_seed(0), banned=[3])
    assert set(samples.tolist()) == {0, 1, 2}
    out = generate(tiny_model(), torch.tensor([[1, 2]]), 30, banned=[0, 5])
    assert not torch.isin(out[:, 2:], torch.tensor([0, 5])).any()


def test_generate_rejects_unknown_ids_and_empty_prompts_and_restores_the_mode() -> None:
    model = tiny_model().train()
    with pytest.raises(DlcError, match="must be in"):
        generate(model, torch.tensor([[0, TINY.d_vocab]]), 3)
    with pytest.raises(DlcError, match="pos >= 1"):
        generate(model, torch.zeros(1, 0, dtype=torch.long), 3)
    generate(model, torch.tensor([[1, 2]]), 2)
    assert model.training
