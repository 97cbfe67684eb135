"""The blocked log p of sampled tokens equals the plain logits -> log_softmax -> gather route."""

import pytest
import torch

from dlcurriculum.ch07_alignment.rlhf import chosen, next_token_logprobs
from dlcurriculum.ch07_alignment.sampled_logprobs import final_residual, sampled_logprobs
from tests.ch01_transformers.helpers import tiny_model

UNK = 0


def test_final_residual_is_what_the_unembedding_reads() -> None:
    model = tiny_model(fast_path=True)
    tokens = torch.randint(0, 23, (3, 9))
    torch.testing.assert_close(final_residual(model, tokens) @ model.W_U, model(tokens))


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("block", [5, 128], ids=["blocks of 5 rows", "one block"])
def test_values_and_gradients_equal_the_plain_route(tied: bool, block: int) -> None:
    tokens = torch.randint(1, 23, (4, 10), generator=torch.Generator().manual_seed(0))
    weights = torch.randn(4, 9)  # any downstream use of the log-probabilities
    grads = []
    for route in ("plain", "blocked"):
        model = tiny_model(seed=1, tie_embeddings=tied)
        if route == "plain":
            lp = chosen(next_token_logprobs(model, tokens, UNK), tokens)
        else:
            lp = sampled_logprobs(model, tokens, UNK, block=block)
        (lp * weights).sum().backward()
        grads.append((lp.detach(), {n: p.grad for n, p in model.named_parameters()}))
    (plain, plain_grads), (blocked, blocked_grads) = grads
    torch.testing.assert_close(blocked, plain)
    assert plain_grads.keys() == blocked_grads.keys()
    for name, g in plain_grads.items():
        torch.testing.assert_close(blocked_grads[name], g, msg=f"gradient of {name}")


def test_the_unknown_token_keeps_no_probability() -> None:
    model = tiny_model()
    tokens = torch.randint(1, 23, (2, 6))
    tokens[:, -1] = UNK  # a target the policy never samples
    lp = sampled_logprobs(model, tokens, UNK)
    assert (lp[:, -1] < -1e6).all() and (lp[:, :-1] > -50).all()
