"""Shakespeare as word pieces: the train/validation split, a unigram baseline, checkpoints.

The corpus comes from `dlcurriculum.data.load_shakespeare()` (`load_corpus`). Chapters 7
and 8 load the trained model with `load_shakespeare_model(path)`.
"""

import dataclasses
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.lm_training import autocast, lm_loss
from dlcurriculum.ch01_transformers.model import Transformer, config_of
from dlcurriculum.ch01_transformers.sampling import generate
from dlcurriculum.ch01_transformers.tokenizer import Level, WordTokenizer, split_pieces
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.runs import atomic_open

CHECKPOINT_FORMAT = "dlcurriculum/ch01-shakespeare/1"
MODEL_FILE = "model.pt"


@dataclass(frozen=True)
class ShakespeareData:
    """Tokenized train and validation sequences and the baseline they are judged against."""

    tokenizer: WordTokenizer
    train: Tensor
    """[n_train, seq_len] non-overlapping sequences of token ids."""
    val: Tensor
    """[n_val, seq_len], from regions of the text the training set never sees."""
    unigram_val_loss: float
    """Cross-entropy (nats) on the validation targets of the training unigram distribution."""
    unk_fraction: float
    """Share of all pieces mapped to the unknown token."""


def load_corpus(max_chars: int) -> str:
    """The complete works (through the offline source chain), optionally only a prefix."""
    from dlcurriculum.data import load_shakespeare

    text = load_shakespeare()
    return text[:max_chars] if max_chars else text


def split_regions(
    pieces: list[str], n_regions: int, val_fraction: float
) -> tuple[list[list[str]], list[list[str]]]:
    """Cut the text into `n_regions` contiguous regions; evenly spaced ones are validation.

    Whole regions, not random sequences, go to validation, so no validation sequence
    overlaps or neighbours a training one; spacing them evenly samples plays from across
    the collection instead of only its end.

    Returns:
        (train regions, validation regions), each a list of piece lists.
    """
    n_val = max(1, round(n_regions * val_fraction))
    if not 0 < n_val < n_regions:
        raise DlcError(
            f"val_fraction={val_fraction} of {n_regions} regions leaves no training data"
        )
    val_ids = {int((i + 0.5) * n_regions / n_val) for i in range(n_val)}
    bounds = [round(i * len(pieces) / n_regions) for i in range(n_regions + 1)]
    regions = [pieces[a:b] for a, b in itertools.pairwise(bounds)]
    train = [r for i, r in enumerate(regions) if i not in val_ids]
    val = [r for i, r in enumerate(regions) if i in val_ids]
    return train, val


def chunk(ids: list[int], seq_len: int) -> Int[Tensor, "n seq_len"]:
    """Non-overlapping sequences of `seq_len` ids (the ragged tail is dropped)."""
    n = len(ids) // seq_len
    return torch.tensor(ids[: n * seq_len], dtype=torch.long).view(n, seq_len)


def unigram_loss(train: Tensor, val: Tensor, d_vocab: int) -> float:
    """Cross-entropy (nats) of val[:, 1:] under train's token frequencies (add-one smoothed).

    The same targets the model is scored on; a model that beats this uses context.
    """
    counts = torch.bincount(train.flatten(), minlength=d_vocab).double() + 1.0
    log_probs = (counts / counts.sum()).log()
    return -log_probs[val[:, 1:].flatten()].mean().item()


def prepare_data(
    text: str,
    seq_len: int,
    min_count: int,
    max_vocab: int | None = None,
    n_regions: int = 20,
    val_fraction: float = 0.1,
    level: Level = "word",
) -> ShakespeareData:
    """Tokenize, split by region, build the vocabulary on training text only, and chunk.

    `level="char"` makes every character a token (chapter 8's induction heads).

    Raises:
        DlcError: the text is too small to give a training and a validation sequence.
    """
    pieces = split_pieces(text, level)
    if len(pieces) < 2 * n_regions * seq_len:
        raise DlcError(
            f"the corpus has {len(pieces)} pieces; at least {2 * n_regions * seq_len} are needed "
            f"for seq_len={seq_len} with {n_regions} regions: use more text or shorter sequences"
        )
    train_regions, val_regions = split_regions(pieces, n_regions, val_fraction)
    tokenizer = WordTokenizer.fit(
        (p for r in train_regions for p in r), min_count, max_vocab, level
    )
    train_ids = [tokenizer.encode_pieces(r) for r in train_regions]
    val_ids = [tokenizer.encode_pieces(r) for r in val_regions]
    # Chunk each region on its own so no sequence spans a train/validation boundary.
    train = torch.cat([chunk(r, seq_len) for r in train_ids])
    val = torch.cat([chunk(r, seq_len) for r in val_ids])
    all_ids = torch.cat([train.flatten(), val.flatten()])
    return ShakespeareData(
        tokenizer=tokenizer,
        train=train,
        val=val,
        unigram_val_loss=unigram_loss(train, val, len(tokenizer)),
        unk_fraction=(all_ids == tokenizer.unk_id).double().mean().item(),
    )


@torch.inference_mode()
def evaluate_loss(model: nn.Module, seqs: Tensor, batch_size: int) -> float:
    """Mean next-token cross-entropy (nats) over every target of `seqs`."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(seqs), batch_size):
        batch = seqs[i : i + batch_size].to(device)
        with autocast(device):
            loss = lm_loss(model(batch), batch)
        n = batch.shape[0] * (batch.shape[1] - 1)
        total, count = total + loss.item() * n, count + n
    model.train(was_training)
    return total / count


def perplexity(loss: float) -> float:
    """exp(loss): the effective number of equally likely next pieces."""
    return math.exp(loss)


def generate_text(
    model: nn.Module,
    tokenizer: WordTokenizer,
    prompt: str,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    allow_unk: bool = False,
) -> str:
    """The prompt followed by a sampled continuation.

    Pieces of the prompt outside the vocabulary are read as the unknown token; the prompt
    text itself is returned as given. The continuation never contains the unknown token
    unless `allow_unk` (it stands for thousands of rare words, so sampling it says nothing).

    Raises:
        DlcError: the prompt is empty.
    """
    ids = tokenizer.encode(prompt)
    if not ids:
        raise DlcError("the prompt is empty: give at least one word, e.g. 'ROMEO:'")
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    prompt_ids = torch.tensor([ids], device=device)
    banned = () if allow_unk else (tokenizer.unk_id,)
    out = generate(
        model, prompt_ids, max_new_tokens, temperature, top_k, top_p, True, generator, banned
    )
    return prompt + tokenizer.decode(out[0, len(ids) :].tolist())


def save_shakespeare_model(path: Path, model: nn.Module, tokenizer: WordTokenizer) -> Path:
    """Write the model, its config and its tokenizer to one file, atomically."""
    cfg = config_of(model)
    if len(tokenizer) != cfg.d_vocab:
        raise DlcError(f"tokenizer has {len(tokenizer)} pieces but the model {cfg.d_vocab}")
    state = {
        "format": CHECKPOINT_FORMAT,
        "config": dataclasses.asdict(cfg),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "tokenizer": tokenizer.to_dict(),
    }
    with atomic_open(path, "wb") as f:
        torch.save(state, f)
    return path


def load_shakespeare_model(
    path: str | Path, device: str | torch.device = "cpu", fast_path: bool = False
) -> tuple[Transformer, WordTokenizer]:
    """The model (eval mode) and tokenizer saved by the Shakespeare experiment.

    Args:
        path: the checkpoint file, or a run folder holding `model.pt`.
        device: where to put the model.
        fast_path: use fused kernels (faster, but hook_pattern sees no attention patterns).

    Raises:
        DlcError: no such file, not a checkpoint of this kind, or weights that do not fit
            the stored config or tokenizer.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise DlcError(f"no model at {path}: train one with `dlc run shakespeare --preset quick`")
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise DlcError(f"{path} is not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise DlcError(f"{path} is not a Shakespeare model checkpoint (format {CHECKPOINT_FORMAT})")
    try:
        cfg = TransformerConfig(**{**state["config"], "fast_path": fast_path})
    except (TypeError, AssertionError) as e:
        raise DlcError(f"{path} holds an invalid model config: {e}") from None
    tokenizer = WordTokenizer.from_dict(state["tokenizer"])
    if len(tokenizer) != cfg.d_vocab:
        raise DlcError(
            f"{path}: its tokenizer has {len(tokenizer)} pieces but its model expects "
            f"d_vocab={cfg.d_vocab}; the file mixes two runs, retrain or re-save it"
        )
    model = Transformer(cfg)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()[:3]
        raise DlcError(f"{path}: weights do not fit its config: {' '.join(first)}") from None
    return model.to(device).eval(), tokenizer
