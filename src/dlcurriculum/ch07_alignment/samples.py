"""Samples of the chapter-1 Shakespeare model: what people (or the stand-in labeler) rate.

Unconditional samples start from one fixed piece (the model has no beginning-of-text
token, so a line break stands in for it); prompt continuations start from lines cut from
the corpus. Every batch is stored with the settings that made it, so a label can always be
traced to the model, the checkpoint and the sampling temperature that produced the text.
"""

import hashlib
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.model import config_of
from dlcurriculum.ch01_transformers.sampling import generate
from dlcurriculum.ch01_transformers.tokenizer import WordTokenizer, split_pieces
from dlcurriculum.core.errors import DlcError

START_TEXT = ".\n"
"""The piece every unconditional sample starts from: the end of a line of verse."""


@dataclass(frozen=True)
class SamplingSettings:
    """How samples were drawn; stored next to every sample."""

    n_tokens: int = 24
    """Pieces per sample (words and the spaces/punctuation between them each count)."""
    temperature: float = 1.0
    """1.0 samples the model's own distribution (what PPO optimizes)."""
    start_text: str = START_TEXT
    """Text the model is conditioned on before an unconditional sample."""
    seed: int = 0
    """Seed of the sampling generator."""


def start_id(tokenizer: WordTokenizer, start_text: str = START_TEXT) -> int:
    """The id of the start piece.

    Raises:
        DlcError: the start text is not a single piece of the vocabulary.
    """
    ids = tokenizer.encode(start_text)
    if len(ids) != 1 or ids[0] == tokenizer.unk_id:
        raise DlcError(
            f"start text {start_text!r} is not one piece of the model's vocabulary: "
            "choose another, e.g. --set start_text='.\\n'"
        )
    return ids[0]


@torch.inference_mode()
def sample_ids(
    model: nn.Module,
    tokenizer: WordTokenizer,
    prompts: Int[Tensor, "batch prompt_pos"],
    n_tokens: int,
    temperature: float,
    generator: torch.Generator,
    batch_size: int = 256,
) -> Int[Tensor, "batch n_tokens"]:
    """Continue each prompt by `n_tokens` pieces (never the unknown token).

    The unknown token is banned because it stands for thousands of rare words; PPO masks it
    the same way (`rlhf.policy_logprobs`) so sampling and training see one distribution.
    """
    if prompts.shape[1] + n_tokens > config_of(model).n_ctx:
        raise DlcError(
            f"prompt + {n_tokens} new pieces exceed the model's context "
            f"{config_of(model).n_ctx}: use fewer n_tokens"
        )
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(prompts), batch_size):
        batch = prompts[i : i + batch_size].to(device)
        full = generate(
            model, batch, n_tokens, temperature, None, None, True, generator, (tokenizer.unk_id,)
        )
        out.append(full[:, batch.shape[1] :].cpu())
    return torch.cat(out)


def unconditional_samples(
    model: nn.Module, tokenizer: WordTokenizer, n: int, settings: SamplingSettings
) -> list[str]:
    """`n` short samples, each continuing the start piece alone."""
    first = start_id(tokenizer, settings.start_text)
    generator = torch.Generator(device=next(model.parameters()).device)
    generator.manual_seed(settings.seed)
    prompts = torch.full((n, 1), first, dtype=torch.long)
    ids = sample_ids(model, tokenizer, prompts, settings.n_tokens, settings.temperature, generator)
    return [tokenizer.decode(row.tolist()) for row in ids]


def corpus_prompts(text: str, n: int, prompt_pieces: int, seed: int) -> list[str]:
    """`n` prompts cut from the corpus: the first `prompt_pieces` pieces of random lines."""
    lines = [line for line in text.splitlines() if len(split_pieces(line)) >= prompt_pieces]
    if not lines:
        raise DlcError(f"no line of the corpus has {prompt_pieces} pieces: use a shorter prompt")
    rng = random.Random(seed)
    return ["".join(split_pieces(rng.choice(lines))[:prompt_pieces]) for _ in range(n)]


def prompt_continuations(
    model: nn.Module,
    tokenizer: WordTokenizer,
    prompts: list[str],
    per_prompt: int,
    settings: SamplingSettings,
) -> list[tuple[str, str]]:
    """`per_prompt` continuations of each prompt, as (prompt, continuation) pairs.

    Two continuations of one prompt are what a comparison reward model is trained on.
    """
    encoded = [tokenizer.encode("\n" + p) for p in prompts]
    # Keep the last pieces of each prompt, as many as the shortest has: a batch needs one
    # length, and left padding would be text the model conditions on.
    shortest = min(len(e) for e in encoded)
    encoded = [e[-shortest:] for e in encoded]
    rows = torch.tensor([e for e in encoded for _ in range(per_prompt)], dtype=torch.long)
    generator = torch.Generator(device=next(model.parameters()).device)
    generator.manual_seed(settings.seed)
    ids = sample_ids(model, tokenizer, rows, settings.n_tokens, settings.temperature, generator)
    texts = [tokenizer.decode(r.tolist()) for r in ids]
    return [(prompts[i // per_prompt], t) for i, t in enumerate(texts)]


def checkpoint_digest(path: Path) -> str:
    """The first 12 hex digits of the checkpoint file's sha256 (which weights made a sample)."""
    path = path / "model.pt" if path.is_dir() else path
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def sample_meta(model: nn.Module, checkpoint: Path, settings: SamplingSettings) -> dict[str, Any]:
    """What to store with a batch of samples: model shape, checkpoint and sampling settings."""
    cfg = config_of(model)
    return {
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": checkpoint_digest(checkpoint),
        "model": {"d_vocab": cfg.d_vocab, "d_model": cfg.d_model, "n_layers": cfg.n_layers},
        "sampling": asdict(settings),
    }
