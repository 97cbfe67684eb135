"""Sampling from the model: greedy, temperature, top-k and top-p, with or without a KV cache.

Ref: Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration" (top-p, section 3.1);
Fan et al. 2018, "Hierarchical Neural Story Generation" (top-k).
"""

from collections.abc import Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.attention import KVCache
from dlcurriculum.ch01_transformers.model import config_of
from dlcurriculum.core.errors import DlcError


def filter_logits(
    logits: Float[Tensor, "batch d_vocab"], top_k: int | None = None, top_p: float | None = None
) -> Float[Tensor, "batch d_vocab"]:
    """Set to -inf every logit outside the top-k tokens and outside the top-p nucleus.

    Args:
        logits: next-token logits.
        top_k: keep the k highest logits (ties at the k-th value are all kept); None keeps all.
        top_p: keep the smallest set of most likely tokens whose probability sums to at
            least p (the most likely token is always kept); None keeps all.

    Returns:
        Logits with the removed tokens at -inf.
    """
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # Drop a token when the tokens strictly more likely already cover p.
        covered_before = probs.cumsum(dim=-1) - probs
        drop_sorted = covered_before >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next_token(
    logits: Float[Tensor, "batch d_vocab"],
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    banned: Sequence[int] = (),
) -> Int[Tensor, " batch"]:
    """Choose each sequence's next token from its logits.

    Args:
        logits: next-token logits.
        temperature: 0 means greedy (argmax); otherwise logits are divided by it before the
            softmax (< 1 sharpens, > 1 flattens).
        top_k: see `filter_logits`.
        top_p: see `filter_logits`.
        generator: the random source (sampling uses no global RNG).
        banned: token ids never to choose (e.g. the unknown token); greedy decoding skips
            them too.

    Returns:
        One token id per sequence.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if banned:
        logits = logits.clone()
        logits[:, list(banned)] = float("-inf")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float()
    if temperature != 1:  # x / 1 == x: skip a pass over [batch, vocab]
        logits = logits / temperature
    logits = filter_logits(logits, top_k, top_p)
    # Inverse-CDF sampling: one uniform draw per row. torch.multinomial draws one
    # exponential per vocabulary entry instead, which was half of sampling's time at a
    # 6k-piece vocabulary (measured, one CPU thread). Token i is drawn when
    # cdf[i - 1] <= u < cdf[i]: an empty interval for a token of probability 0.
    cdf = logits.softmax(dim=-1).cumsum(dim=-1)
    total = cdf[:, -1:]
    u = torch.rand(total.shape, generator=generator, device=cdf.device) * total
    u = torch.minimum(u, total.nextafter(torch.zeros_like(total)))  # u < total, even rounded
    return torch.searchsorted(cdf, u, right=True).squeeze(-1)


@torch.inference_mode()
def generate(
    model: nn.Module,
    prompt: Int[Tensor, "batch pos"],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    banned: Sequence[int] = (),
) -> Int[Tensor, "batch total_pos"]:
    """Extend each prompt by `max_new_tokens` sampled tokens.

    The model sees at most its last n_ctx tokens: once the sequence is longer, the window
    slides (with a cache, the cache is rebuilt from the window), so both paths give the
    same logits and, with the same generator, the same tokens.

    Args:
        model: a Transformer (run in eval mode; its mode is restored after).
        prompt: at least one token per sequence, ids in [0, d_vocab).
        max_new_tokens: how many tokens to add.
        temperature, top_k, top_p, generator, banned: see `sample_next_token`.
        use_cache: reuse keys and values of earlier positions (a KV cache).

    Returns:
        The prompts followed by the new tokens.

    Raises:
        DlcError: an empty prompt, or a token id outside the vocabulary.
    """
    cfg = config_of(model)
    if prompt.ndim != 2 or prompt.shape[1] == 0:
        raise DlcError(
            "the prompt must be a [batch, pos] tensor of ids with pos >= 1, "
            f"got shape {tuple(prompt.shape)}"
        )
    if prompt.min() < 0 or prompt.max() >= cfg.d_vocab:
        raise DlcError(
            f"prompt token ids must be in [0, {cfg.d_vocab}), "
            f"got {int(prompt.min())}..{int(prompt.max())}: encode text with the "
            "model's own tokenizer (unknown words become its unk token)"
        )
    was_training = model.training
    model.eval()  # no dropout while sampling
    tokens = prompt
    cache: KVCache | None = None
    for _ in range(max_new_tokens):
        if not use_cache:
            logits = model(tokens[:, -cfg.n_ctx :])[:, -1]
        elif cache is None or cache.n_pos >= cfg.n_ctx:
            cache = KVCache(cfg.n_layers)
            logits = model(tokens[:, -cfg.n_ctx :], cache)[:, -1]
        else:
            logits = model(tokens[:, -1:], cache)[:, -1]
        next_token = sample_next_token(logits, temperature, top_k, top_p, generator, banned)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
    model.train(was_training)
    return tokens
