"""The reward model: the chapter-1 transformer taught two new tokens, <happy> and <sad>.

Ref: Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences", section 2;
Stiennon et al. 2020, "Learning to summarize from human feedback", section 3.4.

A copy of the policy gets two extra rows of the embedding (and columns of the
unembedding). After reading a sample it is trained to predict <happy> if the sample is
positive and <sad> if negative, at the last position only: every other position is
masked, because there the model would only be asked to predict ordinary text. A neutral
sample is a soft target, half <happy> and half <sad>. The probability of positive
sentiment is the model's <happy> probability renormalised over the two label tokens.
"""

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.model import Transformer, config_of
from dlcurriculum.ch01_transformers.tokenizer import WordTokenizer
from dlcurriculum.core.runs import progress

HAPPY, SAD = "<happy>", "<sad>"
"""The label tokens; their text splits into several pieces, so no sample can contain them."""
TARGET = {"positive": 1.0, "neutral": 0.5, "negative": 0.0}
"""Probability of <happy> each label asks for."""


def reward_model_from(
    policy: Transformer, tokenizer: WordTokenizer
) -> tuple[Transformer, WordTokenizer]:
    """A copy of the policy with the label tokens appended to its vocabulary.

    The new embedding rows start at the mean of the old ones, so the copy predicts ordinary
    text exactly as the policy did and the label tokens start on an equal footing.
    """
    cfg = config_of(policy)
    rm = Transformer(dataclasses.replace(cfg, d_vocab=cfg.d_vocab + 2))
    state = {k: v.clone() for k, v in policy.state_dict().items()}
    mean_row = state["embed.W_E"].mean(0, keepdim=True)
    state["embed.W_E"] = torch.cat([state["embed.W_E"], mean_row, mean_row])
    if "unembed.W_U" in state:
        mean_col = state["unembed.W_U"].mean(1, keepdim=True)
        state["unembed.W_U"] = torch.cat([state["unembed.W_U"], mean_col, mean_col], dim=1)
    rm.load_state_dict(state)
    return rm.to(next(policy.parameters()).device), WordTokenizer([*tokenizer.vocab, HAPPY, SAD])


@torch.no_grad()
def warm_start_labels(
    rm: Transformer, tokens: Tensor, last: Tensor, ids: tuple[int, int], margin: float = 2.0
) -> None:
    """Point the label tokens' embedding rows along the mean final residual stream.

    Fresh label tokens are among the least likely of thousands of words, so most of the
    early loss would be spent only on making them likely at all. Starting their logits
    `margin` above the likeliest ordinary word (on average over `tokens`) leaves training
    with the part that matters: which of the two.
    """
    captured: list[Tensor] = []
    handle = rm.ln_final.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        logits = rm(tokens)
    finally:
        handle.remove()
    rows = torch.arange(len(tokens))
    h = captured[0][rows, last]  # [batch, d_model]: what the unembedding reads
    top = logits[rows, last, : ids[0]].max(-1).values.mean()
    u = h.mean(0) / h.mean(0).norm()
    base = rm.embed.W_E[ids[0]].clone()  # the mean row, from reward_model_from
    beta = (top + margin - (h @ base).mean()) / (h @ u).mean()
    for i in ids:
        if rm.unembed is None:
            rm.embed.W_E[i] = base + beta * u
        else:
            rm.unembed.W_U[:, i] += beta * u


def label_ids(rm_tokenizer: WordTokenizer) -> tuple[int, int]:
    """(happy_id, sad_id) of a reward model's tokenizer."""
    return rm_tokenizer.index[HAPPY], rm_tokenizer.index[SAD]


def encode_texts(
    tokenizer: WordTokenizer, texts: Sequence[str], first: int, n_ctx: int
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, " batch"]]:
    """Right-padded token ids (start piece first) and the index of each text's last piece.

    Texts longer than the context keep their first n_ctx pieces. Padding sits after the
    last piece, so a causal model's output there is unaffected by it.
    """
    rows = [[first, *tokenizer.encode(t)][:n_ctx] for t in texts]
    width = max(len(r) for r in rows)
    tokens = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        tokens[i, : len(r)] = torch.tensor(r)
    last = torch.tensor([len(r) - 1 for r in rows])
    return tokens, last


def last_position_mask(last: Int[Tensor, " batch"], n_pos: int) -> Bool[Tensor, "batch pos"]:
    """True at each sequence's last real position, False everywhere else."""
    return torch.arange(n_pos, device=last.device)[None, :] == last[:, None]


def reward_model_loss(
    logits: Float[Tensor, "batch pos d_vocab"],
    mask: Bool[Tensor, "batch pos"],
    p_positive: Float[Tensor, " batch"],
    happy_id: int,
    sad_id: int,
) -> Float[Tensor, ""]:
    """Cross-entropy of the label tokens at the masked-in positions, with soft targets.

    Ref: Ziegler et al. 2019, section 2 (a reward model as a language model head).

    Args:
        logits: the reward model's next-token logits over its whole vocabulary.
        mask: True where the label is predicted (each sample's last position); every
            other position contributes nothing to the loss or its gradient.
        p_positive: target probability of <happy> per sample (1 positive, 0.5 neutral,
            0 negative); <sad> gets the rest.
        happy_id, sad_id: the label tokens' ids.

    Returns:
        The loss to minimise: the mean over masked-in positions of
        -(p log softmax(logits)[happy] + (1 - p) log softmax(logits)[sad]), the softmax
        taken over the whole vocabulary.
    """
    # BEGIN SOLUTION
    # HINT: select the masked-in rows first (logits[mask]); repeat each sample's target
    # HINT: for its masked-in positions with p_positive[:, None].expand_as(mask)[mask].
    logp = logits[mask].float().log_softmax(dim=-1)  # [n_masked, d_vocab]
    p = p_positive[:, None].expand_as(mask)[mask].to(logp.dtype)
    return -(p * logp[:, happy_id] + (1 - p) * logp[:, sad_id]).mean()
    # END SOLUTION


def positive_logprob(
    rm: nn.Module,
    tokens: Int[Tensor, "batch pos"],
    last: Int[Tensor, " batch"],
    ids: tuple[int, int],
) -> Float[Tensor, " batch"]:
    """log P(positive) at each sample's last position, renormalised over the two label tokens.

    Renormalising keeps probability that leaks to ordinary words (on text far from what the
    reward model saw) from posing as a sentiment.
    """
    logits = rm(tokens)[torch.arange(len(tokens)), last]  # [batch, d_vocab]
    pair = logits[:, list(ids)].float()  # [batch, 2]: happy, sad
    return pair.log_softmax(dim=-1)[:, 0]


@dataclass(frozen=True)
class RMTrainSettings:
    """Optimization of the reward model."""

    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.0


def train_reward_model(
    rm: Transformer,
    tokens: Tensor,
    last: Tensor,
    p_positive: Tensor,
    ids: tuple[int, int],
    settings: RMTrainSettings,
    generator: torch.Generator,
    loss_fn=reward_model_loss,
) -> list[float]:
    """Fine-tune the whole reward model on labeled samples; return the loss of each step.

    `loss_fn` is the learner's `reward_model_loss` when run with --impl.
    """
    device = next(rm.parameters()).device
    opt = torch.optim.AdamW(rm.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)

    def loss_of(idx: Tensor) -> Tensor:
        batch = tokens[idx].to(device)
        mask = last_position_mask(last[idx].to(device), batch.shape[1])
        return loss_fn(rm(batch), mask, p_positive[idx].to(device), *ids)  # type: ignore[no-any-return]

    return fit(rm, opt, len(tokens), loss_of, settings.epochs, settings.batch_size, generator,
               "reward model")  # fmt: skip


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    n: int,
    loss_of: Callable[[Tensor], Tensor],
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    desc: str,
) -> list[float]:
    """Epochs of shuffled minibatches over `n` examples; `loss_of(indices)` gives a step's
    loss. Returns the loss of each step; the model is left in eval mode."""
    losses: list[float] = []
    model.train()
    with progress(epochs * math.ceil(n / batch_size), desc) as bar:
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator)
            for i in range(0, n, batch_size):
                loss = loss_of(order[i : i + batch_size])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    return losses


def fit_reward_model(
    policy: Transformer,
    tokenizer: WordTokenizer,
    train: Sequence[tuple[str, str]],
    first: int,
    settings: RMTrainSettings,
    generator: torch.Generator,
    loss_fn=reward_model_loss,
) -> tuple[Transformer, WordTokenizer, list[float]]:
    """A reward model made from `policy` and trained on (text, label) pairs; its step losses."""
    rm, rm_tok = reward_model_from(policy, tokenizer)
    ids = label_ids(rm_tok)
    tokens, last = encode_texts(tokenizer, [t for t, _ in train], first, rm.cfg.n_ctx)
    device = rm.W_U.device
    warm_start_labels(rm, tokens[:256].to(device), last[:256].to(device), ids)
    labels = soft_targets([lab for _, lab in train])
    losses = train_reward_model(rm, tokens, last, labels, ids, settings, generator, loss_fn)
    return rm, rm_tok, losses


@torch.inference_mode()
def predict_positive(
    rm: nn.Module, tokens: Tensor, last: Tensor, ids: tuple[int, int], batch_size: int = 128
) -> Tensor:
    """P(positive) for every sample, in batches."""
    device = next(rm.parameters()).device
    out = [
        positive_logprob(
            rm, tokens[i : i + batch_size].to(device), last[i : i + batch_size].to(device), ids
        )
        for i in range(0, len(tokens), batch_size)
    ]
    return torch.cat(out).exp().cpu()


def majority_rate(labels: Sequence[str]) -> float:
    """Accuracy of always answering the commoner of positive and negative (nan if none)."""
    pos, neg = labels.count("positive"), labels.count("negative")
    return max(pos, neg) / (pos + neg) if pos + neg else float("nan")


def accuracy(p_pred: Tensor, labels: Sequence[str]) -> float:
    """Share of non-neutral samples whose side of 0.5 matches their label (nan if none)."""
    pairs = [(p, lab) for p, lab in zip(p_pred.tolist(), labels, strict=True) if lab != "neutral"]
    if not pairs:
        return float("nan")
    return sum((p > 0.5) == (lab == "positive") for p, lab in pairs) / len(pairs)


def reliability(
    p_pred: Tensor, labels: Sequence[str], n_bins: int = 10
) -> tuple[list[float], list[float], list[int], float]:
    """Calibration on non-neutral samples: per bin of predicted P(positive), the mean
    prediction, the observed share of positives and the count; plus the expected
    calibration error (count-weighted mean gap)."""
    keep = [i for i, lab in enumerate(labels) if lab != "neutral"]
    p = p_pred[keep]
    y = torch.tensor([labels[i] == "positive" for i in keep], dtype=torch.float)
    bins = (p * n_bins).long().clamp(max=n_bins - 1)
    mean_p, frac, count, ece = [], [], [], 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            mean_p.append(p[sel].mean().item())
            frac.append(y[sel].mean().item())
            count.append(int(sel.sum()))
            ece += count[-1] * abs(mean_p[-1] - frac[-1])
    return mean_p, frac, count, ece / max(1, len(keep))


def soft_targets(labels: Sequence[str]) -> Tensor:
    """Target P(<happy>) of each label."""
    return torch.tensor([TARGET[lab] for lab in labels])
