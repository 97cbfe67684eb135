"""What PPO completes and how each completion is scored: the chapter's two RLHF tasks.

Unconditional (the exercise): every completion continues the start piece alone, and its
reward is the happy/sad reward model's log P(positive) (or log P(negative)), whether that
model is the chapter-1 transformer with label tokens or a head on a sentence encoder. Prompted (the
curriculum's harder variant): completions continue lines cut from the corpus, and the
reward is the comparison reward model's score of the completion's positions. Only those
positions: the model was trained on pairs sharing a prompt, where the prompt's positions
cancel, so their score was never taught to mean anything (and it does not depend on the
completion, since the model is causal).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch01_transformers.tokenizer import WordTokenizer
from dlcurriculum.ch07_alignment.comparisons import ScalarRewardModel
from dlcurriculum.ch07_alignment.reward_model import (
    encode_texts,
    positive_logprob,
    predict_positive,
)
from dlcurriculum.ch07_alignment.samples import sample_ids
from dlcurriculum.ch07_alignment.sentence_rm import SentenceRewardModel

Reward = Callable[[Tensor], Tensor]
"""Token ids [batch, prompt + completion] -> one reward per completion [batch]."""


@dataclass(frozen=True)
class Task:
    """The prompts completions continue, and the reward of a completed sequence."""

    prompts: Int[Tensor, "n_prompts prompt_len"]
    """Token ids; every completion continues one row (all rows have one length)."""
    reward: Reward

    @property
    def prompt_len(self) -> int:
        return self.prompts.shape[1]

    def draw(self, n: int, generator: torch.Generator) -> Tensor:
        """[n, prompt_len]: prompt rows drawn with `generator` (the one row n times, without
        drawing, when there is a single prompt)."""
        rows = self.prompts.to(generator.device)
        if len(rows) == 1:
            return rows.expand(n, -1).clone()
        return rows[torch.randint(len(rows), (n,), generator=generator, device=generator.device)]

    def completion_mask(self, tokens: Tensor) -> Tensor:
        """True at the positions that predict a completion token ([batch, pos - 1])."""
        mask = torch.zeros(tokens.shape[0], tokens.shape[1] - 1, dtype=torch.bool)
        mask[:, self.prompt_len - 1 :] = True
        return mask.to(tokens.device)


@dataclass(frozen=True)
class HappySad:
    """A trained happy/sad reward model, whichever its base, as the stages use it."""

    p_positive: Callable[[Sequence[str]], Tensor]
    """Texts -> P(positive) of each."""
    row_logprob: Callable[[Tensor], Tensor]
    """Token rows [batch, pos] (the start piece first) -> log P(positive) of each row."""


def shakespeare_happy_sad(
    rm: Transformer, ids: tuple[int, int], tokenizer: WordTokenizer, first: int
) -> HappySad:
    """The chapter-1 model with label tokens: it reads the policy's own token ids."""

    def row_logprob(tokens: Tensor) -> Tensor:
        last = torch.full((len(tokens),), tokens.shape[1] - 1, device=tokens.device)
        return positive_logprob(rm, tokens, last, ids)

    def p_positive(texts: Sequence[str]) -> Tensor:
        tokens, last = encode_texts(tokenizer, texts, first, rm.cfg.n_ctx)
        return predict_positive(rm, tokens, last, ids)

    return HappySad(p_positive, torch.inference_mode()(row_logprob))


def sentence_happy_sad(srm: SentenceRewardModel, tokenizer: WordTokenizer) -> HappySad:
    """The sentence-encoder reward model: it reads each row's text after the start piece
    (the text its labels were given for)."""

    def row_logprob(tokens: Tensor) -> Tensor:
        texts = [tokenizer.decode(r) for r in tokens[:, 1:].tolist()]
        return srm.positive_logprob(texts).to(tokens.device)

    return HappySad(lambda texts: srm.positive_logprob(texts).exp(), row_logprob)


def happy_sad_reward(model: HappySad, negative: bool) -> Reward:
    """log P(positive) (or log P(negative)) of each completed sequence."""

    @torch.inference_mode()
    def reward(tokens: Tensor) -> Tensor:
        logp_pos = model.row_logprob(tokens)
        return torch.log1p(-logp_pos.exp().clamp(max=1 - 1e-6)) if negative else logp_pos

    return reward


def comparison_reward(bt: ScalarRewardModel, prompt_len: int, negative: bool) -> Reward:
    """The comparison reward model's scores summed over the completion's positions (negated
    to train towards the dispreferred side)."""

    @torch.inference_mode()
    def reward(tokens: Tensor) -> Tensor:
        scores = bt.head(bt.residual(tokens)).squeeze(-1)  # [batch, pos]
        total = scores[:, prompt_len:].sum(-1).float()
        return -total if negative else total

    return reward


def unconditional_task(first: int, reward: Reward) -> Task:
    """Completions of the start piece alone."""
    return Task(torch.tensor([[first]]), reward)


def prompt_rows(tokenizer: WordTokenizer, first: int, prompts: list[str]) -> Tensor:
    """[n, len]: the start piece, a line break and each prompt, cut to the shortest from the
    left (a batch needs one length; left padding would be text the model reads)."""
    encoded = [tokenizer.encode("\n" + p) for p in prompts]
    shortest = min(len(e) for e in encoded)
    return torch.tensor([[first, *e[-shortest:]] for e in encoded], dtype=torch.long)


def sample_completions(
    policy: nn.Module,
    tokenizer: WordTokenizer,
    task: Task,
    n: int,
    n_tokens: int,
    g: torch.Generator,
) -> Tensor:
    """[n, prompt_len + n_tokens]: drawn prompts followed by sampled completions."""
    prompts = task.draw(n, g).cpu()
    out = sample_ids(policy, tokenizer, prompts, n_tokens, 1.0, g)
    return torch.cat([prompts, out], dim=1).to(next(policy.parameters()).device)


@dataclass(frozen=True)
class RewardConstants:
    """Fixed centring and scale of the reward, measured on the original policy."""

    mean: float
    std: float
    n: int


def measure_constants(
    policy: nn.Module,
    tokenizer: WordTokenizer,
    task: Task,
    n: int,
    n_tokens: int,
    generator: torch.Generator,
) -> RewardConstants:
    """Mean and std of the reward over `n` completions of the original policy."""
    rewards = []
    for i in range(0, n, 256):
        tokens = sample_completions(policy, tokenizer, task, min(256, n - i), n_tokens, generator)
        rewards.append(task.reward(tokens).cpu())
    r = torch.cat(rewards)
    return RewardConstants(r.mean().item(), max(r.std().item(), 1e-6), n)
